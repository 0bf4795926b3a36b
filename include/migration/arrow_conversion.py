"""Conversion of Arrow pages: the checks of ``conversion.py``, a whole column at a time.

The page's columns are matched to the configured ones by name, checked against
their column types with Arrow compute kernels (NOT NULL, integer range, varchar
length in characters, text length in bytes, decimal precision and scale without
rounding, finite doubles, timestamp and date years, JSON text that parses) and
cast to the types the target renderer takes: naive UTC microsecond timestamps,
``decimal(p,s)`` of the column, ``int32`` for ``int``. The first value that does
not fit fails the page with the same :class:`ConversionError` as a JSON page
(installation, data type, key, column, value), found again value by value off
the hot path.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from include.migration.arrow_pages import wire_type
from include.migration.checksum import wire_timestamp
from include.migration.config import ColumnSpec, DataTypeSpec
from include.migration.conversion import HeaderMismatchError, RowConverter, conversion_error, value_problem

_TEXT_MAX_BYTES = 65_535
_EPOCH = dt.datetime(1970, 1, 1)
_US_1000 = int((dt.datetime(1000, 1, 1) - _EPOCH) / dt.timedelta(microseconds=1))
_US_10000 = int((dt.datetime(9999, 12, 31) - _EPOCH) / dt.timedelta(microseconds=1)) + 86_400_000_000
_DAY_1 = (dt.date(1, 1, 1) - _EPOCH.date()).days
_DAY_9999 = (dt.date(9999, 12, 31) - _EPOCH.date()).days
_TARGET_TIMESTAMP = pa.timestamp("us")
_INT_BOUNDS = {"int": (-(2**31), 2**31 - 1), "bigint": (-(2**63), 2**63 - 1)}


def _keys(table: pa.Table, positions: list[int]) -> pa.ChunkedArray:
    """The key of each row for error messages: its key column, or a struct of a composite key's columns."""
    if len(positions) == 1:
        return table.column(positions[0])
    return pa.chunked_array([pa.StructArray.from_arrays(
        [table.column(p).combine_chunks() for p in positions], names=[str(i) for i in range(len(positions))])])


def _key_at(keys: pa.ChunkedArray, index: int) -> Any:
    key = keys[index].as_py()
    return tuple(key.values()) if isinstance(key, dict) else key


class ArrowConverter:
    """Checks and casts the Arrow pages of one data type; the output is ready for the target renderer."""

    def __init__(self, installation_id: str, data_type: DataTypeSpec) -> None:
        self.installation_id = installation_id
        self.data_type = data_type
        self._headers = RowConverter(installation_id, data_type)
        self._json = msgspec.json.Decoder()

    def convert(self, table: pa.Table) -> pa.Table:
        """The page's columns in configured order, checked and cast; raises :class:`ConversionError`."""
        order = self._headers.column_order(table.column_names)
        spec = self.data_type
        keys = _keys(table, [order[i] for i in spec.key_indexes])
        arrays = []
        for position, column in zip(order, spec.columns):
            values = table.column(position)
            values = values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
            arrays.append(self._column(values, column, keys))
        return pa.Table.from_arrays(arrays, names=list(spec.column_names))

    # ------------------------------------------------------------------ per column

    def _column(self, values: pa.Array, column: ColumnSpec, keys: pa.ChunkedArray) -> pa.Array:
        if values.null_count and not column.nullable:
            self._fail_at(_first(pc.is_null(values)), column, values, keys)
        base = column.type.base
        kind = values.type
        check = _CHECKS.get(base)
        if check is None or not check.accepts(kind):
            raise HeaderMismatchError(
                f"installation {self.installation_id!r}, data type {self.data_type.name!r}: column {column.name!r} "
                f"({column.type}) arrives as Arrow type {kind}, expected {wire_type(column.type)}; "
                "fix the remote or the column type in the configuration"
            )
        bad = check.invalid(values, column)
        if bad is not None and pc.any(bad).as_py():
            self._fail_at(_first(bad), column, values, keys)
        if base == "json":
            self._check_json(values, column, keys)
        try:
            return check.cast(values, column)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            # A value the cast cannot take exactly (decimal digits, ...): find and name it.
            for index in range(len(values)):
                try:
                    check.cast(values.slice(index, 1), column)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    self._fail_at(index, column, values, keys)
            raise

    def _check_json(self, values: pa.Array, column: ColumnSpec, keys: pa.ChunkedArray) -> None:
        decode = self._json.decode
        for index, text in enumerate(values.to_pylist()):
            if text is None:
                continue
            try:
                decode(text)
            except msgspec.DecodeError as exc:
                raise conversion_error(
                    self.installation_id, self.data_type, _key_at(keys, index), column, text, f"invalid JSON text: {exc}"
                ) from None

    def _fail_at(self, index: int, column: ColumnSpec, values: pa.Array, keys: pa.ChunkedArray) -> None:
        key = _key_at(keys, index)
        try:
            value = _wire_value(values[index].as_py())
            why = value_problem(column, value) or _out_of_range(column, values.type)
        except (ValueError, OverflowError):  # e.g. year 10000, which Python's datetime cannot hold
            value = values.slice(index, 1).cast(pa.string())[0].as_py()
            why = f"{column.type.base} {value!r} is outside years 1000-9999"
        raise conversion_error(self.installation_id, self.data_type, key, column, value, why)


