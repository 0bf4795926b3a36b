"""Run whole transfers under faults and prove how each case ended.

:func:`transfer` is ``runtime.transfer`` with a client of our own (a small
retry policy, a sleep recorder). :func:`prove_recovered` shows that the target
equals the source two ways (rows read with each database's own driver and
compared as text value by value, see :mod:`tests.faults.compare`; the package's
validation green with nothing to repair) and records the case in the report;
:func:`fail_then_recover` asserts a clean failure, the state it leaves, and a
re-run without the fault that recovers.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from include.migration.orchestration import task_resources
from include.migration.source.client import RemoteClient, RetryPolicy
from include.migration.steps.transfer import run_transfer
from include.migration.steps.validation.validator import validate_data_type
from tests.conftest import mariadb_connection, target_database_name
from tests.faults.compare import Comparison, compare, read_source, read_target
from tests.faults.report import FAILED_CLEANLY, RECOVERED, CaseRecord, record_after
from tests.support import state_rows

# Fast backoff; a read timeout far above a healthy page's latency, so only injected slowness trips it.
FAST = RetryPolicy(attempts=4, base_seconds=0.01, max_seconds=1.0, connect_timeout=2.0, read_timeout=5.0)


class SleepRecorder:
    """Stands in for ``time.sleep`` in the client: records each wait instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@dataclasses.dataclass(frozen=True)
class Run:
    """A finished transfer and what its client went through."""

    result: dict[str, Any]
    retries: int
    requests: int


def transfer(
    installation_id: str,
    data_type: str,
    *,
    policy: RetryPolicy = FAST,
    sleep: Callable[[float], None] | None = None,
    run_id: str = "faults",
) -> Run:
    """One whole transfer of ``data_type`` from its checkpoint, as the transfer task runs it."""
    config, installation, profile = task_resources.resolve(installation_id)
    spec = config.data_type(data_type)
    client = RemoteClient.from_conn_id(
        installation.remote_conn_id, installation.id, policy=policy, sleep=sleep or SleepRecorder()
    )
    try:
        with task_resources.target_database(installation, profile) as db:
            result = run_transfer(
                installation=installation,
                data_type=spec,
                client=client,
                db=db,
                profile=profile,
                run_id=run_id,
                budget_seconds=installation.transfer_budget_seconds,
            )
    finally:
        client.close()
    return Run(result.as_dict(), client.retries, client.requests_sent)


def wait_for_rows_copied(installation_id: str, data_type: str, rows: int, timeout: float = 30.0) -> None:
    """Block until the state table says ``rows`` rows of ``data_type`` are committed (checkpoint saved)."""
    deadline = time.monotonic() + timeout
    while True:
        state = state_rows(installation_id).get(f"data_type:{data_type}")
        if state is not None and state["rows_copied"] >= rows:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{installation_id}/{data_type}: {rows} rows not committed within {timeout} s")
        time.sleep(0.01)


def _target_row_count(installation_id: str, table: str) -> int:
    conn = mariadb_connection(target_database_name(installation_id))
    try:
        cursor = conn.cursor()
        cursor.execute(f"SELECT COUNT(*) FROM `{table}`")
        return int(cursor.fetchone()[0])
    finally:
        conn.close()


def assert_validation_green(installation_id: str, data_type: str) -> None:
    """The package's own validation must find the copy green with nothing to repair."""
    config, installation, profile = task_resources.resolve(installation_id)
    spec = config.data_type(data_type)
    client = RemoteClient.from_conn_id(installation.remote_conn_id, installation.id, policy=FAST)
    try:
        with task_resources.target_database(installation, profile) as db:
            result = validate_data_type(
                installation_id=installation_id,
                spec=spec,
                client=client,
                capabilities=list(client.status().get("capabilities") or []),
                db=db,
                profile=profile,
                grace_seconds=0,
                repair=False,
            )
    finally:
        client.close()
    assert result.green, result.as_dict()
    assert (result.mismatched_chunks, result.repaired_rows, result.deleted_rows) == ([], 0, 0)
    assert result.rows_source == result.rows_target


