"""The canonical row hash of ``checksum.py`` (``docs/checksum.md``), a column at a time with Arrow.

Each column becomes its canonical texts with Arrow kernels (integers, text,
decimals at the column's scale, booleans, timestamps, dates); doubles and JSON
documents, whose canonical forms Arrow cannot print, go value by value through
``checksum.py``'s own functions. The columns are then length-prefixed, joined
into each row's canonical bytes, and only the SHA-256 runs once per row. The
hashes equal :class:`~include.migration.checksum.RowHasher`'s, value for value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from include.migration.arrow_pages import wire_type
from include.migration.arrow_text import decimal_text
from include.migration.checksum import NULL_MARKER, RowHasher, canonical_for
from include.migration.config import ColumnSpec, ColumnType, DataTypeSpec

_MARKER = pa.scalar(NULL_MARKER, pa.binary())
_PER_VALUE = ("double", "json")


class ArrowRowHasher:
    """Row hashes of one data type's rows, given as an Arrow table or as row tuples in column order."""

    def __init__(self, spec: DataTypeSpec) -> None:
        self.spec = spec
        self._rows = RowHasher(spec)
        self._canonical_of = [canonical_for(c.type) for c in spec.columns]
        self._per_value = {i for i, c in enumerate(spec.columns) if c.type.base in _PER_VALUE}
        # Booleans come as bool or as 0/1 integers, depending on the driver: Arrow infers which.
        self._types = {i: read_type(c.type) for i, c in enumerate(spec.columns) if c.type.base != "boolean"}

    def hash_rows(self, rows: Sequence[Sequence[Any]]) -> list[int]:
        """Hashes of row tuples (values as a driver returns them); rows Arrow cannot take are hashed one by one."""
        if not rows:
            return []
        try:
            texts = [
                self.canonical_values(index, values) if index in self._per_value else
                self._canonical(column, _array(values, self._types.get(index)))
                for index, (column, values) in enumerate(zip(self.spec.columns, zip(*rows)))
            ]
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            # Values Arrow cannot take (a zero date, ...): one by one, text as text.
            return [self._rows.hash([_text(v) for v in row]) for row in rows]
        return _hashes(texts)

    def hash_table(self, table: pa.Table) -> list[int]:
        """Hashes of the rows of ``table`` (columns in configured order)."""
        if table.num_rows == 0:
            return []
        texts = []
        for index, column in enumerate(self.spec.columns):
            values = table.column(index)
            values = values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
            if index in self._per_value:
                texts.append(self.canonical_values(index, values.to_pylist()))
            else:
                texts.append(self._canonical(column, values))
        return _hashes(texts)

    def canonical_values(self, index: int, values: Sequence[Any]) -> pa.Array:
        """Canonical texts of column ``index``'s values (NULL stays null), value by value."""
        canonical = self._canonical_of[index]
        return pa.array([None if v is None else canonical(v) for v in values], pa.binary())

    @staticmethod
    def _canonical(column: ColumnSpec, values: pa.Array) -> pa.Array:
        base, kind = column.type.base, values.type
        if pa.types.is_null(kind):
            return pa.nulls(len(values), pa.string())
        if base == "boolean":
            truth = values if pa.types.is_boolean(kind) else pc.not_equal(values, 0)
            return pc.if_else(truth, "1", "0")
        if base == "decimal":
            target = read_type(column.type)
            return decimal_text(values if kind == target else values.cast(target))
        if base == "timestamp":
            # UTC wall time (a zone is dropped keeping the instant), then ISO 8601 with "T" and "Z".
            text = pc.cast(values.cast(pa.timestamp("us", tz=kind.tz)).cast(pa.timestamp("us")), pa.string())
            date_part, time_part = pc.utf8_slice_codeunits(text, 0, 10), pc.utf8_slice_codeunits(text, 11, 26)
            return pc.binary_join_element_wise(date_part, "T", time_part, "Z", "")
        return pc.cast(values, pa.string())  # integers, text, dates


def _array(values: Sequence[Any], kind: pa.DataType | None) -> pa.Array:
    """A column of driver values; decimals, dates and timestamps may come as text (str or bytes)."""
    if kind is not None and (pa.types.is_decimal(kind) or pa.types.is_temporal(kind)):
        sample = next((v for v in values if v is not None), None)
        if isinstance(sample, (bytes, str)):
            return pa.array(values, pa.binary() if isinstance(sample, bytes) else pa.string()).cast(pa.string()).cast(kind)
    return pa.array(values, type=kind)


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _hashes(texts: Sequence[pa.Array]) -> list[int]:
    return hash_parts([prefixed(text) for text in texts])


def prefixed(text: pa.Array) -> pa.Array:
    """Canonical texts as ``<byte length>:<text>``, NULL as the marker."""
    text = text.cast(pa.binary())
    length = pc.cast(pc.binary_length(text), pa.string()).cast(pa.binary())
    return pc.fill_null(pc.binary_join_element_wise(length, text, b":"), _MARKER)


def hash_parts(parts: Sequence[pa.Array]) -> list[int]:
    """Row hashes from the rows' prefixed parts, in column order: joined with ``;``, SHA-256 per row."""
    joined = pc.binary_join_element_wise(*parts, b";") if len(parts) > 1 else parts[0]
    sha256, from_bytes = hashlib.sha256, int.from_bytes
    return [from_bytes(sha256(row).digest()[:8], "big") for row in joined.to_pylist()]


def read_type(column_type: ColumnType) -> pa.DataType:
    """The Arrow type a column's values are hashed from: the wire type, with naive UTC timestamps, any int."""
    if column_type.base in ("bigint", "int"):
        return pa.int64()
    if column_type.base == "timestamp":
        return pa.timestamp("us")
    return wire_type(column_type)
