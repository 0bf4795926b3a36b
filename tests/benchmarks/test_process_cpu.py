"""The /proc CPU accounting of the bench: parsing, and CPU seconds that grow with work."""

import os
import subprocess
import sys
import time

from include.benchmarks.process_cpu import (
    ProcStat,
    cores_of,
    cpu_between,
    named_ticks,
    parse_stat,
    read_stat,
    seconds,
    snapshot,
    tree_ticks,
)


def _busy(cpu_seconds: float) -> None:
    started = time.process_time()
    while time.process_time() - started < cpu_seconds:
        sum(range(1000))


def test_a_stat_line_with_spaces_and_parentheses_in_the_name_parses():
    line = "4242 (we (ird) name) S 17 4242 4242 0 -1 4194304 100 0 0 0 250 50 7 3 20 0 1 0 3354 0 0"
    assert parse_stat(line) == ProcStat(pid=4242, name="we (ird) name", ppid=17, own_ticks=300, reaped_ticks=10)


def test_this_process_cpu_seconds_grow_after_busy_work():
    before = read_stat(os.getpid())
    _busy(0.3)
    after = read_stat(os.getpid())
    assert before is not None and after is not None
    assert after.pid == os.getpid() and after.ppid == os.getppid()
    assert seconds(after.own_ticks - before.own_ticks) >= 0.2


def test_a_tree_counts_its_reaped_children():
    before = read_stat(os.getpid())
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    subprocess.run([sys.executable, "-c", burn], check=True)
    after = read_stat(os.getpid())
    assert before is not None and after is not None
    assert seconds(after.reaped_ticks - before.reaped_ticks) >= 0.2
    procs = {after.pid: after}
    assert tree_ticks(procs, after.pid) == after.own_ticks + after.reaped_ticks
    assert tree_ticks(procs, -1) == 0


def test_a_named_group_adds_what_its_top_process_reaped_once():
    procs = {
        1: ProcStat(1, "init", 0, 5, 1000),
        10: ProcStat(10, "postgres", 1, 100, 40),  # the postmaster: its reaped backends count
        11: ProcStat(11, "postgres", 10, 20, 7),  # a backend: its own reaped children are already in 10's
        12: ProcStat(12, "mariadbd", 1, 300, 0),
    }
    assert named_ticks(procs, {"postgres"}) == 100 + 20 + 40
    assert named_ticks(procs, {"mariadbd", "mysqld"}) == 300


BURN_THEN_WAIT = """
import sys, time
started = time.process_time()
while time.process_time() - started < 0.5:
    pass
print("done", flush=True)
sys.stdin.read()
"""


def test_snapshots_of_a_busy_remote_differ_by_its_cpu():
    child = subprocess.Popen(
        [sys.executable, "-c", BURN_THEN_WAIT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        before = snapshot(child.pid)
        assert child.stdout is not None and child.stdout.readline() == "done\n"
        after = snapshot(child.pid)
    finally:
        child.kill()
        child.wait()
    spent = cpu_between(before, after)
    assert set(spent) == {"remote", "postgres", "mariadb"}
    assert spent["remote"] >= 0.3 and spent["postgres"] >= 0 and spent["mariadb"] >= 0
    assert cores_of({"remote": 1.0}, 2.0) == {"remote": 0.5}


def test_a_restarted_remote_counts_from_its_new_start():
    before = {"remote": 50.0, "postgres": 1.0, "mariadb": 2.0, "remote_pid": 10.0}
    after = {"remote": 3.0, "postgres": 1.5, "mariadb": 2.0, "remote_pid": 11.0}
    assert cpu_between(before, after) == {"remote": 3.0, "postgres": 0.5, "mariadb": 0.0}
