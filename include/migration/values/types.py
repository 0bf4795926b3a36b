"""The Arrow type of each configured column type: on the wire, after the checks, and when hashed."""

from __future__ import annotations

import pyarrow as pa

from include.migration.configuration.config import ColumnType, DataTypeSpec


def wire_type(column_type: ColumnType) -> pa.DataType:
    """The Arrow type a column of ``column_type`` travels as in an Arrow page."""
    base = column_type.base
    if base == "bigint":
        return pa.int64()
    if base == "int":
        return pa.int32()
    if base in ("varchar", "text", "json"):
        return pa.string()
    if base == "decimal":
        assert column_type.precision is not None and column_type.scale is not None
        factory = pa.decimal128 if column_type.precision <= 38 else pa.decimal256
        return factory(column_type.precision, column_type.scale)
    if base == "double":
        return pa.float64()
    if base == "boolean":
        return pa.bool_()
    if base == "timestamp":
        return pa.timestamp("us", tz="UTC")
    if base == "date":
        return pa.date32()
    raise AssertionError(f"no Arrow type for {column_type}")


def wire_schema(spec: DataTypeSpec) -> pa.Schema:
    """The schema of ``spec``'s Arrow pages, columns in configured order."""
    return pa.schema([pa.field(c.name, wire_type(c.type), nullable=c.nullable) for c in spec.columns])


def checked_type(column_type: ColumnType) -> pa.DataType:
    """The Arrow type of a checked column, as the target takes it: the wire type with naive UTC timestamps."""
    if column_type.base == "timestamp":
        return pa.timestamp("us")
    return wire_type(column_type)


def read_type(column_type: ColumnType) -> pa.DataType:
    """The Arrow type a column's values are hashed from: the checked type, widened where the hash does not care.

    Any integer as int64; a decimal at its scale but the widest precision, since the canonical text
    depends on the scale alone (a source may hold a value wider than the declared column).
    """
    if column_type.base in ("bigint", "int"):
        return pa.int64()
    if column_type.base == "decimal":
        assert column_type.scale is not None
        assert column_type.precision is not None
        wide = column_type.precision > 38 or column_type.scale > 38
        return pa.decimal256(76, column_type.scale) if wide else pa.decimal128(38, column_type.scale)
    return checked_type(column_type)
