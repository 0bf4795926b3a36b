"""A JSON page's values as Arrow columns of the types JSON itself gives them.

A column whose values share one JSON kind becomes one Arrow array in a single
call (pyarrow walks the decoded values in C): integers, floats, strings,
booleans, objects. A json column becomes its documents' compact text with keys
sorted. A column that mixes kinds (a decimal column of numbers and strings, an
integer column with a ``true`` in it) has no single Arrow type; the caller then
checks it value by value through the same column checks (:func:`single_value_array`).
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from typing import Any

import msgspec
import pyarrow as pa

from include.migration.configuration.config import ColumnSpec

_ENCODE = msgspec.json.Encoder(order="sorted").encode
# Integers a double holds exactly: a column mixing larger ones with floats keeps them apart.
_EXACT_IN_DOUBLE = 2**53
_INT64 = (-(2**63), 2**63 - 1)
_INFERENCE_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError)


def json_texts(values: Sequence[Any]) -> pa.Array:
    """The documents of a json column as compact JSON text with sorted keys (NULL stays NULL)."""
    encode = _ENCODE
    return pa.array([None if v is None else encode(v) for v in values], pa.binary()).cast(pa.string())


def natural_array(values: Sequence[Any], column: ColumnSpec) -> pa.Array | None:
    """The column as one Arrow array of its values' JSON kind, or None when the values mix kinds."""
    try:
        array = pa.array(values, from_pandas=False)
    except _INFERENCE_ERRORS:
        return None
    if pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
        return None  # no JSON value is bytes: strings among bytes are checked one by one
    if pa.types.is_floating(array.type):
        # Arrow reads true as 1.0 among floats, and integers beside floats as doubles (exact only up to 2**53).
        if any(type(v) is bool for v in values):
            return None
        if column.type.base in ("int", "bigint", "decimal") and any(
            type(v) is int and not -_EXACT_IN_DOUBLE <= v <= _EXACT_IN_DOUBLE for v in values
        ):
            return None
    return array


def single_value_array(value: Any, column: ColumnSpec) -> pa.Array:
    """One JSON value as a one-element Arrow array of its own kind (for mixed columns and single checks)."""
    if column.type.base == "json":
        return json_texts([value])
    if value is None or isinstance(value, (bool, float, str)):
        return pa.array([value])
    if isinstance(value, int):
        if _INT64[0] <= value <= _INT64[1]:
            return pa.array([value], pa.int64())
        digits = len(str(abs(value)))
        if digits <= 76:
            return pa.array([decimal.Decimal(value)], pa.decimal256(76, 0))
        return pa.array([str(value)], pa.string())
    try:
        return pa.array([value])
    except _INFERENCE_ERRORS:
        return pa.array([_ENCODE(value).decode()], pa.large_string())
