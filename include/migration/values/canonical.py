"""The canonical row hash of ``docs/checksum.md``, a column at a time.

Each column becomes the canonical texts of its configured type with Arrow
kernels (integers, text, decimals at the column's scale, booleans, timestamps,
dates). Doubles (``%.17g``) and JSON documents (re-serialised with sorted keys)
have canonical forms Arrow cannot print; they are printed by the two column
functions below. The columns are length-prefixed and joined into each row's
canonical bytes, and only the SHA-256 runs once per row. Rows come as a checked
table (pages) or as a database driver's tuples (the target and the reference
remote read their tables), whose values may be objects or their text.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from include.migration.configuration.config import ColumnSpec, DataTypeSpec
from include.migration.values.text import decimal_text, timestamps_from_text
from include.migration.values.types import read_type

NULL_MARKER = b"\xff"  # never the first byte of a UTF-8 string, so NULL differs from every value
_MARKER = pa.scalar(NULL_MARKER, pa.binary())
_PRINTED_HERE = ("double", "json")
_BOOLEAN_TRUE_TEXT = ("1", "true")
_WIDEST_DECIMAL = pa.decimal256(76, 38)


class RowHasher:
    """Row hashes of one data type's rows, given as a checked table or as driver tuples in column order."""

    def __init__(self, spec: DataTypeSpec) -> None:
        self.spec = spec
        # Booleans come as bool or as 0/1 integers, depending on the driver: Arrow infers which.
        self._types = {i: read_type(c.type) for i, c in enumerate(spec.columns) if c.type.base != "boolean"}

    def hash_table(self, table: pa.Table) -> list[int]:
        """Hashes of the rows of ``table`` (columns in configured order)."""
        if table.num_rows == 0:
            return []
        texts = []
        for index, column in enumerate(self.spec.columns):
            values = table.column(index)
            values = values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
            texts.append(self.canonical_column(index, values))
        return hash_parts([prefixed(t) for t in texts])

    def hash_rows(self, rows: Sequence[Sequence[Any]]) -> list[int]:
        """Hashes of driver rows (tuples in configured column order)."""
        if not rows:
            return []
        columns = zip(*rows)
        return hash_parts([prefixed(self.canonical_column(i, values)) for i, values in enumerate(columns)])

    def canonical_column(self, index: int, values: pa.Array | Sequence[Any]) -> pa.Array:
        """Canonical texts of column ``index``'s values (an Arrow array or driver values); NULL stays null."""
        column = self.spec.columns[index]
        base = column.type.base
        if base == "double":
            return double_texts(values.to_pylist() if isinstance(values, pa.Array) else values)
        if base == "json":
            return json_document_texts(values.to_pylist() if isinstance(values, pa.Array) else values)
        if not isinstance(values, pa.Array):
            values = driver_array(values, column, self._types.get(index))
        return printed_text(column, values)


def printed_text(column: ColumnSpec, values: pa.Array) -> pa.Array:
    """Canonical texts of the types Arrow prints exactly."""
    base, kind = column.type.base, values.type
    if pa.types.is_null(kind):
        return pa.nulls(len(values), pa.string())
    if base == "boolean":
        truth = values if pa.types.is_boolean(kind) else pc.not_equal(values, 0)
        return pc.if_else(truth, "1", "0")
    if base == "decimal":
        return decimal_text(_at_scale(values, read_type(column.type)))
    if base == "timestamp":
        # UTC wall time (a zone is dropped keeping the instant), then ISO 8601 with "T" and "Z".
        text = pc.cast(values.cast(pa.timestamp("us", tz=kind.tz)).cast(pa.timestamp("us")), pa.string())
        date_part, time_part = pc.utf8_slice_codeunits(text, 0, 10), pc.utf8_slice_codeunits(text, 11, 26)
        return pc.binary_join_element_wise(date_part, "T", time_part, "Z", "")
    return pc.cast(values, pa.string())  # integers, text, dates


def driver_array(values: Sequence[Any], column: ColumnSpec, kind: pa.DataType | None) -> pa.Array:
    """A column of driver values; values a driver hands out as text (str or bytes) are read from their text."""
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        pass
    base = column.type.base
    if base == "decimal":
        try:
            return pa.array(values)  # Decimal objects of another scale: each exactly, rounded by _at_scale
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            pass
    text = pa.array([v.decode() if isinstance(v, (bytes, bytearray)) else None if v is None else str(v)
                     for v in values], pa.string())
    if base == "timestamp":
        return timestamps_from_text(text)
    if base == "date":
        return pc.utf8_slice_codeunits(text, 0, 10).cast(pa.date32())
    if base == "boolean":
        return pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(text)), pa.array(_BOOLEAN_TRUE_TEXT))
    if base == "decimal":
        return text.cast(_WIDEST_DECIMAL)
    return text.cast(kind) if kind is not None else text


def _at_scale(values: pa.Array, target: pa.DataType) -> pa.Array:
    """Decimals at the column's scale; a value with more fractional digits is rounded half to even, as specified."""
    if values.type == target:
        return values
    try:
        return values.cast(target)
    except pa.ArrowInvalid:
        return pc.round(values, ndigits=target.scale, round_mode="half_to_even").cast(target)


def double_texts(values: Sequence[Any]) -> pa.Array:
    """C ``printf("%.17g")`` of each double, ``-0.0`` as ``0`` (Arrow prints the shortest form instead)."""
    return pa.array([None if v is None else b"%.17g" % (float(v) + 0.0) for v in values], pa.binary())


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


# ---------------------------------------------------------------------------------------- JSON documents


def json_document_texts(values: Sequence[Any]) -> pa.Array:
    """The canonical text of each JSON document (given as text, bytes or decoded objects)."""
    return pa.array([None if v is None else _json_canonical(v) for v in values], pa.binary())


def _json_number(value: Any) -> Any:
    """Whole floats as integers (``1.0`` -> ``1``, ``-0.0`` -> ``0``): databases disagree on keeping them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _json_number(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_number(v) for v in value]
    return value


def _json_reference(value: Any) -> bytes:
    """The canonical JSON text as specified (``json.dumps``): the slow, always-applicable form."""
    if isinstance(value, (str, bytes, bytearray)):
        value = json.loads(value)
    value = _json_number(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _canonical_float(text: str) -> Any:
    """A JSON number with a fraction or exponent: an integer when whole, else Python's ``repr`` verbatim."""
    number = float(text)
    if number.is_integer():
        return int(number)
    if math.isfinite(number):
        return msgspec.Raw(repr(number).encode())
    return msgspec.Raw(json.dumps(number).encode())  # 1e400 reads as inf; json.dumps writes Infinity


_JSON_DECODER = msgspec.json.Decoder(float_hook=_canonical_float)
_JSON_ENCODER = msgspec.json.Encoder(order="sorted")


def _json_canonical(value: Any) -> bytes:
    # msgspec writes what json.dumps writes (keys sorted by code point, the same string escapes)
    # except for floats, which the decoder's hook turns into whole integers or repr() text.
    try:
        text = value if isinstance(value, (str, bytes, bytearray)) else json.dumps(value, ensure_ascii=False)
        return _JSON_ENCODER.encode(_JSON_DECODER.decode(text))
    except (msgspec.MsgspecError, TypeError, ValueError, UnicodeError, OverflowError):
        return _json_reference(value)
