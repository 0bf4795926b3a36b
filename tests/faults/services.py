"""The fault suite's own services: a seeded PostgreSQL source, a remote on loopback, Airflow connections."""

from __future__ import annotations

import json
from collections.abc import Sequence

from include.migration.configuration.config import DataTypeSpec
from include.migration.source.arrow_pages import ARROW_PAGES
from include.reference_remote.app import CAPABILITIES, create_app
from include.reference_remote.server import RunningServer, serve_in_thread
from tests.conftest import DB_PREFIX, MARIADB, PG_ADMIN_DSN, seeded_source  # noqa: F401 - re-exported

# The page edits rewrite JSON bodies, so the suite's remote serves JSON pages unless a case asks for Arrow.
JSON_ONLY = tuple(c for c in CAPABILITIES if c != ARROW_PAGES)


def serve_remote(
    source_url: str, data_types: Sequence[DataTypeSpec], tokens: dict[str, str], capabilities: Sequence[str] = JSON_ONLY
) -> RunningServer:
    """The reference remote over ``source_url``; ``tokens`` maps installation -> token."""
    inverted = {token: inst for inst, token in tokens.items()}
    return serve_in_thread(create_app(source_url, data_types, inverted, capabilities=capabilities))


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
