"""Cursor modes: how a data type's position is expressed, requested and checkpointed.

``key`` mode pages by the primary key alone (new rows only). ``updated_at``
mode pages by ``(updated_at, key)`` so rows changed after they were copied are
copied again; each pass reads only up to ``now - lag_seconds``, so rows whose
transactions commit late (with an older ``updated_at``) are not skipped.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Protocol

from include.migration.configuration.config import DataTypeSpec
from include.migration.source.client import Page
from include.migration.values.timestamps import parse_timestamp, wire_timestamp

if TYPE_CHECKING:
    import pyarrow as pa


class CursorMode(Protocol):
    def request(self, cursor: Any) -> tuple[Any, dict[str, Any]]:
        """The ``after`` value and the extra query parameters for the page after ``cursor``."""

    def row_cursors(self, rows: pa.Table) -> list[Any]:
        """The cursor value of each row of a checked page, in page order."""

    def page_cursor(self, page: Page) -> Any:
        """The cursor the page announces (None: end of data)."""

    def to_checkpoint(self, cursor: Any) -> Any:
        """JSON-able form for the state table."""

    def from_checkpoint(self, stored: Any) -> Any:
        """Back from the state table (None: from the start)."""


class KeyCursor:
    """Pages by primary key: ``after=<key>``."""

    def __init__(self, spec: DataTypeSpec) -> None:
        self._spec = spec

    def request(self, cursor: Any) -> tuple[Any, dict[str, Any]]:
        return cursor, {}

    def row_cursors(self, rows: pa.Table) -> list[Any]:
        spec = self._spec
        columns = [rows.column(i).to_pylist() for i in spec.key_indexes]
        return list(zip(*columns)) if spec.composite_key else columns[0]

    def page_cursor(self, page: Page) -> Any:
        return page.after_id

    def to_checkpoint(self, cursor: Any) -> Any:
        return list(cursor) if isinstance(cursor, tuple) else cursor

    def from_checkpoint(self, stored: Any) -> Any:
        return tuple(stored) if isinstance(stored, list) else stored


class UpdatedAtCursor:
    """Pages by ``(updated_at, key)`` up to ``until``: ``after=<key>&afterUpdatedAt=<ts>&until=<ts>``."""

    def __init__(self, spec: DataTypeSpec, until: dt.datetime) -> None:
        assert spec.updated_at_column is not None
        self._key = spec.key_index
        self._updated = spec.column_names.index(spec.updated_at_column)
        self._until = wire_timestamp(until)

    def request(self, cursor: Any) -> tuple[Any, dict[str, Any]]:
        if cursor is None:
            return None, {"until": self._until}
        updated_at, key = cursor
        return key, {"afterUpdatedAt": wire_timestamp(updated_at), "until": self._until}

    def row_cursors(self, rows: pa.Table) -> list[Any]:
        return list(zip(rows.column(self._updated).to_pylist(), rows.column(self._key).to_pylist()))

    def page_cursor(self, page: Page) -> Any:
        if page.after_id is None:
            return None
        if not isinstance(page.after_updated_at, str):
            return (None, page.after_id)  # the paginator reports the mismatch with the last row
        return (parse_timestamp(page.after_updated_at), page.after_id)

    def to_checkpoint(self, cursor: Any) -> Any:
        if cursor is None:
            return None
        updated_at, key = cursor
        return {"updated_at": wire_timestamp(updated_at), "key": key}

    def from_checkpoint(self, stored: Any) -> Any:
        if stored is None:
            return None
        return (parse_timestamp(stored["updated_at"]), stored["key"])


def cursor_mode(spec: DataTypeSpec, now: dt.datetime | None = None) -> CursorMode:
    """The cursor mode of a data type for a pass starting at ``now`` (UTC)."""
    if spec.cursor_mode == "updated_at":
        now = now or dt.datetime.now(dt.timezone.utc)
        return UpdatedAtCursor(spec, now - dt.timedelta(seconds=spec.lag_seconds))
    return KeyCursor(spec)
