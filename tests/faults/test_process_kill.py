"""The transfer process killed with SIGKILL mid-page and inside the checkpoint write; the re-run recovers."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

from tests.conftest import ROOT, mariadb_connection, target_database_name
from tests.faults.conftest import ROWS
from tests.faults.harness import prove_recovered, transfer
from tests.faults.proxy import FaultProxy, Rule, Stall
from tests.support import state_rows

TIMEOUT = 60.0


def _spawn(module: str, **env: str) -> subprocess.Popen[str]:
    """``python -m module transfer fault_main users`` with this process's connections and configuration."""
    return subprocess.Popen(
        [sys.executable, "-m", module, "transfer", "fault_main", "users"],
        env=dict(os.environ, PYTHONPATH=str(ROOT), **env),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=TIMEOUT)
    assert process.returncode == -signal.SIGKILL, process.stderr.read() if process.stderr else ""


def _wait_for_line(process: subprocess.Popen[str], expected: str) -> bool:
    """Whether ``process`` prints ``expected`` as a line within the timeout (its logs share stdout)."""
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            if lines.get(timeout=0.1).strip() == expected:
                return True
        except queue.Empty:
            if process.poll() is not None:
                return False
    return False


def _checkpoint() -> tuple[object, int]:
    state = state_rows("fault_main").get("data_type:users")
    if not state or state["checkpoint"] is None:
        return None, 0
    return json.loads(state["checkpoint"]), int(state["rows_copied"])


def _rows_in_target() -> int:
    conn = mariadb_connection(target_database_name("fault_main"))
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT COUNT(*) FROM users")
        return int(cursor.fetchone()[0])
    finally:
        conn.close()


def test_sigkill_mid_page(fault_main: str, proxy: FaultProxy, fault_source: str) -> None:
    """Killed while page 3 is half received (pages 1-2 committed): the re-run fetches page 3 again."""
    stall = Stall()
    proxy.script(Rule(stall, data_type="users", page=3))
    process = _spawn("include.migration.views.cli")
    try:
        assert stall.reached.wait(TIMEOUT), "the transfer never asked for page 3"
        deadline = time.monotonic() + TIMEOUT
        while _checkpoint()[0] != 1000 and time.monotonic() < deadline:
            time.sleep(0.02)
        _kill(process)
    finally:
        stall.release.set()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert _checkpoint() == (1000, 1000)
    assert _rows_in_target() == 1000
    proxy.clear()
    run = transfer(fault_main, "users", run_id="after-kill")
    assert run.result["done"] and run.result["rows"] == ROWS - 1000  # resumed exactly after the checkpoint
    prove_recovered("transfer process SIGKILLed mid-page (page 3 half received)", fault_main, ["users"], fault_source,
                    detail="re-run resumed at 1000")


def test_sigkill_inside_the_checkpoint_write(fault_main: str, fault_source: str) -> None:
    """Killed after page 2's rows were written but before its checkpoint: the re-run replays page 2."""
    process = _spawn("tests.faults.paused_cli", FAULT_PAUSE_AT_CHECKPOINT="2")
    try:
        assert _wait_for_line(process, "paused at checkpoint 2"), "the transfer never reached its second checkpoint"
        assert _rows_in_target() == 1000 and _checkpoint() == (500, 500)
        _kill(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert _rows_in_target() == 1000 and _checkpoint() == (500, 500)
    run = transfer(fault_main, "users", run_id="after-kill")
    assert run.result["done"] and run.result["rows"] == ROWS - 500  # page 2 replayed, harmlessly
    prove_recovered("transfer process SIGKILLed inside the checkpoint write (page 2)", fault_main, ["users"],
                    fault_source, detail="re-run replayed page 2")
