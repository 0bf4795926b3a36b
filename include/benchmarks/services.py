"""The database servers the bench needs: MariaDB and PostgreSQL on loopback, started when they are down."""

from __future__ import annotations

import os
import subprocess
import time

from include.benchmarks.common import say


def ensure_services() -> None:
    """MariaDB and PostgreSQL on loopback; start them as .ci/run does when they are down."""

    def up(command: list[str]) -> bool:
        return subprocess.run(command, check=False, capture_output=True).returncode == 0

    maria = ["mariadb-admin", "-h", "127.0.0.1", "-u", "root", "ping"]
    pg = ["pg_isready", "-h", "127.0.0.1", "-p", "5432"]
    if not up(maria):
        say("starting MariaDB")
        subprocess.run(
            ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"], check=False
        )
    if not up(pg):
        say("starting PostgreSQL")
        version = max(os.listdir("/etc/postgresql"))
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False)
    for _ in range(60):
        if up(maria) and up(pg):
            return
        time.sleep(1)
    raise SystemExit("bench: MariaDB (127.0.0.1:3306) or PostgreSQL (127.0.0.1:5432) is not reachable")
