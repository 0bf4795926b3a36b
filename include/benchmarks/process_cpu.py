"""CPU seconds per process group, from ``/proc/<pid>/stat``: which process binds while a case runs.

The runner snapshots, before and after each case (outside the case's own time),
the cumulative ``utime + stime`` of the reference remote (with its children),
PostgreSQL and MariaDB; the difference is what each spent during the case.
PostgreSQL's backends come and go, so the postmaster's ``cutime + cstime`` (the
CPU of the children it reaped) is added: a backend that ends during the case
moves its seconds from the live sum into that field, one that starts and ends
within the case appears only there. PostgreSQL and MariaDB are shared with
whatever else runs on the machine: their figures include that work too.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
POSTGRES_NAMES = frozenset({"postgres"})
MARIADB_NAMES = frozenset({"mariadbd", "mysqld"})
GROUPS = ("remote", "postgres", "mariadb")


@dataclasses.dataclass(frozen=True)
class ProcStat:
    """One process's figures from ``/proc/<pid>/stat``, CPU in clock ticks."""

    pid: int
    name: str
    ppid: int
    own_ticks: int  # utime + stime (fields 14 + 15)
    reaped_ticks: int  # cutime + cstime (fields 16 + 17): children it waited for


def parse_stat(text: str) -> ProcStat:
    """The fields of one ``/proc/<pid>/stat`` line; the name (field 2) may hold spaces and parentheses."""
    head, _, tail = text.rpartition(")")
    pid_text, _, name = head.partition(" (")
    fields = tail.split()  # fields[0] is field 3 (state)
    return ProcStat(
        pid=int(pid_text),
        name=name,
        ppid=int(fields[1]),
        own_ticks=int(fields[11]) + int(fields[12]),
        reaped_ticks=int(fields[13]) + int(fields[14]),
    )


def read_stat(pid: int | str) -> ProcStat | None:
    """``/proc/<pid>/stat`` parsed; None when the process is gone or unreadable."""
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError, IndexError):
        return None


def all_processes() -> dict[int, ProcStat]:
    """Every process this user can see, by pid."""
    found = (read_stat(entry) for entry in os.listdir("/proc") if entry.isdigit())
    return {stat.pid: stat for stat in found if stat is not None}


def seconds(ticks: int) -> float:
    """Clock ticks as seconds."""
    return ticks / CLOCK_TICKS


def tree_ticks(procs: dict[int, ProcStat], root: int) -> int:
    """CPU ticks of ``root``, its live descendants and the children it reaped (0 when ``root`` is gone)."""
    if root not in procs:
        return 0
    children: dict[int, list[int]] = {}
    for stat in procs.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    total, todo = procs[root].reaped_ticks, [root]
    while todo:
        pid = todo.pop()
        total += procs[pid].own_ticks
        todo.extend(children.get(pid, []))
    return total


def named_ticks(procs: dict[int, ProcStat], names: Iterable[str]) -> int:
    """CPU ticks of every process named one of ``names``, plus what the top ones of them reaped."""
    wanted = frozenset(names)
    group = [s for s in procs.values() if s.name in wanted]
    total = sum(s.own_ticks for s in group)
    # The top process of the group (the postmaster) reaps the others: its reaped ticks are theirs.
    for stat in group:
        parent = procs.get(stat.ppid)
        if parent is None or parent.name not in wanted:
            total += stat.reaped_ticks
    return total


def snapshot(remote_pid: int | None) -> dict[str, float]:
    """Cumulative CPU seconds now: the remote (with children), PostgreSQL, MariaDB; and the remote's pid."""
    procs = all_processes()
    return {
        "remote": seconds(tree_ticks(procs, remote_pid)) if remote_pid else 0.0,
        "postgres": seconds(named_ticks(procs, POSTGRES_NAMES)),
        "mariadb": seconds(named_ticks(procs, MARIADB_NAMES)),
        "remote_pid": float(remote_pid or 0),
    }


def cpu_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds per group between two snapshots (a restarted remote counts from its new start)."""
    spent = {group: max(0.0, after[group] - before[group]) for group in GROUPS}
    if before["remote_pid"] != after["remote_pid"]:
        spent["remote"] = after["remote"]
    return spent


def cores_of(cpu_seconds: dict[str, float], wall_seconds: float) -> dict[str, float]:
    """CPU seconds over wall seconds: how many cores each process kept busy on average."""
    return {k: (v / wall_seconds if wall_seconds > 0 else 0.0) for k, v in cpu_seconds.items()}


class CpuWindow:
    """``with CpuWindow() as w:``: CPU seconds of this process (``client``), PostgreSQL and MariaDB within the block.

    For a case's timed section, seen from inside the case (the runner's snapshots span the whole case process).
    """

    def __enter__(self) -> CpuWindow:
        self.seconds: dict[str, float] = {}
        self._before = snapshot(None)
        self._client = time.process_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        client = time.process_time() - self._client
        spent = cpu_between(self._before, snapshot(None))
        self.seconds = {"client": client, "postgres": spent["postgres"], "mariadb": spent["mariadb"]}
