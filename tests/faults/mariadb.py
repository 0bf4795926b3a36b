"""MariaDB helpers of the fault suite: scratch databases, dropped connections, a frozen server."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import fresh_mariadb_database, mariadb_connection

# The longest we freeze the shared server: other suites run against it too.
MAX_FREEZE_SECONDS = 3.0


fresh_database = fresh_mariadb_database


def execute(database: str, sql: str) -> None:
    conn = mariadb_connection(database)
    try:
        conn.query(sql)
    finally:
        conn.close()


def kill_connections(database: str) -> int:
    """Kill every server connection using ``database`` but ours: what a server restart does to clients."""
    conn = mariadb_connection()
    try:
        cursor = conn.cursor()
        cursor.execute(
            "SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()", (database,)
        )
        ids = [row[0] for row in cursor.fetchall()]
        for thread_id in ids:
            cursor.execute(f"KILL CONNECTION {int(thread_id)}")
        return len(ids)
    finally:
        conn.close()


def server_pid() -> int:
    """The pid of the MariaDB server on 127.0.0.1:3306 (from its pid file)."""
    conn = mariadb_connection()
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT @@pid_file")
        pid = int(Path(cursor.fetchone()[0]).read_text().strip())
    finally:
        conn.close()
    name = Path(f"/proc/{pid}/comm").read_text().strip()
    if name not in ("mariadbd", "mysqld"):
        raise RuntimeError(f"pid {pid} from the MariaDB pid file is {name!r}, not the server")
    return pid


@dataclasses.dataclass
class Freeze:
    """A frozen server and the process that will thaw it."""

    pid: int
    thawer: subprocess.Popen[bytes]
    started: float

    def thaw(self) -> None:
        """Wait for the scheduled thaw and make sure the server runs again."""
        try:
            self.thawer.wait(timeout=MAX_FREEZE_SECONDS + 10)
        finally:
            os.kill(self.pid, signal.SIGCONT)


def freeze_server(seconds: float) -> Freeze:
    """Freeze the server (SIGSTOP) now; it is thawed (SIGCONT) after ``seconds`` whatever happens.

    The thaw runs in its own process, started before the freeze, so the shared
    server resumes even if this test process dies while it is frozen.
    """
    if not 0 < seconds <= MAX_FREEZE_SECONDS:
        raise ValueError(f"freeze at most {MAX_FREEZE_SECONDS} s, not {seconds}")
    pid = server_pid()
    thawer = subprocess.Popen(["sh", "-c", f"sleep {seconds}; kill -CONT {pid}"], start_new_session=True)
    os.kill(pid, signal.SIGSTOP)
    return Freeze(pid, thawer, time.monotonic())


def wait_until_serving(timeout: float = 30.0) -> None:
    """Return once the server answers a query again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = mariadb_connection()
            conn.query("SELECT 1")
            conn.close()
            return
        except BaseException:  # noqa: BLE001 - mariadb_connection fails the test with pytest.fail
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
