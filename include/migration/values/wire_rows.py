"""Rows read from a database -> the data pages' JSON wire form, a column at a time (for rows sent back to a remote).

Decimals, timestamps and dates travel as their canonical text (``canonical.py``:
plain decimals at the column's scale, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``,
``YYYY-MM-DD``), booleans as booleans, doubles as numbers, JSON documents as
JSON values; everything else as the driver gave it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from include.migration.configuration.config import DataTypeSpec
from include.migration.values.canonical import driver_array, printed_text
from include.migration.values.types import read_type

_AS_TEXT = ("decimal", "timestamp", "date")


def wire_rows(spec: DataTypeSpec, rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Driver rows (``spec``'s columns in order) as JSON page rows."""
    if not rows:
        return []
    columns = [_wire_column(spec, index, values) for index, values in enumerate(zip(*rows))]
    return [list(row) for row in zip(*columns)]


def _wire_column(spec: DataTypeSpec, index: int, values: Sequence[Any]) -> list[Any]:
    column = spec.columns[index]
    base = column.type.base
    if base in _AS_TEXT:
        return printed_text(column, driver_array(values, column, read_type(column.type))).to_pylist()
    if base == "boolean":
        array = pa.array(values)
        return (array if pa.types.is_boolean(array.type) else pc.not_equal(array, 0)).to_pylist()
    if base == "double":
        return pa.array(values, pa.float64()).to_pylist()
    if base == "json":
        decode = msgspec.json.decode
        return [decode(v) if isinstance(v, (str, bytes, bytearray)) else v for v in values]
    return list(values)
