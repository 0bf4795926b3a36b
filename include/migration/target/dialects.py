"""SQL text for each target engine family; identifiers validated and quoted here.

Only identifiers from configuration reach these functions. Values never do:
they are bound (SQLite) or rendered as escaped literals by the target
connection (``MySqlTarget``, ``arrow_render``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from include.migration.config import ColumnSpec, ColumnType
from include.migration.identifiers import quote_identifier

_MYSQL_TYPES = {
    "bigint": "BIGINT",
    "int": "INT",
    "text": "TEXT",
    "double": "DOUBLE",
    "boolean": "TINYINT(1)",
    "timestamp": "DATETIME(6)",
    "date": "DATE",
    "json": "JSON",
}
_SQLITE_TYPES = {
    "bigint": "INTEGER",
    "int": "INTEGER",
    "varchar": "TEXT",
    "text": "TEXT",
    "decimal": "TEXT",  # exact decimals: SQLite's NUMERIC would round through a double
    "double": "REAL",
    "boolean": "INTEGER",
    "timestamp": "TEXT",
    "date": "TEXT",
    "json": "TEXT",
}


@dataclasses.dataclass(frozen=True)
class Dialect:
    """Renders DDL and upsert statements for one engine family."""

    name: str
    placeholder: str
    quote_char: str
    table_suffix: str

    def quote(self, name: str) -> str:
        return quote_identifier(name, self.quote_char)

    def column_type(self, kind: ColumnType) -> str:
        if self.name == "sqlite":
            return _SQLITE_TYPES[kind.base]
        if kind.base == "varchar":
            return f"VARCHAR({kind.length})"
        if kind.base == "decimal":
            return f"DECIMAL({kind.precision},{kind.scale})"
        return _MYSQL_TYPES[kind.base]

    def column_definition(self, column: ColumnSpec) -> str:
        null = "NULL" if column.nullable else "NOT NULL"
        return f"{self.quote(column.name)} {self.column_type(column.type)} {null}"

    def create_table(self, table: str, columns: Sequence[ColumnSpec], primary_key: str) -> str:
        parts = [self.column_definition(c) for c in columns]
        parts.append(f"PRIMARY KEY ({self.quote(primary_key)})")
        body = ",\n  ".join(parts)
        return f"CREATE TABLE IF NOT EXISTS {self.quote(table)} (\n  {body}\n){self.table_suffix}"

    def add_column(self, table: str, column: ColumnSpec) -> str:
        # Added columns are nullable: existing rows have no value for them yet.
        definition = f"{self.quote(column.name)} {self.column_type(column.type)} NULL"
        return f"ALTER TABLE {self.quote(table)} ADD COLUMN {definition}"

    def insert_prefix(self, table: str, columns: Sequence[str]) -> str:
        names = ", ".join(self.quote(c) for c in columns)
        return f"INSERT INTO {self.quote(table)} ({names}) VALUES "

    def upsert_suffix(self, columns: Sequence[str], primary_key: str, clear: Sequence[str] = ()) -> str:
        """The conflict clause: every non-key column takes the new value; ``clear`` columns become NULL."""
        updates = [c for c in columns if c != primary_key] or [primary_key]
        if self.name == "sqlite":
            parts = [f"{self.quote(c)} = excluded.{self.quote(c)}" for c in updates]
            parts += [f"{self.quote(c)} = NULL" for c in clear]
            return f" ON CONFLICT ({self.quote(primary_key)}) DO UPDATE SET {', '.join(parts)}"
        # Portable across TiDB, MySQL 8 and MariaDB (no `AS new` row alias).
        parts = [f"{self.quote(c)} = VALUES({self.quote(c)})" for c in updates]
        parts += [f"{self.quote(c)} = NULL" for c in clear]
        return f" ON DUPLICATE KEY UPDATE {', '.join(parts)}"

    def insert_if_absent(self, table: str, columns: Sequence[str], primary_key: str) -> str:
        """An INSERT of one row (placeholders) that leaves an existing row with the same key as it is."""
        names = ", ".join(self.quote(c) for c in columns)
        values = self.row_placeholders(len(columns))
        if self.name == "sqlite":
            return f"INSERT INTO {self.quote(table)} ({names}) VALUES {values} ON CONFLICT ({self.quote(primary_key)}) DO NOTHING"
        key = self.quote(primary_key)
        return f"INSERT INTO {self.quote(table)} ({names}) VALUES {values} ON DUPLICATE KEY UPDATE {key} = {key}"

    def row_placeholders(self, width: int) -> str:
        return "(" + ", ".join([self.placeholder] * width) + ")"


MYSQL_DIALECT = Dialect(
    name="mysql",
    placeholder="%s",
    quote_char="`",
    table_suffix=" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
)
SQLITE_DIALECT = Dialect(name="sqlite", placeholder="?", quote_char='"', table_suffix="")
DIALECTS = {d.name: d for d in (MYSQL_DIALECT, SQLITE_DIALECT)}
