"""The bulk upsert writer: multi-row statements sized to the target profile.

Each statement is ``INSERT ... VALUES (...), (...) ON DUPLICATE KEY UPDATE``
(or SQLite's ``ON CONFLICT``), filled with as many rows as fit the profile's
byte and row limits, sent one per request with autocommit, at no more than the
profile's statement rate and query-time budget. Upserts keyed by the primary
key make a replayed page harmless.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from include.migration.configuration.config import DataTypeSpec
from include.migration.errors import FatalError, RetryableError
from include.migration.target.connection import TargetDatabase
from include.migration.target.profiles import TargetProfile
from include.migration.values.errors import conversion_error

if TYPE_CHECKING:
    import pyarrow as pa

# Room for the protocol header and the server's own framing on top of the statement text.
_PACKET_SLACK = 1024


class RowTooLargeError(FatalError):
    """A single row does not fit in one statement under the profile's limit."""


class TargetWriteError(FatalError):
    """The target rejected a statement (a value out of range, too long, ...)."""


class TargetUnavailableError(RetryableError):
    """The target could not be reached or dropped the connection."""


@dataclasses.dataclass
class WriteStats:
    """Counters of what a writer sent (for XCom summaries, tests and the bench)."""

    rows: int = 0
    statements: int = 0
    bytes_sent: int = 0
    max_statement_bytes: int = 0
    seconds_in_target: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class _Statement:
    part: Any
    rows: int
    first_key: Any
    last_key: Any
    size: int


@dataclasses.dataclass(frozen=True)
class PreparedWrite:
    """A batch rendered and cut into statements, ready to send."""

    statements: list[_Statement]

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.statements)


class UpsertWriter:
    """Writes one data type's rows into its target table."""

    def __init__(
        self,
        db: TargetDatabase,
        data_type: DataTypeSpec,
        profile: TargetProfile,
        *,
        installation_id: str,
    ) -> None:
        self.db = db
        self.data_type = data_type
        self.installation_id = installation_id
        dialect = db.dialect
        columns = data_type.column_names
        self._prefix = dialect.insert_prefix(data_type.target_table, columns)
        # A row the source has again is no longer deleted: clear its soft-delete mark.
        clear = [data_type.soft_delete_column] if data_type.soft_delete_column else []
        self._suffix = dialect.upsert_suffix(columns, data_type.primary_key, clear)
        self._width = len(columns)
        if profile.max_statement_bytes is not None:
            self.max_statement_bytes = profile.max_statement_bytes
        else:
            self.max_statement_bytes = min(db.max_packet_bytes() - _PACKET_SLACK, profile.statement_bytes_cap)
        self.max_rows = max(1, min(profile.max_rows_per_statement, profile.max_bind_parameters // self._width))
        self.stats = WriteStats()
        self._fixed_bytes = len(self._prefix.encode()) + len(self._suffix.encode())
        # Without a NO PAD collation the server compares 'a' and 'a ' equal: one row would overwrite the other.
        self._padded_key_positions = [
            i for i in data_type.key_indexes if data_type.columns[i].type.base == "varchar" and dialect.pads_keys
        ]

    def write(self, table: pa.Table) -> int:
        """Upsert a checked table (columns in configured order); returns rows written."""
        return self.send(self.prepare(table))

    def prepare(self, table: pa.Table) -> PreparedWrite:
        """Render ``table`` and cut it into statements; needs no target round trip (a prefetch thread may do it)."""
        spec = self.data_type
        rendered = self.db.render_table(table, spec.columns)
        keys = [table.column(i) for i in spec.key_indexes]

        def key_at(index: int) -> Any:
            values = tuple(k[index].as_py() for k in keys)
            return values if spec.composite_key else values[0]

        for position in self._padded_key_positions:
            self._refuse_padded_keys(table, position, key_at)
        statements: list[_Statement] = []

        def cut(start: int, stop: int, size: int) -> None:
            statements.append(_Statement(rendered.part(start, stop), stop - start, key_at(start), key_at(stop - 1), size))

        limit, fixed, max_rows = self.max_statement_bytes, self._fixed_bytes, self.max_rows
        start, size = 0, fixed
        sizes = rendered.sizes
        for index, row_bytes in enumerate(sizes):
            if fixed + row_bytes > limit:
                raise RowTooLargeError(
                    f"installation {self.installation_id!r}, data type {self.data_type.name!r}, key "
                    f"{key_at(index)!r}: the row needs {fixed + row_bytes} bytes in one statement, over the "
                    f"target limit of {limit} bytes; the row cannot be stored in this target profile: shorten the "
                    "value at the source or raise max_statement_bytes in the installation's profile_overrides (as "
                    "far as the target accepts), then re-run: the checkpoint has not moved past this page"
                )
            if index > start and (size + 1 + row_bytes > limit or index - start >= max_rows):
                cut(start, index, size)
                start, size = index, fixed + row_bytes
            else:
                size += (1 if index > start else 0) + row_bytes
        if len(sizes) > start:
            cut(start, len(sizes), size)
        return PreparedWrite(statements)

    def _refuse_padded_keys(self, table: pa.Table, position: int, key_at: Any) -> None:
        import pyarrow.compute as pc

        padded = pc.fill_null(pc.ends_with(table.column(position), " "), False)
        if not pc.any(padded).as_py():
            return
        index = int(pc.index(padded, True).as_py())
        column = self.data_type.columns[position]
        raise conversion_error(
            self.installation_id, self.data_type, key_at(index), column, table.column(position)[index].as_py(),
            f"a key with trailing spaces cannot be stored apart from the same key without them: this "
            f"{self.db.dialect.server} target has no binary NO PAD collation",
        )

    def send(self, prepared: PreparedWrite) -> int:
        """Run the statements of :meth:`prepare` in order; returns rows written."""
        for statement in prepared.statements:
            self._send(statement)
        return prepared.rows

    def _send(self, statement: _Statement) -> None:
        began = time.monotonic()
        try:
            self.db.execute_values(self._prefix, statement.part, self._width, self._suffix)
        except Exception as exc:
            where = (
                f"installation {self.installation_id!r}, data type {self.data_type.name!r}, "
                f"keys {statement.first_key!r}..{statement.last_key!r} ({statement.rows} rows)"
            )
            if type(exc).__name__ in ("OperationalError", "InterfaceError") and not _is_data_error(exc):
                raise TargetUnavailableError(
                    f"{where}: target unavailable: {exc}; the checkpoint has not moved past these rows: "
                    "re-run when the target is reachable"
                ) from exc
            raise TargetWriteError(
                f"{where}: the target rejected the rows: {exc}; fix the target column or the value at the source, "
                "then re-run: the checkpoint has not moved past these rows"
            ) from exc
        elapsed = time.monotonic() - began
        sent = self.db.last_statement_bytes or statement.size
        stats = self.stats
        stats.rows += statement.rows
        stats.statements += 1
        stats.bytes_sent += sent
        stats.max_statement_bytes = max(stats.max_statement_bytes, sent)
        stats.seconds_in_target += elapsed


# MySQL error codes that arrive as OperationalError but are about the data, not the link.
_DATA_ERROR_CODES = {1264, 1265, 1366, 1406, 1292, 1367, 3140}


def _is_data_error(exc: Exception) -> bool:
    args = getattr(exc, "args", ())
    return bool(args) and isinstance(args[0], int) and args[0] in _DATA_ERROR_CODES
