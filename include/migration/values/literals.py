"""Checked Arrow tables -> MySQL ``VALUES`` row literals, a column at a time: the package's only SQL literals.

Each column becomes an array of SQL literals with Arrow compute kernels (no
Python object per value), the columns are joined into ``(v1,v2,...),`` row
texts, and a statement's rows are one contiguous slice of the joined buffer.
Strings escape what the server requires inside a quoted literal, the
backslash and the quote (the MySQL manual: "strictly speaking, MySQL requires
only that backslash and the quote character used to quote the string in the
query be escaped"), plus line breaks so that a statement stays one line in the
server's logs; the driver's other escapes (``"``, NUL, Ctrl-Z) cost a pass over
the text each and change nothing the server stores. With ``NO_BACKSLASH_ESCAPES``
the quote is doubled and nothing else can be escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from include.migration.configuration.config import ColumnSpec
from include.migration.values.text import decimal_text

_NUMBER_BASES = ("int", "bigint", "double")
_QUOTED_BASES = ("timestamp", "date")
# The backslash first: the later escapes add backslashes of their own.
_ESCAPES = (("\\", "\\\\"), ("'", "\\'"), ("\n", "\\n"), ("\r", "\\r"))


class RenderedTable:
    """Row literals of one converted page; ``part(start, stop)`` is those rows joined by commas."""

    def __init__(self, rows: pa.Array) -> None:
        # Every row text ends with "," so that a run of rows is one slice of the data buffer.
        _, offsets, self._data = rows.buffers()
        self._positions = np.frombuffer(offsets, dtype=np.int32, count=len(rows) + 1, offset=4 * rows.offset)
        self.sizes: list[int] = (np.diff(self._positions) - 1).tolist()

    def part(self, start: int, stop: int) -> bytes:
        """Rows ``start``..``stop - 1`` as ``(..),(..)`` (no trailing comma)."""
        begin, end = int(self._positions[start]), int(self._positions[stop]) - 1
        return self._data[begin:end].to_pybytes()


def render_table(table: pa.Table, columns: Sequence[ColumnSpec], *, backslash_escapes: bool = True) -> RenderedTable:
    """Row literals of ``table`` (converted: columns in ``columns`` order, target-ready types)."""
    if table.num_rows == 0:
        return RenderedTable(pa.array([], pa.string()))
    literals = [
        _literals(_single_chunk(table.column(i)), column, backslash_escapes) for i, column in enumerate(columns)
    ]
    joined = pc.binary_join_element_wise(*literals, ",") if len(literals) > 1 else literals[0]
    rows = pc.binary_join_element_wise("(", joined, "),", "")
    if pa.types.is_large_string(rows.type):
        raise ValueError("a page over 2 GiB of SQL text cannot be rendered")
    return RenderedTable(rows)


def _single_chunk(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _literals(values: pa.Array, column: ColumnSpec, backslash_escapes: bool) -> pa.Array:
    base = column.type.base
    if base == "decimal":
        text = decimal_text(values)  # plain notation: an exponent would make it an approximate DOUBLE literal
    elif base in _NUMBER_BASES:
        text = pc.cast(values, pa.string())  # integers; doubles in the shortest form that reads back the same
    elif base == "boolean":
        text = pc.if_else(values, "1", "0")
    elif base in _QUOTED_BASES:
        # Casts give 'YYYY-MM-DD HH:MM:SS.ffffff' / 'YYYY-MM-DD' for naive microsecond timestamps and dates.
        text = pc.binary_join_element_wise("'", pc.cast(values, pa.string()), "'", "")
    else:  # varchar, text, json
        if backslash_escapes:
            escaped = values
            for character, escape in _ESCAPES:
                escaped = pc.replace_substring(escaped, character, escape)
        else:
            escaped = pc.replace_substring(values, "'", "''")
        text = pc.binary_join_element_wise("'", escaped, "'", "")
    return pc.fill_null(text, "NULL") if values.null_count else text
