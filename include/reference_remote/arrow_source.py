"""Source rows -> an Arrow table in the page wire schema (the reference remote's ``arrow-pages``).

On PostgreSQL the page query runs as ``COPY (...) TO STDOUT (FORMAT csv)`` and
pyarrow parses the CSV straight into typed columns, so no value becomes a
Python object on the way. Anything the CSV parser cannot take (a value outside
what the wire type holds, an unusual text form) and every other database go
through the rows the driver returns instead; a value that the wire type cannot
hold even then is named in a :class:`~include.reference_remote.value_fit.MisfitError`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Select
from sqlalchemy.exc import DBAPIError

from include.migration.configuration.config import DataTypeSpec
from include.migration.values.types import wire_schema
from include.reference_remote.value_fit import MisfitError, find_misfit, find_wire_misfit

# What building an Arrow array from values that do not fit its type raises.
_BUILD_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)


def read_page(conn: Connection, statement: Select[Any], spec: DataTypeSpec) -> pa.Table:
    """The rows of ``statement`` (selecting ``spec``'s columns in order) as a wire-schema table.

    Raises :class:`MisfitError` naming the key and column of a value its wire type cannot hold.
    """
    schema = wire_schema(spec)
    if conn.dialect.name == "postgresql":
        try:
            return _copy_csv(conn, statement, schema)
        except ValueError:  # pa.ArrowInvalid, or a NULL cast to a NOT NULL field
            pass  # e.g. a float the parser does not know: the driver's rows give the exact values
    rows = conn.execute(statement).all()
    try:
        return rows_to_table(rows, spec)
    except _BUILD_ERRORS:
        misfit = find_misfit(spec, rows) or find_wire_misfit(spec, rows)
        if misfit is None:
            raise
        raise MisfitError(spec.name, misfit) from None


def warm_up() -> None:
    """Load what the first page would: pyarrow imports pandas on its first conversion of Python values."""
    pa.array([0])


def rows_to_table(rows: Sequence[Sequence[Any]], spec: DataTypeSpec) -> pa.Table:
    """Driver rows (values in ``spec``'s column order) as a wire-schema table."""
    schema = wire_schema(spec)
    arrays = []
    for index, (field, column) in enumerate(zip(schema, spec.columns)):
        values = [row[index] for row in rows]
        if column.type.base == "json":
            values = [None if v is None else json.dumps(v, ensure_ascii=False, separators=(",", ":")) for v in values]
        arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _copy_csv(conn: Connection, statement: Select[Any], schema: pa.Schema) -> pa.Table:
    compiled = statement.compile(dialect=conn.dialect)
    driver = conn.connection.driver_connection
    assert driver is not None
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        with driver.cursor() as cursor:
            # mogrify quotes the bound values exactly as execute() would.
            query = cursor.mogrify(str(compiled), compiled.params)
            buffer = io.BytesIO()
            cursor.copy_expert(b"COPY (" + query + b") TO STDOUT WITH (FORMAT csv)", buffer)
    except dbapi_error as exc:
        # Raised by the driver past SQLAlchemy: wrapped as SQLAlchemy wraps it, so that a missing
        # table or a lost connection is answered as on the JSON path.
        raise DBAPIError.instance(str(compiled), compiled.params, exc, dbapi_error) from exc
    body = buffer.getvalue()
    if not body:
        return schema.empty_table()
    return pacsv.read_csv(
        io.BytesIO(body),
        read_options=pacsv.ReadOptions(column_names=schema.names, use_threads=False),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=schema,
            # COPY writes NULL unquoted and empty, and an empty string as "".
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
            timestamp_parsers=[pacsv.ISO8601],
        ),
    ).cast(schema)
