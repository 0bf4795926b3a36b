"""Faults on the rollback's write path: rows sent back to the remote (``reverse_<installation>``'s task).

``fault_back`` is copied from a source of its own (reverse passes write into
it), then its target is changed: 250 rows updated, 30 inserted, 50 deleted.
A reverse pass sends 280 rows and 50 deletes back in batches of 100 (three
batches, the deletes in the first) through the fault proxy. Every case ends
with the remote equal to the target, compared value by value.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from include.migration.configuration.config import MigrationConfig
from include.migration.orchestration import runtime, task_resources
from include.migration.source.client import RemoteClient, RemoteFatalError
from include.migration.steps.reverse_sync import ReverseResult, reverse_sync_data_type
from include.reference_remote.server import RunningServer
from tests.conftest import DB_PREFIX, ROOT, mariadb_connection, target_database_name
from tests.faults.compare import TextRow, compare, read_source, read_target
from tests.faults.conftest import ROWS, wire_installation
from tests.faults.harness import FAST, SleepRecorder, assert_clean_error, assert_validation_green, transfer
from tests.faults.proxy import AnswerLost, AsInstallation, FaultProxy, Rule, Stall, Status
from tests.faults.report import FAILED_CLEANLY, RECOVERED, CaseRecord, record_after
from tests.faults.services import seeded_source, serve_remote
from tests.support import state_rows

INSTALLATION, OTHER, DATA_TYPE = "fault_back", "fault_other", "users"
UPDATED, INSERTED, DELETED = 250, 30, 50
TIMEOUT = 60.0


@dataclasses.dataclass(frozen=True)
class World:
    """The reverse cases' own source, remote and fault proxy."""

    source_url: str
    tokens: dict[str, str]
    remote: RunningServer
    proxy: FaultProxy


@pytest.fixture(scope="module")
def world(fault_config: MigrationConfig) -> Iterator[World]:
    url = seeded_source(f"{DB_PREFIX}_faults_reverse_source", fault_config.data_types, (INSTALLATION, OTHER), ROWS)
    tokens = {i: secrets.token_urlsafe(24) for i in (INSTALLATION, OTHER)}
    remote = serve_remote(url, fault_config.data_types, tokens)
    proxy = FaultProxy(remote.base_url)
    yield World(url, tokens, remote, proxy)
    proxy.close()
    remote.stop()


_cases = iter(range(1, 1_000))


@pytest.fixture
def changed_target(monkeypatch: pytest.MonkeyPatch, fault_config: MigrationConfig, world: World) -> Iterator[World]:
    """``fault_back`` copied through the proxy into a fresh target, then changed there (see the module docs)."""
    world.proxy.clear()
    world.proxy.errors.clear()
    wire_installation(monkeypatch, fault_config, world.tokens, INSTALLATION, world.proxy.port)
    runtime.prepare_target(INSTALLATION)
    assert transfer(INSTALLATION, DATA_TYPE).result["done"]
    spec = fault_config.data_type(DATA_TYPE)
    assert read_target(INSTALLATION, spec) == read_source(world.source_url, spec, INSTALLATION)
    case = next(_cases)
    conn = mariadb_connection(target_database_name(INSTALLATION))
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT id FROM users ORDER BY id")
        ids = [row[0] for row in cursor.fetchall()]
        marks = ", ".join(["%s"] * UPDATED)
        cursor.execute(f"UPDATE users SET display_name = %s, balance = balance + 1 WHERE id IN ({marks})",
                       [f"changed in the target ({case})", *ids[:UPDATED]])
        cursor.execute(f"DELETE FROM users WHERE id IN ({', '.join(['%s'] * DELETED)})", ids[-DELETED:])
        for n in range(INSERTED):
            cursor.execute(
                "INSERT INTO users (id, email, display_name, balance, created_at, is_active, profile) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (10_000_000 + case * 1_000 + n, f"new{case}-{n}@example.test", "new in the target", "12.34",
                 "2026-11-30 12:00:00.123456", 1, '{"added": true}'),
            )
        conn.commit()
    finally:
        conn.close()
    yield world
    world.proxy.clear()
    assert world.proxy.errors == [], "a scripted fault broke instead of answering"


@dataclasses.dataclass(frozen=True)
class Pass:
    result: ReverseResult
    retries: int


def reverse_pass(run_id: str = "reverse-faults") -> Pass:
    """One reverse pass of ``fault_back``/users as the task runs it, with the fault suite's fast retry policy."""
    config, installation, profile = task_resources.resolve(INSTALLATION)
    client = RemoteClient.from_conn_id(installation.remote_conn_id, INSTALLATION, policy=FAST, sleep=SleepRecorder())
    try:
        with task_resources.target_database(installation, profile) as db:
            result = reverse_sync_data_type(
                installation_id=INSTALLATION, spec=config.data_type(DATA_TYPE), client=client,
                capabilities=list(client.status()["capabilities"]), db=db, run_id=run_id,
                batch_rows=installation.reverse_batch_rows,
            )
    finally:
        client.close()
    return Pass(result, client.retries)


def _write(batch: int, fault: Any, times: int | None = 1) -> Rule:
    return Rule(fault, data_type=DATA_TYPE, page=batch, times=times, write=True)


def _left_to_send(world: World) -> int:
    """Target rows the remote lacks or holds differently, plus remote rows the target no longer has."""
    spec = task_resources.resolve(INSTALLATION)[0].data_type(DATA_TYPE)
    counts = compare(read_target(INSTALLATION, spec), read_source(world.source_url, spec, INSTALLATION), spec.key_index)
    return counts.lost + counts.different


