"""Fixtures of the dashboard tests: real migrations in MariaDB targets, one target that is down, the page's DOM."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest

from include.migration.configuration.config import MigrationConfig
from include.migration.orchestration import runtime
from tests.conftest import mariadb_connection, target_database_name

# Never appears in any output: the unreachable target's password.
UNREACHABLE_PASSWORD = "h3-Dashboard-Secret-7d1f"
GLOBEX_KEPT_USERS = 7_500


def _full_pass(installation: str, run_id: str, config: MigrationConfig) -> None:
    """What one DAG run does, task by task: status, DDL, transfers, validations, convergence."""
    assert runtime.check_status(installation, run_id)["proceed"]
    runtime.prepare_target(installation)
    names = [d.name for d in config.data_types_for(config.installation(installation))]
    transfers = [runtime.transfer(installation, name, run_id) for name in names]
    assert all(t["done"] for t in transfers)
    validations = [runtime.validate(installation, t["data_type"], run_id, t["done"]) for t in transfers]
    runtime.converge(installation, run_id, selected=[], transfers=transfers, validations=validations)


@pytest.fixture(scope="package")
def migrated(remote: str, config: MigrationConfig) -> MigrationConfig:
    """Fresh targets for every installation, then:

    acme: two full passes (the second quiet) -> DONE, all three data types validated twice;
    globex: users copied and validated, then a quarter of them deleted in the target -> behind its source;
    partial: one transfer of comments cut short by its tiny budget -> IN_PROGRESS, never validated;
    the rest: reachable but untouched.
    """
    conn = mariadb_connection()
    for installation in config.installations:
        name = target_database_name(installation.id)
        conn.query(f"DROP DATABASE IF EXISTS `{name}`")
        conn.query(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    conn.close()

    _full_pass("acme", "run-1", config)
    _full_pass("acme", "run-2", config)

    runtime.check_status("globex", "g-1")
    runtime.prepare_target("globex", ["users"])
    users = runtime.transfer("globex", "users", "g-1")
    assert users["done"]
    assert runtime.validate("globex", "users", "g-1", True)["green"]
    globex = mariadb_connection(target_database_name("globex"))
    globex.cursor().execute("DELETE FROM users ORDER BY id DESC LIMIT %s", (10_000 - GLOBEX_KEPT_USERS,))
    globex.close()

    runtime.check_status("partial", "p-1")
    runtime.prepare_target("partial")
    assert not runtime.transfer("partial", "comments", "p-1")["done"]
    return config


@pytest.fixture
def tiny_unreachable(monkeypatch: pytest.MonkeyPatch) -> str:
    """Points installation tiny's target at a closed port on loopback, with a password; returns the password."""
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_MIGRATION_TARGET_TINY",
        json.dumps(
            {
                "conn_type": "mysql",
                "host": "127.0.0.1",
                "port": port,
                "login": "migrator",
                "password": UNREACHABLE_PASSWORD,
                "schema": target_database_name("tiny"),
            }
        ),
    )
    return UNREACHABLE_PASSWORD


def real_counts(config: MigrationConfig) -> dict[tuple[str, str], int | None]:
    """(installation, data type) -> rows in its MariaDB target table, None when the table does not exist."""
    counts: dict[tuple[str, str], int | None] = {}
    for installation in config.installations:
        conn = mariadb_connection(target_database_name(installation.id))
        cursor = conn.cursor()
        for spec in config.data_types_for(installation):
            cursor.execute(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = %s",
                (spec.target_table,),
            )
            exists = cursor.fetchone()[0] == 1
            if exists:
                cursor.execute(f"SELECT COUNT(*) FROM `{spec.target_table}`")
            counts[(installation.id, spec.name)] = cursor.fetchone()[0] if exists else None
        conn.close()
    return counts


def state_table(installation: str) -> dict[str, dict[str, Any]]:
    """The installation's _migration_state rows by job id (read with SQL, not through the package)."""
    import MySQLdb.cursors

    conn = mariadb_connection(target_database_name(installation))
    cursor = conn.cursor(MySQLdb.cursors.DictCursor)
    cursor.execute("SELECT * FROM `_migration_state`")
    rows = {row["job_id"]: row for row in cursor.fetchall()}
    conn.close()
    return rows


def validation_table(installation: str) -> list[dict[str, Any]]:
    """The installation's _migration_validation rows, oldest first."""
    import MySQLdb.cursors

    conn = mariadb_connection(target_database_name(installation))
    cursor = conn.cursor(MySQLdb.cursors.DictCursor)
    cursor.execute("SELECT * FROM `_migration_validation` ORDER BY validated_at")
    rows = list(cursor.fetchall())
    conn.close()
    return rows


class DashboardDom(HTMLParser):
    """Reads the dashboard's DOM: sections by data-installation, rows by (installation, data type), their texts."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.installations: dict[str, dict[str, str]] = {}
        self.rows: dict[tuple[str, str], dict[str, str]] = {}
        self.texts: dict[tuple[str, str], dict[str, str]] = {}
        self.charts: dict[str, list[dict[str, str]]] = {}
        self.errors: dict[str, str] = {}
        self._row: tuple[str, str] | None = None
        self._section: str | None = None
        self._capture: str | None = None
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if tag == "section" and "installation" in classes:
            self._section = a["data-installation"]
            self.installations[self._section] = a
        elif tag == "tr" and "data-type" in classes:
            self._row = (a["data-installation"], a["data-data-type"])
            self.rows[self._row] = a
            self.texts[self._row] = {}
        elif tag == "span" and self._row and classes and classes[0] in ("rows-target", "rows-source", "progress"):
            self._capture = classes[0]
        elif tag == "td" and self._row and classes and classes[-1] in ("throughput", "eta"):
            self._capture = classes[-1]
        elif tag == "circle" and self._section:
            self.charts.setdefault(self._section, []).append(a)
        elif tag == "span" and a.get("data-role") == "error" and self._section:
            self._capture = "installation-error"

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None
        elif tag == "section":
            self._section = None
        if tag in ("span", "td"):
            self._capture = None

    def handle_data(self, data: str) -> None:
        if self._capture == "installation-error" and self._section:
            self.errors[self._section] = self.errors.get(self._section, "") + data
        elif self._capture and self._row:
            self.texts[self._row][self._capture] = self.texts[self._row].get(self._capture, "") + data


@pytest.fixture(scope="session")
def artifacts_dir() -> str:
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))), ".test-artifacts")
    os.makedirs(path, exist_ok=True)
    return path


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Loopback requests must not go through a proxy configured for the machine."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    yield
