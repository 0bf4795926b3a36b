"""Helpers shared by integration tests: read both sides and normalise them for exact comparison."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from include.migration.configuration.config import DataTypeSpec
from include.reference_remote.source_schema import INSTALLATION_COLUMN, build_source_metadata
from tests.conftest import mariadb_connection, target_database_name


def _normalise(spec: DataTypeSpec, row: tuple[Any, ...]) -> tuple[Any, ...]:
    out = []
    for column, value in zip(spec.columns, row):
        base = column.type.base
        if value is None:
            out.append(None)
        elif base == "boolean":
            out.append(bool(value))
        elif base == "timestamp":
            if value.tzinfo is not None:
                value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
            out.append(value)
        elif base == "json":
            out.append(json.loads(value) if isinstance(value, str) else value)
        elif base == "double":
            out.append(float(value))
        else:
            out.append(value)
    return tuple(out)


def source_rows(source_url: str, spec: DataTypeSpec, installation_id: str) -> list[tuple[Any, ...]]:
    """One installation's rows of a data type at the source, in key order, normalised."""
    table = build_source_metadata([spec]).tables[spec.name]
    engine = sa.create_engine(source_url)
    try:
        with engine.connect() as conn:
            query = (
                sa.select(*(table.c[c] for c in spec.column_names))
                .where(table.c[INSTALLATION_COLUMN] == installation_id)
                .order_by(table.c[spec.primary_key])
            )
            return [_normalise(spec, tuple(r)) for r in conn.execute(query)]
    finally:
        engine.dispose()


def target_rows(installation_id: str, spec: DataTypeSpec) -> list[tuple[Any, ...]]:
    """The rows of a data type in an installation's MariaDB target, in key order, normalised."""
    conn = mariadb_connection(target_database_name(installation_id))
    try:
        cursor = conn.cursor()
        columns = ", ".join(f"`{c}`" for c in spec.column_names)
        cursor.execute(f"SELECT {columns} FROM `{spec.target_table}` ORDER BY `{spec.primary_key}`")
        return [_normalise(spec, tuple(r)) for r in cursor.fetchall()]
    finally:
        conn.close()


def state_rows(installation_id: str) -> dict[str, dict[str, Any]]:
    """The state table of an installation's target, by job id."""
    conn = mariadb_connection(target_database_name(installation_id))
    try:
        cursor = conn.cursor(MySQLdbDictCursor())
        cursor.execute("SELECT * FROM `_migration_state`")
        return {row["job_id"]: row for row in cursor.fetchall()}
    finally:
        conn.close()


def MySQLdbDictCursor() -> Any:  # noqa: N802 - reads like the class it returns
    import MySQLdb.cursors

    return MySQLdb.cursors.DictCursor
