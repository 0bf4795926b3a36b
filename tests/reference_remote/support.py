"""Configuration and helpers shared by the checksum, updated_at and mutation tests of the reference remote."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import requests
from sqlalchemy import select

from include.migration.configuration.config import DataTypeSpec
from include.migration.configuration.config_parsing import parse_config
from include.reference_remote import build_source_metadata
from include.reference_remote.server import RunningServer
from include.reference_remote.source_schema import create_source_engine

TOKENS = {"tok-acme": "acme", "tok-globex": "globex"}
UTC = dt.timezone.utc

CONFIG = parse_config(
    {
        "data_types": [
            {
                "name": "accounts",
                "primary_key": "id",
                "columns": [
                    {"name": "id", "type": "bigint"},
                    {"name": "name", "type": "varchar(40)", "nullable": False},
                    {"name": "note", "type": "text"},
                    {"name": "amount", "type": "decimal(12,2)"},
                    {"name": "big_amount", "type": "decimal(30,10)"},
                    {"name": "ratio", "type": "double"},
                    {"name": "visits", "type": "int"},
                    {"name": "active", "type": "boolean", "nullable": False},
                    {"name": "created_at", "type": "timestamp"},
                    {"name": "birthday", "type": "date"},
                    {"name": "payload", "type": "json"},
                ],
            },
            {
                "name": "tags",
                "primary_key": "code",
                "columns": [{"name": "code", "type": "varchar(16)"}, {"name": "label", "type": "varchar(50)"}],
            },
            {
                "name": "issues",
                "primary_key": "id",
                "cursor_mode": "updated_at",
                "updated_at_column": "updated_at",
                "columns": [
                    {"name": "id", "type": "bigint"},
                    {"name": "title", "type": "varchar(80)", "nullable": False},
                    {"name": "estimate", "type": "decimal(8,2)"},
                    {"name": "updated_at", "type": "timestamp", "nullable": False},
                ],
            },
        ],
        "installations": [{"id": i, "remote_conn_id": f"r_{i}", "target_conn_id": f"t_{i}"} for i in TOKENS.values()],
    }
)
ACCOUNTS = CONFIG.data_type("accounts")
TAGS = CONFIG.data_type("tags")
ISSUES = CONFIG.data_type("issues")


def get(
    http: requests.Session, server: RunningServer, path: str, token: str | None = "tok-acme", **params: Any
) -> requests.Response:
    """GET ``/data-migration/<path>`` with the bearer token and query parameters."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.get(f"{server.base_url}/data-migration/{path}", params=params, headers=headers, timeout=10)


def source_rows(url: str, spec: DataTypeSpec, installation: str) -> list[tuple[Any, ...]]:
    """The installation's rows as the source stores them (configured column order), in no particular order."""
    table = build_source_metadata(CONFIG.data_types).tables[spec.name]
    engine = create_source_engine(url)
    try:
        with engine.connect() as conn:
            stmt = select(*(table.c[n] for n in spec.column_names)).where(table.c.installation_id == installation)
            return [tuple(row) for row in conn.execute(stmt)]
    finally:
        engine.dispose()


def hash_rows(spec: DataTypeSpec, rows: Iterable[Sequence[Any]]) -> list[int]:
    """Row hashes computed here by the specification's row-at-a-time reading (independent of the package)."""
    from tests.values import oracle

    return [oracle.row_hash(spec, row) for row in rows]
