"""Changes to the reference remote's source rows, for tests and the demo.

Inserts, updates and deletes go through the source schema tables with
SQLAlchemy Core and bound parameters only; column names are checked against
the data type's configuration before any SQL is built.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table, delete, tuple_, update

from include.migration.configuration.config import DataTypeSpec
from include.reference_remote.source_schema import (
    INSTALLATION_COLUMN,
    build_source_metadata,
    create_source_engine,
)

# Far below every database's bound-parameter limit (SQLite: 32766).
KEYS_PER_STATEMENT = 1_000


@contextmanager
def _transaction(source_url: str, spec: DataTypeSpec) -> Iterator[tuple[Connection, Table]]:
    table = build_source_metadata([spec]).tables[spec.name]
    engine = create_source_engine(source_url)
    try:
        with engine.begin() as conn:
            yield conn, table
    finally:
        engine.dispose()


def _check_columns(spec: DataTypeSpec, names: Sequence[str], what: str) -> None:
    unknown = sorted(set(names) - set(spec.column_names))
    if unknown:
        raise ValueError(f"data type {spec.name!r}: {what} name unknown columns {unknown}")


def _batches(keys: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(keys), KEYS_PER_STATEMENT):
        yield keys[start : start + KEYS_PER_STATEMENT]


def insert_rows(source_url: str, spec: DataTypeSpec, installation_id: str, rows: list[dict[str, Any]]) -> int:
    """Insert ``rows`` (column -> value, configured columns only) for ``installation_id``; returns the count.

    Missing columns are NULL. A row may carry ``installation_id`` only if it is the given one.
    """
    prepared = []
    for row in rows:
        values = dict(row)
        owner = values.pop(INSTALLATION_COLUMN, installation_id)
        if owner != installation_id:
            raise ValueError(f"row for installation {owner!r} inserted as {installation_id!r}")
        _check_columns(spec, list(values), "rows")
        prepared.append({**dict.fromkeys(spec.column_names), **values, INSTALLATION_COLUMN: installation_id})
    if not prepared:
        return 0
    with _transaction(source_url, spec) as (conn, table):
        conn.execute(table.insert(), prepared)
    return len(prepared)


def update_rows(
    source_url: str,
    spec: DataTypeSpec,
    installation_id: str,
    keys: Sequence[Any],
    changes: Mapping[str, Any],
    *,
    touch_updated_at: bool = True,
) -> int:
    """Set ``changes`` (column -> value) on the installation's rows with the given keys; returns the rows changed.

    For an updated_at-mode data type, ``touch_updated_at`` also sets the
    updated_at column to now (UTC, microseconds), unless ``changes`` sets it.
    The primary key cannot be changed.
    """
    _check_columns(spec, list(changes), "changes")
    if set(spec.key_names) & set(changes):
        raise ValueError(f"data type {spec.name!r}: the primary key {spec.primary_key!r} cannot be updated")
    values = dict(changes)
    if touch_updated_at and spec.cursor_mode == "updated_at" and spec.updated_at_column:
        values.setdefault(spec.updated_at_column, dt.datetime.now(dt.timezone.utc))
    if not values:
        raise ValueError(f"data type {spec.name!r}: nothing to update")
    changed = 0
    with _transaction(source_url, spec) as (conn, table):
        key = _key(table, spec)
        for batch in _batches(list(keys)):
            stmt = update(table).where(table.c[INSTALLATION_COLUMN] == installation_id, key.in_(batch)).values(values)
            changed += conn.execute(stmt).rowcount
    return changed


def _key(table: Table, spec: DataTypeSpec) -> Any:
    """The key column, or the row of key columns a composite key's tuples compare with."""
    if spec.composite_key:
        return tuple_(*(table.c[name] for name in spec.key_names))
    return table.c[spec.primary_key]


def delete_rows(source_url: str, spec: DataTypeSpec, installation_id: str, keys: Sequence[Any]) -> int:
    """Delete the installation's rows with the given keys; returns the rows deleted."""
    deleted = 0
    with _transaction(source_url, spec) as (conn, table):
        key = _key(table, spec)
        for batch in _batches(list(keys)):
            stmt = delete(table).where(table.c[INSTALLATION_COLUMN] == installation_id, key.in_(batch))
            deleted += conn.execute(stmt).rowcount
    return deleted
