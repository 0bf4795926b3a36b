"""Shared test set-up: one Airflow home, one seeded PostgreSQL source, one remote, MariaDB targets.

Integration fixtures talk to the real services of the machine. They never
skip: a missing service fails the test with a message saying what to start.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Airflow reads its configuration at import time: set it before anything imports airflow.
os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ["MIGRATION_CONFIG"] = str(ROOT / "tests" / "fixtures" / "migration_config.yaml")

import MySQLdb  # noqa: E402
import psycopg2  # noqa: E402
import pytest  # noqa: E402

from include.migration.configuration.config import DataTypeSpec, MigrationConfig  # noqa: E402
from include.migration.configuration.config_loading import load_config  # noqa: E402

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=root dbname=postgres"
# Separate prefixes let several checkouts run their suites against the same servers at once.
DB_PREFIX = os.environ.get("MIGRATION_TEST_DB_PREFIX", "migration_test")
SOURCE_DB = f"{DB_PREFIX}_source"
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "passwd": ""}
ROWS_PER_TYPE = 10_000
SEEDED_INSTALLATIONS = ("acme", "globex", "tiny", "partial", "mutable")


def target_database_name(installation_id: str) -> str:
    return f"{DB_PREFIX}_{installation_id}"


def mariadb_connection(database: str | None = None) -> MySQLdb.Connection:
    try:
        conn = MySQLdb.connect(**MARIADB, db=database or "", charset="utf8mb4", autocommit=True)
    except MySQLdb.OperationalError as exc:
        pytest.fail(
            f"MariaDB at 127.0.0.1:3306 is not reachable ({exc}); start it with "
            "`start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`",
            pytrace=False,
        )
    conn.query("SET time_zone = '+00:00'")
    return conn


def fresh_mariadb_database(name: str, collation: str = "utf8mb4_bin") -> None:
    """Drop and create ``name`` (utf8mb4, default ``collation``); only the test prefix's databases may be dropped."""
    if not name.startswith(f"{DB_PREFIX}_"):
        raise ValueError(f"refusing to drop {name!r}: not a {DB_PREFIX}_ database")
    conn = mariadb_connection()
    try:
        conn.query(f"DROP DATABASE IF EXISTS `{name}`")
        conn.query(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE {collation}")
    finally:
        conn.close()


def fresh_postgres_database(database: str) -> str:
    """Drop and create ``database`` in the local PostgreSQL; returns its SQLAlchemy (psycopg2) URL."""
    if not database.startswith(f"{DB_PREFIX}_"):
        raise ValueError(f"refusing to drop {database!r}: not a {DB_PREFIX}_ database")
    try:
        admin = psycopg2.connect(PG_ADMIN_DSN)
    except psycopg2.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL at 127.0.0.1:5432 is not reachable ({exc}); start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`",
            pytrace=False,
        )
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{database}"')
    finally:
        admin.close()
    return f"postgresql+psycopg2://root@127.0.0.1:5432/{database}"


def seeded_source(database: str, data_types: Sequence[DataTypeSpec], installations: Sequence[str], rows: int) -> str:
    """A fresh PostgreSQL database ``database`` seeded with ``rows`` rows per installation and data type."""
    from include.reference_remote.seed import seed_source

    url = fresh_postgres_database(database)
    seed_source(url, data_types, installations, rows)
    return url



@pytest.fixture(scope="session")
def config() -> MigrationConfig:
    return load_config()


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated metadata database in the shared Airflow home (make test creates it first)."""
    home = Path(os.environ["AIRFLOW_HOME"])
    if not (home / "airflow.db").exists():
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)


@pytest.fixture(scope="session")
def source_url(config: MigrationConfig) -> str:
    """The PostgreSQL source, seeded once per session: 3 data types x 10,000 rows per installation."""
    return seeded_source(SOURCE_DB, config.data_types, SEEDED_INSTALLATIONS, ROWS_PER_TYPE)


@pytest.fixture(scope="session")
def tokens() -> dict[str, str]:
    """installation -> bearer token."""
    return {installation: secrets.token_urlsafe(24) for installation in SEEDED_INSTALLATIONS}


@pytest.fixture(scope="session")
def remote(source_url: str, config: MigrationConfig, tokens: dict[str, str]) -> Iterator[str]:
    """The reference remote on loopback; yields its base URL and exports the Airflow connections."""
    from include.reference_remote.app import create_app
    from include.reference_remote.server import serve_in_thread

    app = create_app(source_url, config.data_types, {token: inst for inst, token in tokens.items()})
    server = serve_in_thread(app)
    for installation, token in tokens.items():
        os.environ[f"AIRFLOW_CONN_MIGRATION_REMOTE_{installation.upper()}"] = json.dumps(
            {"conn_type": "http", "host": "127.0.0.1", "port": server.port, "schema": "http", "password": token}
        )
    for installation in config.installations:
        os.environ[f"AIRFLOW_CONN_MIGRATION_TARGET_{installation.id.upper()}"] = json.dumps(
            {
                "conn_type": "mysql",
                "host": MARIADB["host"],
                "port": MARIADB["port"],
                "login": MARIADB["user"],
                "schema": target_database_name(installation.id),
            }
        )
    yield server.base_url
    server.stop()


@pytest.fixture
def fresh_targets(config: MigrationConfig) -> Iterator[dict[str, str]]:
    """Empty MariaDB databases, one per configured installation; yields installation -> database."""
    names = {i.id: target_database_name(i.id) for i in config.installations}
    conn = mariadb_connection()
    for name in names.values():
        conn.query(f"DROP DATABASE IF EXISTS `{name}`")
        conn.query(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    conn.close()
    yield names
