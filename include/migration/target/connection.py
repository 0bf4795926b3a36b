"""Connections to an installation's target database, behind one small interface.

``MySqlTarget`` serves TiDB / Forge SQL, MySQL 8 and MariaDB through the mysql
provider's hook; ``SqliteTarget`` serves the embedded demo. Both autocommit
every statement (the targets we write to offer no transactions to rely on) and
send exactly one statement per request.
"""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from include.migration.configuration.config import ColumnSpec
from include.migration.errors import FatalError
from include.migration.target.dialects import MYSQL_DIALECT, SQLITE_DIALECT, Dialect, dialect_for_server
from include.migration.target.gate import QueryGate
from include.migration.target.profiles import TargetProfile

if TYPE_CHECKING:
    import pyarrow as pa


class TargetDatabase(Protocol):
    """What the writer, the state store and the schema runner need from a target."""

    dialect: Dialect
    last_statement_bytes: int

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement with bound values; returns the affected row count."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one SELECT and return all rows."""

    def stream(
        self, sql: str, params: Sequence[Any] = (), batch_size: int = 5000, *, text_values: bool = False
    ) -> Iterator[tuple[Any, ...]]:
        """Run one SELECT and yield its rows without holding them all in memory.

        ``text_values``: DECIMAL, DATE and DATETIME values may come as their text (str or bytes)
        instead of Python objects, for readers that parse whole columns at once.
        """

    def render_table(self, table: pa.Table, columns: Sequence[ColumnSpec]) -> RenderedRows:
        """Prepare a checked Arrow table (columns in ``columns`` order) for :meth:`execute_values`."""

    def execute_values(self, prefix: str, rendered: Any, width: int, suffix: str) -> int:
        """Run ``prefix`` + the rows (a ``RenderedRows.part``) + ``suffix`` as one statement."""

    def max_packet_bytes(self) -> int:
        """The largest statement the server accepts."""

    def existing_columns(self, table: str) -> list[str] | None:
        """Column names of ``table``, or None when it does not exist."""

    def close(self) -> None:
        """Release the connection."""


class RenderedRows(Protocol):
    """A page's rows, rendered: each row's size in the statement, and any run of rows as one part."""

    sizes: Sequence[int]

    def part(self, start: int, stop: int) -> Any:
        """Rows ``start``..``stop - 1`` as :meth:`TargetDatabase.execute_values` takes them."""


class RenderedList:
    """Rendered rows held in a list; a part is a slice of it (joined by commas for SQL text)."""

    def __init__(self, rendered: list[Any], sizes: list[int], join: bool) -> None:
        self._rendered = rendered
        self.sizes = sizes
        self._join = join

    def part(self, start: int, stop: int) -> Any:
        rows = self._rendered[start:stop]
        return b",".join(rows) if self._join else rows


class MySqlTarget:
    """A mysqlclient connection with autocommit, utf8mb4 and UTC session time zone."""

    dialect = MYSQL_DIALECT

    def __init__(self, connection: Any, profile: TargetProfile, share: int = 1) -> None:
        self._conn = connection
        self.profile = profile
        self.gate = QueryGate(profile, share)
        self._select_prefix = ""
        self._conn.autocommit(True)
        self._conn.set_character_set("utf8mb4")
        self.last_statement_bytes = 0
        self.statements_sent = 0
        self.execute("SET time_zone = '+00:00'")
        # A value out of range must fail loudly, never be clamped or truncated (TiDB is strict by default).
        self.execute("SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES')")
        version, sql_mode = self.query("SELECT VERSION(), @@SESSION.sql_mode")[0]
        self.backslash_escapes = "NO_BACKSLASH_ESCAPES" not in str(sql_mode).upper()
        self.is_mariadb = "mariadb" in str(version).lower()
        self.dialect = dialect_for_server(str(version))
        select_timeout = profile.select_timeout_seconds or profile.statement_timeout_seconds
        if self.is_mariadb:
            if profile.statement_timeout_seconds:
                self.execute(f"SET SESSION max_statement_time = {float(profile.statement_timeout_seconds):.3f}")
            if profile.select_timeout_seconds:
                self._select_prefix = f"SET STATEMENT max_statement_time = {float(select_timeout):.3f} FOR "
        elif select_timeout:  # MySQL / TiDB: a session limit for SELECT only; the server bounds DML itself
            self.execute(f"SET SESSION max_execution_time = {int(select_timeout * 1000)}")

    @classmethod
    def from_conn_id(cls, conn_id: str, profile: TargetProfile, share: int = 1) -> MySqlTarget:
        from airflow.providers.mysql.hooks.mysql import MySqlHook

        return cls(MySqlHook(mysql_conn_id=conn_id).get_conn(), profile, share)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.gate.statement(sql), self._cursor() as cursor:
            count = cursor.execute(sql, tuple(params) if params else None)
            self._record(cursor)
            return int(count or 0)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        sql = self._bounded(sql)
        with self.gate.statement(sql) as slot, self._cursor() as cursor:
            cursor.execute(sql, tuple(params) if params else None)
            self._record(cursor)
            rows = list(cursor.fetchall())
            slot.count_rows(rows)
            return rows

    def _bounded(self, sql: Any) -> Any:
        """A SELECT with the profile's SELECT timeout (MariaDB: per statement; others: set for the session)."""
        if self._select_prefix and isinstance(sql, str) and sql.lstrip()[:6].upper() == "SELECT":
            return self._select_prefix + sql
        return sql

    def stream(
        self, sql: str, params: Sequence[Any] = (), batch_size: int = 5000, *, text_values: bool = False
    ) -> Iterator[tuple[Any, ...]]:
        import MySQLdb.cursors

        sql = self._bounded(sql)
        cursor = self._conn.cursor(MySQLdb.cursors.SSCursor)
        try:
            with self.gate.statement(sql) as slot:
                if text_values:
                    # The result takes its converters from the connection when the query runs.
                    converters = self._conn.converter
                    saved = {t: converters.pop(t) for t in _TEXT_VALUE_TYPES if t in converters}
                    try:
                        cursor.execute(sql, tuple(params) if params else None)
                    finally:
                        converters.update(saved)
                else:
                    cursor.execute(sql, tuple(params) if params else None)
                self._record(cursor)
                while batch := cursor.fetchmany(batch_size):
                    slot.count_rows(batch)
                    yield from batch
        finally:
            cursor.close()

    def render_table(self, table: pa.Table, columns: Sequence[ColumnSpec]) -> RenderedRows:
        from include.migration.values.literals import render_table

        return render_table(table, columns, backslash_escapes=self.backslash_escapes)

    def execute_values(self, prefix: str, rendered: bytes | Sequence[bytes], width: int, suffix: str) -> int:
        body = rendered if isinstance(rendered, bytes) else b",".join(rendered)
        statement = prefix.encode() + body + suffix.encode()
        with self.gate.statement(statement), self._cursor() as cursor:
            count = cursor.execute(statement)
            self._record(cursor)
            return int(count or 0)

    def max_packet_bytes(self) -> int:
        return int(self.query("SELECT @@max_allowed_packet")[0][0])

    def existing_columns(self, table: str) -> list[str] | None:
        rows = self.query(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name = %s ORDER BY ordinal_position",
            (table,),
        )
        return [r[0] for r in rows] or None

    def close(self) -> None:
        try:
            self._conn.close()
        except Exception:  # noqa: BLE001 - closing a dead connection must not mask the real error
            pass

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        cursor = self._conn.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    def _record(self, cursor: Any) -> None:
        executed = getattr(cursor, "_executed", None)
        self.last_statement_bytes = len(executed) if executed is not None else 0
        self.statements_sent += 1


