"""Faults in the target: rows it rejects, a frozen server, connections dropped as by a restart."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from include.migration.orchestration import runtime
from include.migration.target.state import StateStore
from include.migration.target.writer import RowTooLargeError, TargetUnavailableError, TargetWriteError
from tests.conftest import target_database_name
from tests.faults.conftest import ROWS
from tests.faults.harness import fail_then_recover, prove_recovered, transfer, wait_for_rows_copied
from tests.faults.mariadb import Freeze, execute, freeze_server, kill_connections, wait_until_serving
from tests.faults.page_edits import set_cell
from tests.faults.proxy import Before, EditPage, FaultProxy, Rule

FREEZE_SECONDS = 2.0


def test_a_row_too_large_for_the_statement_limit_fails_cleanly(
    wire: Callable[..., str], proxy: FaultProxy, fault_source: str
) -> None:
    wire("fault_small")
    runtime.prepare_target("fault_small")
    huge = {"blob": "x" * 20_000}  # one row over the installation's 16 KiB statement cap
    proxy.script(Rule(EditPage(set_cell("profile", 0, huge)), data_type="users", page=2, times=None))
    failure = fail_then_recover(
        "row of 20 KB over a 16 KiB statement limit (page 2)",
        installation_id="fault_small", data_type="users", source_url=fault_source,
        expected=RowTooLargeError, next_step=r"raise max_statement_bytes .*then re-run",
        committed_rows=500, total_rows=ROWS, fault_off=proxy.clear,
    )
    assert "key 501:" in str(failure.error) and "over the target limit of 16384 bytes" in str(failure.error)


def test_a_value_out_of_range_for_the_target_column_fails_cleanly(fault_main: str, fault_source: str) -> None:
    database = target_database_name(fault_main)
    execute(database, "ALTER TABLE users MODIFY balance DECIMAL(6,2)")  # narrowed by hand in the target
    failure = fail_then_recover(
        "target column narrowed (balance decimal(6,2)): out of range",
        installation_id=fault_main, data_type="users", source_url=fault_source,
        expected=TargetWriteError, next_step=r"fix the target column or the value at the source, then re-run",
        committed_rows=0, total_rows=ROWS,
        fault_off=lambda: execute(database, "ALTER TABLE users MODIFY balance DECIMAL(12,2)"),
    )
    assert "Out of range value for column 'balance'" in str(failure.error)


def test_mariadb_frozen_mid_transfer_is_waited_out(fault_main: str, proxy: FaultProxy, fault_source: str) -> None:
    """SIGSTOP the server while page 1 is written and page 2 fetched; it resumes after 2 s and the copy completes."""
    freezes: list[Freeze] = []
    proxy.script(Rule(Before(lambda: freezes.append(freeze_server(FREEZE_SECONDS))), data_type="users", page=2))
    started = time.monotonic()
    try:
        run = transfer(fault_main, "users")
    finally:
        for freeze in freezes:
            freeze.thaw()
        wait_until_serving()
    assert len(freezes) == 1
    assert time.monotonic() - started >= FREEZE_SECONDS * 0.9  # the transfer did wait for the server
    assert run.result["done"] and run.result["rows"] == ROWS
    prove_recovered("MariaDB frozen (SIGSTOP) 2 s mid-transfer, then resumed", fault_main, ["users"], fault_source)


def test_target_connection_dropped_mid_transfer_fails_cleanly(
    fault_main: str, proxy: FaultProxy, fault_source: str
) -> None:
    """The server drops the transfer's connection (as a restart does) while page 2 is on its way."""
    database = target_database_name(fault_main)
    killed: list[int] = []

    def drop_after_page_1() -> None:
        # Page 1's rows and checkpoint land first, so page 2's insert is what meets the dead connection.
        wait_for_rows_copied(fault_main, "users", 500)
        killed.append(kill_connections(database))

    proxy.script(Rule(Before(drop_after_page_1), data_type="users", page=2))
    fail_then_recover(
        "target connection dropped mid-transfer (server restart)",
        installation_id=fault_main, data_type="users", source_url=fault_source,
        expected=TargetUnavailableError, next_step=r"re-run when the target is reachable",
        committed_rows=500, total_rows=ROWS, fault_off=proxy.clear, recorded=False,
    )
    assert killed == [1]


def test_target_connection_dropped_at_the_checkpoint_write_fails_cleanly(
    fault_main: str, fault_source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page 2's rows are written, then the connection dies before its checkpoint: the re-run replays page 2."""
    database = target_database_name(fault_main)
    save_checkpoint = StateStore.save_checkpoint
    calls: list[int] = []

    def dropped_before_the_second(self: StateStore, *args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            kill_connections(database)
        save_checkpoint(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(StateStore, "save_checkpoint", dropped_before_the_second)
    failure = fail_then_recover(
        "target connection dropped at the checkpoint write",
        installation_id=fault_main, data_type="users", source_url=fault_source,
        expected=TargetUnavailableError, next_step=r"a re-run replays",
        committed_rows=500, total_rows=ROWS,
        fault_off=lambda: monkeypatch.setattr(StateStore, "save_checkpoint", save_checkpoint),
        recorded=False, rows_written=1000,
    )
    assert "checkpoint 1000" in str(failure.error)