class _Check:
    """What an Arrow column of one configured base type may arrive as, what is invalid, and its cast."""

    def __init__(
        self,
        accepts: Callable[[pa.DataType], bool],
        invalid: Callable[[pa.Array, ColumnSpec], pa.Array | None],
        cast: Callable[[pa.Array, ColumnSpec], pa.Array],
    ) -> None:
        self.accepts = accepts
        self.invalid = invalid
        self.cast = cast


def _first(mask: pa.Array) -> int:
    return int(pc.index(mask, True).as_py())


def _no_check(values: pa.Array, column: ColumnSpec) -> None:
    return None


def _int_invalid(values: pa.Array, column: ColumnSpec) -> pa.Array | None:
    low, high = _INT_BOUNDS[column.type.base]
    if pa.types.is_signed_integer(values.type) and values.type.bit_width <= (32 if column.type.base == "int" else 64):
        return None
    if pa.types.is_unsigned_integer(values.type):
        return pc.greater(values, pa.scalar(high, pa.uint64()))
    return pc.or_(pc.less(values, low), pc.greater(values, high))


def _varchar_invalid(values: pa.Array, column: ColumnSpec) -> pa.Array:
    return pc.greater(pc.utf8_length(values), column.type.length)


def _text_invalid(values: pa.Array, column: ColumnSpec) -> pa.Array:
    return pc.greater(pc.binary_length(values), _TEXT_MAX_BYTES)


def _double_invalid(values: pa.Array, column: ColumnSpec) -> pa.Array | None:
    if not pa.types.is_floating(values.type):
        return None
    return pc.invert(pc.is_finite(values))


def _timestamp_invalid(values: pa.Array, column: ColumnSpec) -> pa.Array:
    micros = pc.cast(pc.cast(values, pa.timestamp("us", tz=values.type.tz)), pa.int64())
    return pc.or_(pc.less(micros, _US_1000), pc.greater_equal(micros, _US_10000))


def _date_invalid(values: pa.Array, column: ColumnSpec) -> pa.Array:
    days = pc.cast(pc.cast(values, pa.date32()), pa.int32())
    return pc.or_(pc.less(days, _DAY_1), pc.greater(days, _DAY_9999))


def _to_timestamp(values: pa.Array, column: ColumnSpec) -> pa.Array:
    # A timestamp with a zone holds UTC instants; dropping the zone keeps them, so the target gets UTC.
    return pc.cast(values.cast(pa.timestamp("us", tz=values.type.tz)), _TARGET_TIMESTAMP)


def _cast_to_wire(values: pa.Array, column: ColumnSpec) -> pa.Array:
    return values.cast(wire_type(column.type), safe=True)


def _is_string(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _to_string(values: pa.Array, column: ColumnSpec) -> pa.Array:
    return values.cast(pa.string())


_CHECKS: dict[str, _Check] = {
    "bigint": _Check(pa.types.is_integer, _int_invalid, _cast_to_wire),
    "int": _Check(pa.types.is_integer, _int_invalid, _cast_to_wire),
    "varchar": _Check(_is_string, _varchar_invalid, _to_string),
    "text": _Check(_is_string, _text_invalid, _to_string),
    "json": _Check(_is_string, _no_check, _to_string),
    "decimal": _Check(lambda k: pa.types.is_decimal(k) or pa.types.is_integer(k), _no_check, _cast_to_wire),
    "double": _Check(lambda k: pa.types.is_floating(k) or pa.types.is_integer(k), _double_invalid, _cast_to_wire),
    "boolean": _Check(pa.types.is_boolean, _no_check, _cast_to_wire),
    "timestamp": _Check(pa.types.is_timestamp, _timestamp_invalid, _to_timestamp),
    "date": _Check(lambda k: pa.types.is_date(k), _date_invalid, lambda v, c: v.cast(pa.date32())),
}


def _wire_value(value: Any) -> Any:
    """A Python value from Arrow in the form a JSON page would carry it (for the shared error checks)."""
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return wire_timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _out_of_range(column: ColumnSpec, kind: pa.DataType) -> str:
    return f"value of Arrow type {kind} does not fit {column.type}"


def table_rows(table: pa.Table) -> list[tuple[Any, ...]]:
    """A converted table as row tuples (for targets that bind values instead of rendering columns)."""
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return list(zip(*columns))

