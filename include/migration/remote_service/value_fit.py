"""Does every value of a page fit its declared column type? The reference remote refuses a page that does not.

A source value that does not fit its configured column type (a varchar too
long, an int out of range, a decimal with too many digits, a NULL in a NOT NULL
column, ...) would fail the client's conversion anyway. The remote refuses the
page itself, on JSON and Arrow pages alike, with the installation, data type,
key and column named (HTTP 422, :func:`refusal_body`), instead of failing to
build the page (HTTP 500, retried by the client for nothing).

The rules are the client's: :func:`include.migration.conversion.value_problem`
on the value's wire form. Pages are checked a column at a time first (builtins
over the driver's values, Arrow kernels over an Arrow page), with checks that
never pass a value the client refuses; only a page that looks wrong is checked
again value by value, off the hot path, to find and name the first value that
does not fit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from include.migration.arrow_pages import wire_schema, wire_type
from include.migration.config import ColumnSpec, DataTypeSpec
from include.migration.conversion import value_problem
from include.migration.remote_service.encoding import encode_value
from include.migration.source.client import VALUE_DOES_NOT_FIT

PREVIEW_CHARS = 100
DETAIL_CHARS = 400
_TEXT_MAX_BYTES = 65_535
_INT64 = (-(2**63), 2**63 - 1)
_INT_BOUNDS = {"int": (-(2**31), 2**31 - 1), "bigint": _INT64}
_UTC = dt.timezone.utc
_YEAR_1000 = dt.datetime(1000, 1, 1, tzinfo=_UTC)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)
_US_1000 = (_YEAR_1000 - _EPOCH) // dt.timedelta(microseconds=1)
_US_10000 = (dt.datetime(9999, 12, 31, tzinfo=_UTC) - _EPOCH) // dt.timedelta(microseconds=1) + 86_400_000_000
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

    ``rows`` hold ``spec``'s columns in order, as the database driver returns them.
    """
    if not rows:
        return
    columns = zip(*rows)
    if all(_column_fits(column, values) for column, values in zip(spec.columns, columns)):
        return
    misfit = find_misfit(spec, rows)
    if misfit is not None:
        raise MisfitError(spec.name, misfit)


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


def _column_fits(column: ColumnSpec, values: tuple[Any, ...]) -> bool:
    """Whether every value surely fits: False sends the page to the value-by-value check."""
    present: Sequence[Any] = values if None not in values else [v for v in values if v is not None]
    if len(present) < len(values) and not column.nullable:
        return False
    check = _COLUMN_CHECKS.get(column.type.base)
    if not present or check is None:
        return True
    try:
        return check(column, present)
    except _VALUE_ERRORS:
        return False


def _only(values: Sequence[Any], kind: type) -> bool:
    return set(map(type, values)) == {kind}


def _int_fits(column: ColumnSpec, values: Sequence[Any]) -> bool:
    low, high = _INT_BOUNDS[column.type.base]
    return _only(values, int) and low <= min(values) and max(values) <= high


def _varchar_fits(column: ColumnSpec, values: Sequence[Any]) -> bool:
    return _only(values, str) and max(map(len, values)) <= (column.type.length or 0)


def _text_fits(column: ColumnSpec, values: Sequence[Any]) -> bool:
    if not _only(values, str):
        return False
    # At most 4 bytes a character: only a long text needs its bytes counted.
    return max(map(len, values)) * 4 <= _TEXT_MAX_BYTES or max(len(v.encode()) for v in values) <= _TEXT_MAX_BYTES


def _decimal_fits(column: ColumnSpec, values: Sequence[Any]) -> bool:
    if not _only(values, decimal.Decimal):
        return False
    # Arrow refuses too many integer digits and a rescale that loses digits: the client's rule, in C++.
    pa.array(values, type=wire_type(column.type))
    return True


def _double_fits(column: ColumnSpec, values: Sequence[Any]) -> bool:
    return set(map(type, values)) <= {float, int} and all(map(math.isfinite, values))


def _timestamp_fits(column: ColumnSpec, values: Sequence[Any]) -> bool:
    # Python holds no year past 9999; a late instant with an offset fails its encoding instead.
    return _only(values, dt.datetime) and min(values) >= _YEAR_1000


_COLUMN_CHECKS: dict[str, Callable[[ColumnSpec, Sequence[Any]], bool]] = {
    "bigint": _int_fits,
    "int": _int_fits,
    "varchar": _varchar_fits,
    "text": _text_fits,
    "decimal": _decimal_fits,
    "double": _double_fits,
    "boolean": lambda column, values: _only(values, bool),
    "timestamp": _timestamp_fits,
    "date": lambda column, values: _only(values, dt.date),
}


# --------------------------------------------------------------------------- Arrow pages


def check_table(spec: DataTypeSpec, table: pa.Table) -> None:
    """Raise :class:`MisfitError` for the first value of a wire-schema ``table`` that does not fit.

    The wire types hold integers and decimals to their column's range already;
    NOT NULL, varchar and text lengths, finite doubles and timestamp years are
    checked with Arrow kernels.
    """
    first: tuple[int, int] | None = None
    for index, column in enumerate(spec.columns):
        row = _first_bad_row(column, table.column(index))
        if row is not None and (first is None or row < first[0]):
            first = (row, index)
    if first is not None:
        raise MisfitError(spec.name, _misfit_at(spec, table, *first))


def _first_bad_row(column: ColumnSpec, values: pa.ChunkedArray) -> int | None:
    masks = []
    if values.null_count and not column.nullable:
        masks.append(pc.is_null(values))
    bad = _ARROW_CHECKS.get(column.type.base)
    if bad is not None:
        masks.append(bad(column, values))
    rows = [row for row in (pc.index(mask, True).as_py() for mask in masks) if row >= 0]
    return min(rows) if rows else None


def _misfit_at(spec: DataTypeSpec, table: pa.Table, row: int, index: int) -> Misfit:
    column = spec.columns[index]
    key = spec.key_of([table.column(i)[row].as_py() if i in spec.key_indexes else None
                       for i in range(table.num_columns)])
    scalar = table.column(index)[row]
    try:
        value = scalar.as_py()
    except (ValueError, OverflowError):  # a year past 9999: no Python datetime holds it
        text = scalar.cast(pa.string()).as_py()
        return Misfit(key, column, text, f"{column.type.base} {text!r} is outside years 1000-9999")
    wire, why = _problem(column, value)
    return Misfit(key, column, wire, why or f"does not fit {column.type}")


def _timestamp_bad(column: ColumnSpec, values: pa.ChunkedArray) -> pa.ChunkedArray:
    micros = pc.cast(values, pa.int64())
    return pc.or_(pc.less(micros, _US_1000), pc.greater_equal(micros, _US_10000))


_ARROW_CHECKS: dict[str, Callable[[ColumnSpec, pa.ChunkedArray], pa.ChunkedArray]] = {
    "varchar": lambda column, values: pc.greater(pc.utf8_length(values), column.type.length),
    "text": lambda column, values: pc.greater(pc.binary_length(values), _TEXT_MAX_BYTES),
    "double": lambda column, values: pc.invert(pc.is_finite(values)),
    "timestamp": _timestamp_bad,
}
