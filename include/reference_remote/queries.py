"""The reference remote's SQL: request parameters -> bound SQLAlchemy statements.

Request text only ever becomes bound values (keys, timestamps, limits); every
identifier comes from the configuration through the source schema tables.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Table, and_, or_, select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from include.migration.configuration.config import DataTypeSpec
from include.migration.values.canonical import RowHasher
from include.migration.values.canonical_sql import POSTGRES_CANONICAL, ServerSideHashing
from include.reference_remote.source_schema import INSTALLATION_COLUMN

_INT64 = (-(2**63), 2**63 - 1)
_INTEGER = re.compile(r"-?[0-9]{1,19}")
_UTC = dt.timezone.utc


class InvalidParameter(ValueError):
    """A query parameter does not parse as what it stands for (key, timestamp)."""


def _int_key(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise InvalidParameter(f"must be an integer key, got {text!r}")
    value = int(text)
    if not _INT64[0] <= value <= _INT64[1]:
        raise InvalidParameter(f"{text!r} is outside the 64-bit key range")
    return value


def _str_key(text: str) -> str:
    return text


def _composite_key(parsers: tuple[Callable[[str], Any], ...]) -> Callable[[str], tuple[Any, ...]]:
    """A composite key's wire form: a JSON array with one value per key column, e.g. ``[42,"bug"]``."""

    def parse(text: str) -> tuple[Any, ...]:
        try:
            values = json.loads(text)
        except ValueError:
            values = None
        if not isinstance(values, list) or len(values) != len(parsers):
            raise InvalidParameter(f"must be a JSON array of {len(parsers)} key values, got {text!r}")
        parts = []
        for parse_part, value in zip(parsers, values):
            if parse_part is _int_key:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise InvalidParameter(f"key value {value!r} in {text!r} must be an integer")
                parts.append(_int_key(str(value)))
            elif isinstance(value, str):
                parts.append(value)
            else:
                raise InvalidParameter(f"key value {value!r} in {text!r} must be a string")
        return tuple(parts)

    return parse


def parse_timestamp(text: str) -> dt.datetime:
    """An ISO-8601 timestamp as an aware UTC datetime; a trailing ``Z`` or no offset means UTC."""
    candidate = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        value = dt.datetime.fromisoformat(candidate)
        return value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)
    except (ValueError, OverflowError):
        raise InvalidParameter(f"must be an ISO-8601 timestamp, got {text!r}") from None


@dataclass(frozen=True)
class UpdatedAtCursor:
    """The position after the row ``(updated_at, key)`` in ``(updated_at, key)`` order."""

    updated_at: dt.datetime
    key: Any


@dataclass(frozen=True)
class DataTypeQueries:
    """Everything precomputed for one data type's endpoints."""

    spec: DataTypeSpec
    base: Select[Any]
    installation_column: ColumnElement[Any]
    key: ColumnElement[Any]
    """The key column, or a row of the key columns (``(a, b) > (x, y)`` compares in key order)."""
    key_columns: tuple[ColumnElement[Any], ...]
    updated_at: ColumnElement[Any] | None
    parse_key: Callable[[str], Any]
    hasher: RowHasher
    server_hashing: ServerSideHashing | None
    """On PostgreSQL: the database prints the canonical row text (``canonical_sql``)."""

    @property
    def by_updated_at(self) -> bool:
        """Whether pages follow ``(updated_at, key)`` instead of the key alone."""
        return self.updated_at is not None

    @property
    def updated_at_index(self) -> int:
        """The position of the updated_at column in a selected row (updated_at mode only)."""
        assert self.spec.updated_at_column is not None
        return self.spec.column_names.index(self.spec.updated_at_column)

    def updated_at_page(
        self, installation: str, cursor: UpdatedAtCursor | None, until: dt.datetime | None, limit: int
    ) -> Select[Any]:
        """Up to ``limit`` rows after ``cursor`` in ``(updated_at, key)`` order, none updated after ``until``."""
        updated_at = self.updated_at
        assert updated_at is not None
        stmt = self.base.where(self.installation_column == installation)
        if cursor is not None:
            stmt = stmt.where(
                # The redundant lower bound lets the (installation_id, updated_at, key) index
                # start the range scan at the cursor; the OR alone would not bound it.
                updated_at >= cursor.updated_at,
                or_(updated_at > cursor.updated_at, and_(updated_at == cursor.updated_at, self.key > cursor.key)),
            )
        if until is not None:
            stmt = stmt.where(updated_at <= until)
        return stmt.order_by(updated_at, self.key).limit(limit)

    def key_range(self, installation: str, after: Any, up_to: Any, limit: int | None = None) -> Select[Any]:
        """The rows with key in ``(after, up_to]`` (either bound None: open), in key order."""
        stmt = self.base.where(self.installation_column == installation)
        if after is not None:
            stmt = stmt.where(self.key > after)
        if up_to is not None:
            stmt = stmt.where(self.key <= up_to)
        stmt = stmt.order_by(*self.key_columns)
        return stmt if limit is None else stmt.limit(limit)


def data_type_queries(spec: DataTypeSpec, table: Table) -> DataTypeQueries:
    """Build the queries of ``spec`` over its source ``table``."""
    key_columns = tuple(table.c[name] for name in spec.key_names)
    parsers = tuple(
        _int_key if spec.column(name).type.base in ("bigint", "int") else _str_key for name in spec.key_names
    )
    updated_at = None
    if spec.cursor_mode == "updated_at":
        assert spec.updated_at_column is not None
        if spec.column(spec.updated_at_column).nullable:
            # A NULL updated_at has no place in (updated_at, key) order: the row would never be served.
            raise ValueError(
                f"data type {spec.name!r}: updated_at_column {spec.updated_at_column!r} must be nullable: false"
            )
        updated_at = table.c[spec.updated_at_column]
    return DataTypeQueries(
        spec=spec,
        base=select(*(table.c[name] for name in spec.column_names)),
        installation_column=table.c[INSTALLATION_COLUMN],
        key=key_columns[0] if len(key_columns) == 1 else tuple_(*key_columns),
        key_columns=key_columns,
        updated_at=updated_at,
        parse_key=parsers[0] if len(parsers) == 1 else _composite_key(parsers),
        hasher=RowHasher(spec),
        server_hashing=ServerSideHashing.plan(POSTGRES_CANONICAL, spec),
    )
