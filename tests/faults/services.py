"""The fault suite's own services: a seeded PostgreSQL source, a remote on loopback, Airflow connections."""

from __future__ import annotations

import json
from collections.abc import Sequence

import psycopg2
import pytest

from include.migration.config import DataTypeSpec
from include.migration.remote_service.app import create_app
from include.migration.remote_service.seed import seed_source
from include.migration.remote_service.server import RunningServer, serve_in_thread
from tests.conftest import DB_PREFIX, MARIADB, PG_ADMIN_DSN


def seeded_source(database: str, data_types: Sequence[DataTypeSpec], installations: Sequence[str], rows: int) -> str:
    """A fresh PostgreSQL database ``database`` seeded with ``rows`` rows per installation and data type."""
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
    url = f"postgresql+psycopg2://root@127.0.0.1:5432/{database}"
    seed_source(url, data_types, installations, rows)
    return url


def serve_remote(source_url: str, data_types: Sequence[DataTypeSpec], tokens: dict[str, str]) -> RunningServer:
    """The reference remote over ``source_url``; ``tokens`` maps installation -> token."""
    return serve_in_thread(create_app(source_url, data_types, {token: inst for inst, token in tokens.items()}))


def remote_connection(port: int, token: str) -> str:
    """An ``AIRFLOW_CONN_*`` value for the remote (or the proxy) on loopback."""
    return json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http", "password": token})


def target_connection(database: str) -> str:
    """An ``AIRFLOW_CONN_*`` value for a MariaDB target database."""
    return json.dumps(
        {
            "conn_type": "mysql",
            "host": MARIADB["host"],
            "port": MARIADB["port"],
            "login": MARIADB["user"],
            "schema": database,
        }
    )


def connection_env(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"