def prove_recovered(
    case: str,
    installation_id: str,
    data_types: list[str],
    source_url: str,
    *,
    outcome: str = RECOVERED,
    detail: str = "",
    check: Callable[[], None] | None = None,
) -> CaseRecord:
    """Assert the target equals the source for ``data_types`` by value, then record the case.

    ``check`` holds the case's own last assertions: the case is recorded as FAILED when they fail too.
    """
    config = task_resources.resolve(installation_id)[0]
    counts: list[Comparison] = []
    for name in data_types:
        spec = config.data_type(name)
        source = read_source(source_url, spec, installation_id)
        counts.append(compare(source, read_target(installation_id, spec), spec.key_index))
    record = CaseRecord(
        case, outcome,
        rows_source=sum(c.origin_rows for c in counts), rows_target=sum(c.copy_rows for c in counts),
        rows_lost=sum(c.lost for c in counts), rows_duplicated=sum(c.duplicated for c in counts),
        detail=detail, rows_different=sum(c.different for c in counts),
    )

    def assertions() -> None:
        if check is not None:
            check()  # first: the validation below sends requests of its own through the same proxy
        assert all(c.equal for c in counts), (record, counts)
        for name in data_types:
            assert_validation_green(installation_id, name)

    return record_after(record, assertions)


def assert_clean_error(
    error: BaseException, expected: type[BaseException], installation_id: str, data_type: str, next_step: str
) -> None:
    """The exact type, and a message naming the installation, the data type and what to do next."""
    assert type(error) is expected, f"{type(error).__name__}: {error}"
    message = str(error)
    assert f"installation {installation_id!r}" in message, message
    assert f"data type {data_type!r}" in message, message
    assert re.search(next_step, message), f"no next step /{next_step}/ in: {message}"


@dataclasses.dataclass(frozen=True)
class CleanFailure:
    """The error a faulty transfer failed with, and the case as recorded after the re-run recovered."""

    error: BaseException
    record: CaseRecord


def fail_then_recover(
    case: str,
    *,
    installation_id: str,
    data_type: str,
    source_url: str,
    expected: type[BaseException],
    next_step: str,
    committed_rows: int,
    total_rows: int,
    fault_off: Callable[[], None],
    recorded: bool = True,
    rows_written: int | None = None,
    check: Callable[[], None] | None = None,
) -> CleanFailure:
    """Run with the fault: a clean failure at ``committed_rows``; then without it: a full recovery.

    ``rows_written`` is what the target holds after the failure when rows landed past the checkpoint;
    ``check`` is passed on to :func:`prove_recovered`.
    """
    with pytest.raises(Exception) as caught:
        transfer(installation_id, data_type)
    assert_clean_error(caught.value, expected, installation_id, data_type, next_step)
    state = state_rows(installation_id)[f"data_type:{data_type}"]
    # A dead target connection cannot record the failure: the row stays IN_PROGRESS, which a re-run takes over.
    assert state["status"] == ("FAILED" if recorded else "IN_PROGRESS")
    if recorded:
        assert state["last_error"].startswith(f"{expected.__name__}: "), state["last_error"]
    assert state["rows_copied"] == committed_rows
    spec = task_resources.resolve(installation_id)[0].data_type(data_type)
    written = committed_rows if rows_written is None else rows_written
    assert _target_row_count(installation_id, spec.target_table) == written
    fault_off()
    rerun = transfer(installation_id, data_type, run_id="faults-rerun")
    assert rerun.result["done"] is True
    assert rerun.result["rows"] == total_rows - committed_rows  # resumed exactly after the checkpoint
    after = state_rows(installation_id)[f"data_type:{data_type}"]
    assert (after["status"], after["last_error"]) == ("IN_PROGRESS", None)
    record = prove_recovered(
        case, installation_id, [data_type], source_url, outcome=FAILED_CLEANLY, detail=expected.__name__, check=check
    )
    return CleanFailure(caught.value, record)