def prove_reversed(case: str, world: World, others_before: list[TextRow], *, outcome: str = RECOVERED,
                   detail: str = "") -> CaseRecord:
    """The remote equals the target by value (the target is the origin now), the other installation is untouched."""
    spec = task_resources.resolve(INSTALLATION)[0].data_type(DATA_TYPE)
    counts = compare(read_target(INSTALLATION, spec), read_source(world.source_url, spec, INSTALLATION), spec.key_index)
    record = CaseRecord(f"reverse: {case}", outcome, counts.origin_rows, counts.copy_rows, counts.lost,
                        counts.duplicated, detail, counts.different)

    def assertions() -> None:
        assert counts.equal, (record, counts)
        assert _other_rows(world) == others_before
        assert_validation_green(INSTALLATION, DATA_TYPE)

    return record_after(record, assertions)


def _other_rows(world: World) -> list[TextRow]:
    return read_source(world.source_url, task_resources.resolve(INSTALLATION)[0].data_type(DATA_TYPE), OTHER)


def _reverse_state() -> dict[str, Any]:
    return state_rows(INSTALLATION)[f"reverse:{DATA_TYPE}"]


def test_5xx_mid_batch_is_retried_without_duplicates(changed_target: World) -> None:
    """A 502 before batch 2 reaches the remote; batch 3 committed but its answer lost (503): both sent again."""
    world = changed_target
    others = _other_rows(world)
    world.proxy.script(_write(2, Status(502)), _write(3, AnswerLost(503)))
    done = reverse_pass()
    assert (done.result.green, done.result.rows_sent, done.result.keys_deleted) == (True, UPDATED + INSERTED, DELETED)
    assert world.proxy.hits() == 2 and done.retries == 2
    state = _reverse_state()
    assert (state["status"], state["rows_copied"], state["pages_copied"]) == ("DONE", UPDATED + INSERTED + DELETED, 3)
    prove_reversed("5xx mid-pass: 502 before batch 2, batch 3 committed and its answer lost (503)", world, others,
                   detail="2 retries, batch 3 upserted twice")


def test_process_killed_mid_reverse_pass_resumes(changed_target: World) -> None:
    """SIGKILL while batch 2's answer is half received (batch 2 committed, batch 1 recorded): the re-run sends the rest."""
    world = changed_target
    others = _other_rows(world)
    stall = Stall()
    world.proxy.script(_write(2, stall))
    process = subprocess.Popen(
        [sys.executable, "-m", "include.migration.views.cli", "reverse", INSTALLATION, DATA_TYPE, "--run-id", "reverse-killed"],
        env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert stall.reached.wait(TIMEOUT), "the reverse pass never sent batch 2"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=TIMEOUT)
        assert process.returncode == -signal.SIGKILL, process.stderr.read() if process.stderr else ""
    finally:
        stall.release.set()
        if process.poll() is None:
            process.kill()
            process.wait()
    state = _reverse_state()
    assert (state["status"], state["rows_copied"], state["pages_copied"]) == ("IN_PROGRESS", 100 + DELETED, 1)
    assert '"round": 1' in state["checkpoint"]
    assert _left_to_send(world) == UPDATED + INSERTED - 200  # batches 1 and 2 are at the remote, batch 3 is not
    world.proxy.clear()
    # The same run again (an Airflow retry): it takes the dead try's lease over at once and compares again.
    again = runtime.reverse_sync(INSTALLATION, DATA_TYPE, "reverse-killed")
    assert (again["green"], again["rows_sent"], again["keys_deleted"]) == (True, UPDATED + INSERTED - 200, 0)
    state = _reverse_state()
    assert (state["status"], state["rows_copied"], state["pages_copied"]) == ("DONE", UPDATED + INSERTED + DELETED - 100, 2)
    prove_reversed("reverse process SIGKILLed mid-pass (batch 2 committed, its answer half received)", world, others,
                   detail="re-run sent the 80 rows left")


def test_token_of_another_installation_writes_nothing(changed_target: World) -> None:
    """Every batch sent with fault_other's token: 403, nothing written for either installation; then recovered."""
    world = changed_target
    others = _other_rows(world)
    spec = task_resources.resolve(INSTALLATION)[0].data_type(DATA_TYPE)
    before = read_source(world.source_url, spec, INSTALLATION)
    world.proxy.script(_write(1, AsInstallation(OTHER, world.tokens[OTHER]), times=None))
    with pytest.raises(RemoteFatalError) as caught:
        reverse_pass()
    assert_clean_error(caught.value, RemoteFatalError, INSTALLATION, DATA_TYPE, r"HTTP 403.*check the connection's token")
    assert world.proxy.hits() == 1  # refused, not retried
    assert read_source(world.source_url, spec, INSTALLATION) == before
    assert _other_rows(world) == others
    state = _reverse_state()
    assert state["status"] == "FAILED" and state["last_error"].startswith("RemoteFatalError: "), state
    assert (state["rows_copied"], state["pages_copied"]) == (0, 0)
    world.proxy.clear()
    done = reverse_pass(run_id="reverse-faults-rerun")
    assert (done.result.green, done.result.rows_sent, done.result.keys_deleted) == (True, UPDATED + INSERTED, DELETED)
    assert _reverse_state()["status"] == "DONE"
    prove_reversed("another installation's token on every batch written back", world, others, outcome=FAILED_CLEANLY,
                   detail="403, nothing written; re-run recovered")
