"""Source row values -> JSON-ready values, as the remote API contract fixes them.

- bigint, int, varchar, text, boolean, json: the value itself;
- decimal: a string with the exact value in plain notation (``"1234.50"``);
- double: a JSON number;
- timestamp: ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (naive values are UTC);
- date: ``YYYY-MM-DD``;
- NULL: ``null``.

A page is encoded a column at a time from its checked Arrow table
(:func:`json_rows`): Arrow prints decimals, timestamps and dates, and a JSON
column's text goes into the page as it is (``msgspec.Raw``), so no value is
parsed again on the way. The per-value encoders below serve single values:
the misfit search that names a refused value, and ``value_fit.check_rows``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from include.migration.configuration.config import ColumnType, DataTypeSpec
from include.migration.values.text import decimal_text as decimal_column_text
from include.migration.values.timestamps import wire_timestamp

ValueEncoder = Callable[[Any], Any]
RowEncoder = Callable[[Sequence[Any]], list[Any]]

_ENCODE_ERRORS = (TypeError, ValueError, AttributeError, ArithmeticError)


class EncodingError(ValueError):
    """A source value does not fit its configured column type."""


def decimal_text(value: Decimal | int | float | str) -> str:
    """The exact decimal in plain notation: ``Decimal("1.2E+3")`` -> ``"1200"``."""
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, bool):
        raise TypeError(f"expected a decimal, got {value!r}")
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, (int, str)):
        number = Decimal(value)
    else:
        raise TypeError(f"expected a decimal, got {type(value).__name__}")
    if not number.is_finite():
        raise ValueError(f"decimal value {value!r} is not finite")
    return format(number, "f")


def timestamp_text(value: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC; a naive datetime is taken to be UTC."""
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    return wire_timestamp(value)


def date_text(value: dt.date) -> str:
    """``YYYY-MM-DD``."""
    if isinstance(value, dt.datetime):
        value = value.date()
    elif not isinstance(value, dt.date):
        raise TypeError(f"expected a date, got {type(value).__name__}")
    return value.isoformat()


def double_value(value: float | int | Decimal) -> float:
    """A float for a JSON number."""
    if isinstance(value, (bool, str)):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


_CONVERTERS: dict[str, ValueEncoder | None] = {
    "bigint": None,
    "int": None,
    "varchar": None,
    "text": None,
    "boolean": None,
    "json": None,
    "decimal": decimal_text,
    "double": double_value,
    "timestamp": timestamp_text,
    "date": date_text,
}


def value_encoder(column_type: ColumnType) -> ValueEncoder | None:
    """The converter for one column type, ``None`` when the value is sent as it is (NULLs excluded)."""
    return _CONVERTERS[column_type.base]


def encode_value(column_type: ColumnType, value: Any) -> Any:
    """Encode a single value; ``None`` stays ``None``."""
    converter = value_encoder(column_type)
    if value is None or converter is None:
        return value
    return converter(value)


def row_encoder(spec: DataTypeSpec) -> RowEncoder:
    """An encoder for rows whose values are in ``spec.columns`` order.

    Raises :class:`EncodingError` naming the data type, row key and column when a
    value does not fit its type.
    """
    converters = tuple(value_encoder(c.type) for c in spec.columns)
    if all(c is None for c in converters):
        return list

    def encode(row: Sequence[Any]) -> list[Any]:
        try:
            return [v if f is None or v is None else f(v) for f, v in zip(converters, row)]
        except _ENCODE_ERRORS:
            raise _explain(spec, converters, row) from None

    return encode


def _explain(spec: DataTypeSpec, converters: tuple[ValueEncoder | None, ...], row: Sequence[Any]) -> EncodingError:
    """Find the failing column again (off the hot path) and describe it."""
    key = spec.key_of(row)
    for column, converter, value in zip(spec.columns, converters, row):
        if converter is None or value is None:
            continue
        try:
            converter(value)
        except _ENCODE_ERRORS as exc:
            return EncodingError(
                f"data type {spec.name!r}, key {key!r}: column {column.name!r} ({column.type}) "
                f"cannot be encoded from {type(value).__name__} {value!r}: {exc}"
            )
    return EncodingError(f"data type {spec.name!r}, key {key!r}: row cannot be encoded")


def json_rows(table: pa.Table, spec: DataTypeSpec) -> list[tuple[Any, ...]]:
    """The rows of a checked wire-schema page ``table`` with every value in its JSON page form."""
    return list(zip(*(_json_column(column, c.type) for column, c in zip(table.columns, spec.columns))))


def _json_column(column: pa.ChunkedArray, column_type: ColumnType) -> list[Any]:
    base = column_type.base
    values = column.combine_chunks()
    if base == "decimal":
        return decimal_column_text(values).to_pylist()
    if base == "date":
        return pc.cast(values, pa.string()).to_pylist()
    if base == "timestamp":
        # Microsecond timestamps print their seconds with six digits: the API's ``...SS.ffffffZ``.
        return pc.strftime(values, format="%Y-%m-%dT%H:%M:%SZ").to_pylist()
    if base == "json":
        return [None if v is None else msgspec.Raw(v.encode()) for v in values.to_pylist()]
    return values.to_pylist()
