"""The canonical row text of ``docs/checksum.md``, printed by the database itself.

Integers, text, decimals, booleans, timestamps and dates have canonical texts
SQL can print exactly; doubles (17 significant digits) and JSON documents
(re-serialised with sorted keys) do not, and are made canonical in Python. A
row is read as runs of printed columns, each run one prefixed and ``;``-joined
binary segment, with the other columns' values between them; when every column
is printable the database hashes the whole row and only 16 hex digits cross
the network. The results equal :class:`~include.migration.values.canonical.RowHasher`'s
(tested against MariaDB and PostgreSQL).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa

from include.migration.configuration.config import ColumnSpec, DataTypeSpec
from include.migration.configuration.identifiers import quote_identifier
from include.migration.values.canonical import RowHasher, hash_parts, prefixed

_NOT_PRINTABLE = ("double", "json")


@dataclasses.dataclass(frozen=True)
class CanonicalSql:
    """One engine's SQL for a column's prefixed canonical text, a segment and a row hash."""

    quote: Callable[[str], str]
    text: Callable[[str, str], str]
    """(base type, quoted column) -> SQL of the canonical text (NULL when the value is NULL)."""
    prefixed: Callable[[str], str]
    """canonical text SQL -> SQL of ``<bytes>:<text>`` as binary, or the NULL marker byte."""
    segment: Callable[[Sequence[str]], str]
    """prefixed parts -> SQL joining them with ``;``."""
    row_hash_hex: Callable[[str], str]
    """segment -> SQL of the first 8 bytes of its SHA-256 in hex."""
    value: Callable[[str, str], str] = lambda base, name: name
    """(base type, quoted column) -> SQL reading a column made canonical in Python."""

    def column(self, column: ColumnSpec) -> str | None:
        if column.type.base in _NOT_PRINTABLE:
            return None
        return self.prefixed(self.text(column.type.base, self.quote(column.name)))


def _mysql_text(base: str, name: str) -> str:
    if base in ("varchar", "text"):
        return name
    if base == "boolean":
        return f"IF({name} <> 0, '1', '0')"
    if base == "timestamp":  # DATETIME(6) prints all six fraction digits
        return f"CONCAT(REPLACE(CAST({name} AS CHAR), ' ', 'T'), 'Z')"
    return f"CAST({name} AS CHAR)"  # integers, decimals (every scale digit, plain notation), dates


def _postgres_text(base: str, name: str) -> str:
    if base in ("varchar", "text"):
        return name
    if base == "boolean":
        return f"CASE WHEN {name} THEN '1' ELSE '0' END"
    if base == "timestamp":
        return f"to_char({name} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    if base == "date":
        return f"to_char({name}, 'YYYY-MM-DD')"
    return f"{name}::text"  # integers; numeric(p,s) prints every scale digit, never an exponent


MYSQL_CANONICAL = CanonicalSql(
    quote=lambda name: quote_identifier(name, "`"),
    text=_mysql_text,
    # Binary throughout: the marker byte is no character, and text keeps its UTF-8 bytes.
    prefixed=lambda t: f"IFNULL(CAST(CONCAT(LENGTH({t}), ':', {t}) AS BINARY), _binary X'FF')",
    segment=lambda parts: f"CONCAT_WS(';', {', '.join(parts)})",
    row_hash_hex=lambda segment: f"LEFT(SHA2({segment}, 256), 16)",
)
POSTGRES_CANONICAL = CanonicalSql(
    quote=lambda name: quote_identifier(name, '"'),
    text=_postgres_text,
    prefixed=lambda t: f"coalesce(convert_to(octet_length({t})::text || ':' || {t}, 'UTF8'), '\\xff'::bytea)",
    segment=lambda parts: "(" + " || '\\x3b'::bytea || ".join(parts) + ")",
    row_hash_hex=lambda segment: f"encode(substring(sha256({segment}) from 1 for 8), 'hex')",
    # JSON as its text: the driver would parse it into objects only for us to print them again.
    value=lambda base, name: f"{name}::text" if base == "json" else name,
)


@dataclasses.dataclass(frozen=True)
class ServerSideHashing:
    """What to select for a data type's row hashes, and how to finish them; see the module docs."""

    expressions: tuple[str, ...]
    parts: tuple[int | None, ...]
    """Per expression: None for a segment, else the column index of a value to make canonical here."""
    whole_row: bool
    """The single expression is the row hash in hex."""

    @classmethod
    def plan(cls, sql: CanonicalSql, spec: DataTypeSpec) -> ServerSideHashing | None:
        """None when no column is printable (nothing to gain)."""
        texts = [sql.column(c) for c in spec.columns]
        if all(t is None for t in texts):
            return None
        expressions: list[str] = []
        parts: list[int | None] = []
        run: list[str] = []
        for index, (column, text) in enumerate(zip(spec.columns, texts)):
            if text is not None:
                run.append(text)
                continue
            if run:
                expressions.append(sql.segment(run))
                parts.append(None)
                run = []
            expressions.append(sql.value(column.type.base, sql.quote(column.name)))
            parts.append(index)
        if run:
            expressions.append(sql.segment(run))
            parts.append(None)
        if parts == [None]:
            return cls((sql.row_hash_hex(expressions[0]),), (None,), whole_row=True)
        return cls(tuple(expressions), tuple(parts), whole_row=False)

    def hash_rows(self, rows: Sequence[Sequence[Any]], hasher: RowHasher, offset: int = 0) -> list[int]:
        """Row hashes from rows holding :attr:`expressions`' values from position ``offset`` on."""
        if self.whole_row:
            return [int(row[offset], 16) for row in rows]
        arrays = []
        for position, column_index in enumerate(self.parts, start=offset):
            values = [row[position] for row in rows]
            if column_index is None:
                arrays.append(pa.array([bytes(v) for v in values], pa.binary()))
            else:
                arrays.append(prefixed(hasher.canonical_column(column_index, values)))
        return hash_parts(arrays)
