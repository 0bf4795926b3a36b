"""SQL text for each target engine family; identifiers validated and quoted here.

Only identifiers from configuration reach these functions. Values never do:
they are bound (SQLite) or rendered as escaped literals by the target
connection (``MySqlTarget``, ``arrow_render``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from include.migration.configuration.config import ColumnSpec, ColumnType
from include.migration.configuration.identifiers import quote_identifier

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


# The name a row-alias upsert gives the incoming row (MySQL 8.0.19+): unlikely as a table name, never a column's.
ROW_ALIAS = "_incoming"


@dataclasses.dataclass(frozen=True)
class Dialect:
    """Renders DDL and upsert statements for one engine family (and, for MySQL's family, one server kind)."""

    name: str
    placeholder: str
    quote_char: str
    table_suffix: str
    server: str = ""
    """Which server of the family: ``mariadb``, ``mysql8`` (8.0.19+), ``mysql`` (older) or ``tidb``."""
    row_alias_upsert: bool = False
    """``INSERT ... AS _incoming ON DUPLICATE KEY UPDATE c = _incoming.c`` instead of the deprecated ``VALUES(c)``."""
    key_collation: str | None = None
    """A binary NO PAD collation for varchar key columns (``'a'`` and ``'a '`` are different keys), where one exists."""

    @property
    def pads_keys(self) -> bool:
        """Whether varchar keys that differ only by trailing spaces are the same key on this server."""
        return self.name != "sqlite" and self.key_collation is None

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

    def column_definition(self, column: ColumnSpec, key: bool = False) -> str:
        null = "NULL" if column.nullable else "NOT NULL"
        collate = f" COLLATE {self.key_collation}" if key and self.key_collation and column.type.base == "varchar" else ""
        return f"{self.quote(column.name)} {self.column_type(column.type)}{collate} {null}"

    def create_table(self, table: str, columns: Sequence[ColumnSpec], primary_key: str | Sequence[str]) -> str:
        keys = _names(primary_key)
        parts = [self.column_definition(c, key=c.name in keys) for c in columns]
        parts.append(f"PRIMARY KEY ({', '.join(self.quote(k) for k in keys)})")
        body = ",\n  ".join(parts)
        return f"CREATE TABLE IF NOT EXISTS {self.quote(table)} (\n  {body}\n){self.table_suffix}"

    def add_column(self, table: str, column: ColumnSpec) -> str:
        # Added columns are nullable: existing rows have no value for them yet.
        definition = f"{self.quote(column.name)} {self.column_type(column.type)} NULL"
        return f"ALTER TABLE {self.quote(table)} ADD COLUMN {definition}"

    def insert_prefix(self, table: str, columns: Sequence[str]) -> str:
        names = ", ".join(self.quote(c) for c in columns)
        return f"INSERT INTO {self.quote(table)} ({names}) VALUES "

    def upsert_suffix(self, columns: Sequence[str], primary_key: str | Sequence[str], clear: Sequence[str] = ()) -> str:
        """The conflict clause: every non-key column takes the new value; ``clear`` columns become NULL."""
        keys = _names(primary_key)
        updates = [c for c in columns if c not in keys] or [keys[0]]
        if self.name == "sqlite":
            parts = [f"{self.quote(c)} = excluded.{self.quote(c)}" for c in updates]
            parts += [f"{self.quote(c)} = NULL" for c in clear]
            return f" ON CONFLICT ({', '.join(self.quote(k) for k in keys)}) DO UPDATE SET {', '.join(parts)}"
        parts = [f"{self.quote(c)} = NULL" for c in clear]
        if self.row_alias_upsert:
            alias = self.quote(ROW_ALIAS)
            parts = [f"{self.quote(c)} = {alias}.{self.quote(c)}" for c in updates] + parts
            return f" AS {alias} ON DUPLICATE KEY UPDATE {', '.join(parts)}"
        # MariaDB and TiDB have no row alias; VALUES() is theirs (deprecated only in MySQL 8.0.20+).
        parts = [f"{self.quote(c)} = VALUES({self.quote(c)})" for c in updates] + parts
        return f" ON DUPLICATE KEY UPDATE {', '.join(parts)}"

    def insert_if_absent(self, table: str, columns: Sequence[str], primary_key: str) -> str:
        """An INSERT of one row (placeholders) that leaves an existing row with the same key as it is."""
        names = ", ".join(self.quote(c) for c in columns)
        values = self.row_placeholders(len(columns))
        if self.name == "sqlite":
            return f"INSERT INTO {self.quote(table)} ({names}) VALUES {values} ON CONFLICT ({self.quote(primary_key)}) DO NOTHING"
        key = self.quote(primary_key)
        return f"INSERT INTO {self.quote(table)} ({names}) VALUES {values} ON DUPLICATE KEY UPDATE {key} = {key}"

    def key_compare(self, keys: Sequence[str], op: str, value: Any) -> tuple[str, list[Any]]:
        """``key > value`` or ``key <= value`` in key order, with its parameters.

        A composite key compares as a tuple, written out column by column
        (``a >= x AND (a > x OR (a = x AND b > y))``) so that the server can
        range-scan the primary key from its first column.
        """
        if op not in (">", "<="):
            raise ValueError(f"unsupported key comparison {op!r}")
        p = self.placeholder
        if len(keys) == 1:
            return f"{self.quote(keys[0])} {op} {p}", [value]
        values = list(value)
        strict = ">" if op == ">" else "<"
        terms, params = [], []
        for i in range(len(keys)):
            parts = [f"{self.quote(keys[j])} = {p}" for j in range(i)]
            parts.append(f"{self.quote(keys[i])} {op if i == len(keys) - 1 else strict} {p}")
            terms.append("(" + " AND ".join(parts) + ")")
            params += values[: i + 1]
        lead = f"{self.quote(keys[0])} {'>=' if op == '>' else '<='} {p}"
        return f"({lead} AND ({' OR '.join(terms)}))", [values[0], *params]

    def key_in(self, keys: Sequence[str], values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``key IN (...)`` for a batch of keys (tuples for a composite key), with its parameters."""
        p = self.placeholder
        if len(keys) == 1:
            return f"{self.quote(keys[0])} IN ({', '.join([p] * len(values))})", list(values)
        row = "(" + ", ".join([p] * len(keys)) + ")"
        columns = "(" + ", ".join(self.quote(k) for k in keys) + ")"
        return f"{columns} IN ({', '.join([row] * len(values))})", [v for value in values for v in value]

    def key_order(self, keys: Sequence[str]) -> str:
        return ", ".join(self.quote(k) for k in keys)

    def row_placeholders(self, width: int) -> str:
        return "(" + ", ".join([self.placeholder] * width) + ")"


def _names(primary_key: str | Sequence[str]) -> tuple[str, ...]:
    return (primary_key,) if isinstance(primary_key, str) else tuple(primary_key)


MYSQL_DIALECT = Dialect(
    name="mysql",
    placeholder="%s",
    quote_char="`",
    table_suffix=" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    server="mysql",
)
"""MySQL before 8.0.19, and what renders SQL before a server is known (benchmarks, plans)."""
MARIADB_DIALECT = dataclasses.replace(MYSQL_DIALECT, server="mariadb", key_collation="utf8mb4_nopad_bin")
MYSQL8_DIALECT = dataclasses.replace(
    MYSQL_DIALECT, server="mysql8", row_alias_upsert=True, key_collation="utf8mb4_0900_bin"
)
# TiDB's utf8mb4_bin pads with spaces and it has no binary NO PAD collation: keys with trailing spaces are refused.
TIDB_DIALECT = dataclasses.replace(MYSQL_DIALECT, server="tidb")
SQLITE_DIALECT = Dialect(name="sqlite", placeholder="?", quote_char='"', table_suffix="", server="sqlite")
DIALECTS = {d.name: d for d in (MYSQL_DIALECT, SQLITE_DIALECT)}


def dialect_for_server(version: str) -> Dialect:
    """The MySQL-family dialect for a server's ``SELECT VERSION()`` (``10.11.6-MariaDB``, ``8.4.3``, ``8.0.11-TiDB-v7.5.1``)."""
    lowered = version.lower()
    if "tidb" in lowered:
        return TIDB_DIALECT
    if "mariadb" in lowered:
        return MARIADB_DIALECT
    found = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if found and tuple(int(p) for p in found.groups()) >= (8, 0, 19):
        return MYSQL8_DIALECT
    return MYSQL_DIALECT
