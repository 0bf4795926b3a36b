"""Does every value of a page fit its declared column type? The reference remote refuses a page that does not.

A source value that does not fit its configured column type (a varchar too
long, an int out of range, a decimal with too many digits, a NULL in a NOT NULL
column, ...) would fail the client's conversion anyway. The remote refuses the
page itself, on JSON and Arrow pages alike, with the installation, data type,
key and column named (HTTP 422, :func:`refusal_body`), instead of failing to
build the page (HTTP 500, retried by the client for nothing).

The rules are the client's own column checks (``values/checks.py``): a page is
checked as one wire-schema Arrow table, whether it will be served as Arrow or
as JSON. Only values Arrow cannot even hold in their wire type are looked for
value by value (:func:`include.migration.values.checks.value_problem` on each
value's wire form), off the hot path, to name the first one.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

import msgspec
import pyarrow as pa

from include.migration.configuration.config import ColumnSpec, DataTypeSpec
from include.migration.source.client import VALUE_DOES_NOT_FIT
from include.migration.values.checks import value_problem
from include.migration.values.errors import ConversionError
from include.migration.values.pages import PageConverter
from include.migration.values.types import wire_schema
from include.reference_remote.encoding import EncodingError, encode_value, row_encoder

PREVIEW_CHARS = 100
DETAIL_CHARS = 400
_INT64 = (-(2**63), 2**63 - 1)
# What encoding or converting a value that does not fit may raise (ArithmeticError covers OverflowError).
_VALUE_ERRORS = (TypeError, ValueError, AttributeError, ArithmeticError, pa.ArrowException)


@dataclasses.dataclass(frozen=True)
class Misfit:
    """A value that does not fit its column, and the key of its row."""

    key: Any
    column: ColumnSpec
    value: Any
    """The value in its wire form where it has one, as the source holds it otherwise."""
    why: str


class MisfitError(ValueError):
    """A source value does not fit its declared column type: the remote refuses to serve it (HTTP 422)."""

    def __init__(self, data_type: str, misfit: Misfit) -> None:
        super().__init__(
            f"data type {data_type!r}, key {preview(misfit.key)!r}, column {misfit.column.name!r} "
            f"({misfit.column.type}): {misfit.why}"
        )
        self.data_type = data_type
        self.misfit = misfit


def refusal_body(installation: str, error: MisfitError) -> dict[str, Any]:
    """The JSON body of the 422 that refuses ``error``'s value; the value is cut to ``PREVIEW_CHARS``."""
    misfit = error.misfit
    return {
        "error": VALUE_DOES_NOT_FIT,
        "installation": installation,
        "dataType": error.data_type,
        "key": preview(misfit.key),
        "column": misfit.column.name,
        "columnType": str(misfit.column.type),
        "value": preview(misfit.value),
        "detail": _cut(misfit.why, DETAIL_CHARS),
    }


def preview(value: Any) -> Any:
    """``value`` for an error body: small scalars as they are, anything else as text of at most ``PREVIEW_CHARS``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and _INT64[0] <= value <= _INT64[1]:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _cut(value, PREVIEW_CHARS)
    try:
        text = msgspec.json.encode(value).decode()
    except (TypeError, ValueError, OverflowError):
        text = str(value)
    return _cut(text, PREVIEW_CHARS)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------- driver rows (JSON pages)


def check_rows(spec: DataTypeSpec, rows: Sequence[Sequence[Any]]) -> None:
    """Raise :class:`MisfitError` for the first value of the driver's ``rows`` that does not fit its column.

    ``rows`` hold ``spec``'s columns in order, as the database driver returns them. The page endpoint does
    not call this (it checks the page's Arrow table, :func:`check_table`); this is the same rule set applied
    to driver rows value by value, which the refusal tests hold equal to the client's.
    """
    encode = row_encoder(spec)
    try:
        data = [encode(row) for row in rows]
    except EncodingError:
        misfit = find_misfit(spec, rows)
        if misfit is None:
            raise
        raise MisfitError(spec.name, misfit) from None
    check_encoded(spec, data)


def check_encoded(spec: DataTypeSpec, data: list[Any]) -> None:
    """Raise :class:`MisfitError` for the first value of a JSON page's ``data`` that the client would refuse.

    The client's own page conversion (``values.pages``) on the page as it will be sent.
    """
    try:
        PageConverter("", spec).rows(list(spec.column_names), data)
    except ConversionError as exc:
        assert exc.column is not None
        raise MisfitError(spec.name, Misfit(exc.key, exc.column, exc.value, exc.why)) from None


def check_table(spec: DataTypeSpec, table: pa.Table) -> None:
    """Raise :class:`MisfitError` for the first value of a wire-schema ``table`` that does not fit.

    The client's own column checks (``values.pages``), so the remote refuses exactly what the client would.
    """
    try:
        PageConverter("", spec).table(table.select(list(spec.column_names)))
    except ConversionError as exc:
        assert exc.column is not None
        raise MisfitError(spec.name, Misfit(exc.key, exc.column, exc.value, exc.why)) from None


def find_misfit(spec: DataTypeSpec, rows: Sequence[Sequence[Any]]) -> Misfit | None:
    """The first value of ``rows`` in row order that does not fit its column, checked value by value."""
    for row in rows:
        for column, value in zip(spec.columns, row):
            wire, why = _problem(column, value)
            if why is not None:
                return Misfit(spec.key_of(row), column, wire, why)
    return None


def find_wire_misfit(spec: DataTypeSpec, rows: Sequence[Sequence[Any]]) -> Misfit | None:
    """The first value Arrow cannot hold in its column's wire type (for values the client's rules let pass)."""
    schema = wire_schema(spec)
    for row in rows:
        for field, column, value in zip(schema, spec.columns, row):
            if value is None:
                continue
            arrow_value = json.dumps(value) if column.type.base == "json" else value
            try:
                pa.array([arrow_value], type=field.type)
            except _VALUE_ERRORS as exc:
                return Misfit(spec.key_of(row), column, _problem(column, value)[0], f"not an Arrow {field.type}: {exc}")
    return None


def _problem(column: ColumnSpec, value: Any) -> tuple[Any, str | None]:
    """``(wire form, why it does not fit or None)`` of one source value."""
    try:
        wire = encode_value(column.type, value)
    except _VALUE_ERRORS as exc:
        return value, f"a {type(value).__name__} cannot be sent as {column.type}: {exc}"
    return wire, value_problem(column, wire)