# MySQL field types read as text by stream(text_values=True): DECIMAL, NEWDECIMAL, DATE, DATETIME, TIMESTAMP.
_TEXT_VALUE_TYPES = (0, 246, 10, 12, 7)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class SqliteTarget:
    """The embedded demo target: one SQLite file per installation."""

    dialect = SQLITE_DIALECT

    def __init__(self, path: str, profile: TargetProfile) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self.last_statement_bytes = 0
        self.statements_sent = 0

    @classmethod
    def from_conn_id(cls, conn_id: str, profile: TargetProfile, share: int = 1) -> SqliteTarget:
        from airflow.sdk import BaseHook

        connection = BaseHook.get_connection(conn_id)
        path = connection.host or connection.schema or ""
        # A server connection under the sqlite profile would otherwise open a file named after its host.
        if connection.conn_type != "sqlite" or not path:
            raise FatalError(
                f"target connection {conn_id!r} is of type {connection.conn_type!r} with host {connection.host!r}, "
                f"but the target profile {profile.name!r} writes to a SQLite file: give the connection "
                "conn_type 'sqlite' and the file's path as host, or choose a MySQL-family target_profile"
            )
        return cls(path, profile)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = self._conn.execute(sql, [_sqlite_value(p) for p in params])
        self._record(sql)
        return cursor.rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows = self._conn.execute(sql, [_sqlite_value(p) for p in params]).fetchall()
        self._record(sql)
        return rows

    def stream(
        self, sql: str, params: Sequence[Any] = (), batch_size: int = 5000, *, text_values: bool = False
    ) -> Iterator[tuple[Any, ...]]:
        cursor = self._conn.execute(sql, [_sqlite_value(p) for p in params])
        self._record(sql)
        while batch := cursor.fetchmany(batch_size):
            yield from batch

    def render_table(self, table: pa.Table, columns: Sequence[ColumnSpec]) -> RenderedRows:
        from include.migration.values.pages import table_rows

        rendered = [tuple(_sqlite_value(v) for v in row) for row in table_rows(table)]
        return RenderedList(rendered, [2 * len(r) for r in rendered], join=False)

    def execute_values(self, prefix: str, rendered: Sequence[tuple[Any, ...]], width: int, suffix: str) -> int:
        row = self.dialect.row_placeholders(width)
        sql = prefix + ", ".join([row] * len(rendered)) + suffix
        cursor = self._conn.execute(sql, [v for r in rendered for v in r])
        self._record(sql)
        return cursor.rowcount

    def max_packet_bytes(self) -> int:
        return 1_000_000_000

    def existing_columns(self, table: str) -> list[str] | None:
        rows = self._conn.execute(f"PRAGMA table_info({self.dialect.quote(table)})").fetchall()
        return [r[1] for r in rows] or None

    def close(self) -> None:
        self._conn.close()

    def _record(self, sql: str) -> None:
        self.last_statement_bytes = len(sql.encode())
        self.statements_sent += 1


def open_target(conn_id: str, profile: TargetProfile, *, share: int = 1, attempts: int = 3) -> TargetDatabase:
    """Connect to the target named by an Airflow connection, per the profile's dialect.

    ``share``: how many of the installation's tasks may use the target at once; this connection keeps to
    its part of the profile's statement rate and query-time budget (see ``gate.py``).
    """
    factory = SqliteTarget if profile.dialect == "sqlite" else MySqlTarget
    from include.migration.target.error_codes import TARGET_PERMANENT, mysql_error_code

    for attempt in range(1, attempts + 1):
        try:
            return factory.from_conn_id(conn_id, profile, share)
        except FatalError:
            raise
        except Exception as exc:
            if attempt == attempts or mysql_error_code(exc) in TARGET_PERMANENT:
                raise
            time.sleep(min(2.0**attempt, 10.0))
    raise AssertionError("unreachable")
