"""The checks a column's values must pass, and the cast to the type the target takes, a whole column at a time.

One rule set for every page format. A column arrives as an Arrow array of the
type its page gave it: the wire type of an Arrow page, or for a JSON page the
type JSON's own values make (integers, floats, strings, booleans; strings for
decimals, timestamps and dates). :func:`fit_column` checks it with Arrow
kernels (NOT NULL, integer range, varchar length in characters, text length in
bytes, decimal precision and scale without rounding, finite doubles, timestamp
and date years) and casts it to its checked type (``types.checked_type``). The
first value that does not fit raises :class:`Unfit` with its index and why; a
cast that Arrow refuses is narrowed to its first failing value by bisection,
still with the same kernels.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from include.migration.configuration.config import ColumnSpec
from include.migration.values.text import zoned_timestamp_text
from include.migration.values.timestamps import wire_timestamp
from include.migration.values.types import checked_type, wire_type

TEXT_MAX_BYTES = 65_535
_INT_BOUNDS = {"int": (-(2**31), 2**31 - 1), "bigint": (-(2**63), 2**63 - 1)}
_INTEGER_TEXT = r"^[+-]?\d{1,20}$"
_DECIMAL_TEXT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_DATE_TEXT = r"^\d{4}-\d{2}-\d{2}$"
_EPOCH = dt.datetime(1970, 1, 1)
_US_1000 = (dt.datetime(1000, 1, 1) - _EPOCH) // dt.timedelta(microseconds=1)
_US_10000 = (dt.datetime(9999, 12, 31) - _EPOCH) // dt.timedelta(microseconds=1) + 86_400_000_000
_DAY_1 = (dt.date(1, 1, 1) - _EPOCH.date()).days
_DAY_9999 = (dt.date(9999, 12, 31) - _EPOCH.date()).days
_WIDE_DECIMAL = pa.decimal256(76, 38)
_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError)


class Unfit(Exception):
    """Value ``index`` of a column does not fit its column: ``why``; ``value`` as a page would show it."""

    def __init__(self, index: int, why: str, value: Any) -> None:
        super().__init__(why)
        self.index = index
        self.why = why
        self.value = value


def fit_column(values: pa.Array, column: ColumnSpec, *, json_checked: bool = False) -> pa.Array:
    """``values`` checked against ``column`` and cast to its checked type; raises :class:`Unfit`.

    ``json_checked``: a json column's texts are known to be JSON (made from a JSON page's values).
    """
    if values.null_count and not column.nullable:
        first_null = int(pc.index(pc.is_null(values), True).as_py())
        fit_column(values.slice(0, first_null), column, json_checked=json_checked)  # a misfit before it is first
        raise Unfit(first_null, "NULL in a NOT NULL column", None)
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), checked_type(column.type))
    if pa.types.is_large_string(values.type):
        values = values.cast(pa.string())
    fitted = _FITS[column.type.base](values, column)
    if column.type.base == "json" and not json_checked:
        _check_json_texts(fitted)
    return fitted


def value_problem(column: ColumnSpec, value: Any) -> str | None:
    """Why one value in its JSON page form does not fit ``column`` (None when it does): :func:`fit_column` on it."""
    from include.migration.values.json_columns import single_value_array

    try:
        fit_column(single_value_array(value, column), column)
    except Unfit as unfit:
        return unfit.why
    return None


# ---------------------------------------------------------------------------------------- per base type


def _fit_integer(values: pa.Array, column: ColumnSpec) -> pa.Array:
    base = column.type.base
    low, high = _INT_BOUNDS[base]
    target = wire_type(column.type)
    kind = values.type

    def out_of_range(value: Any) -> str:
        return f"integer {int(value)} is out of range for {base} [{low}, {high}]"

    if pa.types.is_boolean(kind):
        _refuse_present(values, lambda v: f"expected an integer, got boolean {v!r}")
    if pa.types.is_string(kind):
        _refuse(pc.invert(pc.match_substring_regex(values, _INTEGER_TEXT)), values,
                lambda v: f"expected an integer, got str {v!r:.80}")
        values = pc.replace_substring_regex(values, r"^\+", "").cast(pa.decimal128(21, 0))
        kind = values.type
    if pa.types.is_floating(kind):
        whole = pc.and_(pc.is_finite(values), pc.equal(pc.floor(values), values))
        _refuse(pc.invert(whole), values, lambda v: f"expected an integer, got float {v!r:.80}")
        _refuse(pc.or_(pc.less(values, float(low)), pc.greater_equal(values, float(high) + 1)), values, out_of_range)
        return values.cast(target)
    if pa.types.is_decimal(kind):
        if kind.scale > 0:
            _refuse(pc.not_equal(pc.floor(values), values), values, lambda v: f"expected an integer, got {v}")
        return _cast_locating(values, target, values, out_of_range)
    if pa.types.is_integer(kind):
        if pa.types.is_signed_integer(kind) and kind.bit_width <= target.bit_width:
            return values.cast(target)
        if pa.types.is_unsigned_integer(kind):
            _refuse(pc.greater(values, pa.scalar(high, pa.uint64())), values, out_of_range)
        else:
            _refuse(pc.or_(pc.less(values, low), pc.greater(values, high)), values, out_of_range)
        return values.cast(target)
    _refuse_present(values, lambda v: f"expected an integer, got {type(v).__name__} {v!r:.80}")
    raise AssertionError("unreachable")


def _fit_varchar(values: pa.Array, column: ColumnSpec) -> pa.Array:
    _require_strings(values, "a string")
    limit = column.type.length
    _refuse(pc.greater(pc.utf8_length(values), limit), values,
            lambda v: f"string of {len(v)} characters is longer than varchar({limit})")
    return values


def _fit_text(values: pa.Array, column: ColumnSpec) -> pa.Array:
    _require_strings(values, "a string")
    _refuse(pc.greater(pc.binary_length(values), TEXT_MAX_BYTES), values,
            lambda v: f"text of {len(v.encode('utf-8'))} bytes exceeds {TEXT_MAX_BYTES} bytes")
    return values


def _fit_json(values: pa.Array, column: ColumnSpec) -> pa.Array:
    _require_strings(values, "JSON text")
    return values


def _fit_decimal(values: pa.Array, column: ColumnSpec) -> pa.Array:
    kind = values.type
    target = wire_type(column.type)
    if pa.types.is_boolean(kind):
        _refuse_present(values, lambda v: f"expected a decimal, got boolean {v!r}")
    if pa.types.is_decimal(kind):
        return _cast_locating(values, target, values, lambda v: _decimal_misfit(v, column))
    if pa.types.is_floating(kind):
        _refuse(pc.invert(pc.is_finite(values)), values, lambda v: f"decimal {v!r} is not finite")
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        # A double's shortest text is the number the page wrote; its binary value would carry noise digits.
        text = pc.cast(values, pa.string())
    elif pa.types.is_string(kind):
        text = values
        _refuse(pc.invert(pc.match_substring_regex(text, _DECIMAL_TEXT)), values,
                lambda v: f"expected a decimal, got {v!r:.80}")
    else:
        _refuse_present(values, lambda v: f"expected a decimal, got {type(v).__name__} {v!r:.80}")
        raise AssertionError("unreachable")
    return _cast_locating(text, target, values, lambda v: _decimal_misfit(v, column))


def _decimal_misfit(value: Any, column: ColumnSpec) -> str:
    """Why a decimal value cannot be cast exactly: too many integer digits, or too many fractional ones."""
    precision, scale = column.type.precision, column.type.scale
    assert precision is not None and scale is not None
    does_not_fit = f"decimal {value!r} does not fit decimal({precision},{scale})"
    try:
        wide = pa.array([str(value)]).cast(_WIDE_DECIMAL)
    except _CAST_ERRORS:
        return does_not_fit
    limit = pa.scalar(decimal.Decimal(10) ** (precision - scale), _WIDE_DECIMAL)
    if pc.greater_equal(pc.abs(wide), limit)[0].as_py():
        return does_not_fit
    return f"decimal {value!r} has more than {scale} fractional digits (would be rounded)"


def _fit_double(values: pa.Array, column: ColumnSpec) -> pa.Array:
    kind = values.type
    if pa.types.is_floating(kind):
        _refuse(pc.invert(pc.is_finite(values)), values, lambda v: f"double {v!r} is not finite")
        return values.cast(pa.float64())
    if pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        return values.cast(pa.float64(), safe=False)  # as float(value): the nearest double
    _refuse_present(values, lambda v: f"expected a number, got {type(v).__name__} {v!r:.80}")
    raise AssertionError("unreachable")


def _fit_boolean(values: pa.Array, column: ColumnSpec) -> pa.Array:
    kind = values.type
    if pa.types.is_boolean(kind):
        return values
    if pa.types.is_integer(kind):
        _refuse(pc.and_(pc.not_equal(values, 0), pc.not_equal(values, 1)), values,
                lambda v: f"expected a boolean, got int {v!r}")
        return pc.not_equal(values, 0)
    _refuse_present(values, lambda v: f"expected a boolean, got {type(v).__name__} {v!r:.80}")
    raise AssertionError("unreachable")


def _fit_timestamp(values: pa.Array, column: ColumnSpec) -> pa.Array:
    kind = values.type
    original = values
    if pa.types.is_string(kind):
        values = _cast_locating(zoned_timestamp_text(values), pa.timestamp("us", tz="UTC"), original, lambda v: f"invalid timestamp {v!r:.80}")
    elif not pa.types.is_timestamp(kind):
        _refuse_present(values, lambda v: f"expected an ISO 8601 timestamp string, got {type(v).__name__} {v!r:.80}")
    else:
        values = values.cast(pa.timestamp("us", tz=kind.tz))
    micros = pc.cast(values, pa.int64())
    _refuse(pc.or_(pc.less(micros, _US_1000), pc.greater_equal(micros, _US_10000)), original,
            lambda v: f"timestamp {v!r} is outside years 1000-9999")
    # A timestamp with a zone holds UTC instants; dropping the zone keeps them, so the target gets UTC.
    return pc.cast(values, pa.timestamp("us"))


def _fit_date(values: pa.Array, column: ColumnSpec) -> pa.Array:
    kind = values.type
    original = values
    if pa.types.is_string(kind):
        _refuse(pc.invert(pc.match_substring_regex(values, _DATE_TEXT)), values,
                lambda v: f"expected a YYYY-MM-DD date, got {v!r:.80}")
        values = _cast_locating(values, pa.date32(), original, lambda v: f"invalid date {v!r}")
    elif not pa.types.is_date(kind):
        _refuse_present(values, lambda v: f"expected a YYYY-MM-DD date, got {type(v).__name__} {v!r:.80}")
    days = pc.cast(pc.cast(values, pa.date32()), pa.int32())
    _refuse(pc.or_(pc.less(days, _DAY_1), pc.greater(days, _DAY_9999)), original,
            lambda v: f"date {v!r} is outside years 1-9999")
    return values.cast(pa.date32())


_FITS: dict[str, Callable[[pa.Array, ColumnSpec], pa.Array]] = {
    "bigint": _fit_integer,
    "int": _fit_integer,
    "varchar": _fit_varchar,
    "text": _fit_text,
    "json": _fit_json,
    "decimal": _fit_decimal,
    "double": _fit_double,
    "boolean": _fit_boolean,
    "timestamp": _fit_timestamp,
    "date": _fit_date,
}


# ---------------------------------------------------------------------------------------- helpers


def _refuse(mask: pa.Array, values: pa.Array, why: Callable[[Any], str]) -> None:
    """Raise :class:`Unfit` for the first row where ``mask`` is true."""
    if mask.null_count:
        mask = pc.fill_null(mask, False)
    if pc.any(mask).as_py():
        index = int(pc.index(mask, True).as_py())
        value = shown_value(values, index)
        raise Unfit(index, why(value), value)


def _refuse_present(values: pa.Array, why: Callable[[Any], str]) -> None:
    """Every non-NULL value is of a kind the column cannot take."""
    _refuse(pc.is_valid(values), values, why)


def _require_strings(values: pa.Array, noun: str) -> None:
    if not pa.types.is_string(values.type):
        _refuse_present(values, lambda v: f"expected {noun}, got {type(v).__name__} {v!r:.80}")


def _check_json_texts(values: pa.Array) -> None:
    import msgspec

    if _all_json_texts(values):
        return
    decode = msgspec.json.decode
    for index, text in enumerate(values.to_pylist()):
        if text is None:
            continue
        try:
            decode(text)
        except msgspec.DecodeError as exc:
            raise Unfit(index, f"invalid JSON text: {exc}", text) from None


@functools.cache
def _raw_documents_decoder() -> Any:
    import msgspec

    return msgspec.json.Decoder(list[msgspec.Raw])


def _all_json_texts(values: pa.Array) -> bool:
    """Whether every present text is one JSON document, decided by one decode of them all as one array.

    The documents are joined with commas into ``[d1,d2,...]`` and read as raw (unparsed) elements: element
    ``i`` must span exactly document ``i``'s bytes, or a document such as ``1,2`` (two elements) or ``[1`` and
    ``2]`` (one) would pass. False means "look one by one", not that a document is invalid.
    """
    import msgspec

    present = values.drop_null() if values.null_count else values
    if len(present) == 0:
        return True
    try:
        present.validate(full=True)  # UTF-8, which the raw reading does not check inside strings
        one_list = pa.ListArray.from_arrays(pa.array([0, len(present)], pa.int32()), present)
        joined = pc.binary_join(one_list, ",")[0].as_buffer()
        elements = _raw_documents_decoder().decode(b"[" + joined.to_pybytes() + b"]")
    except (pa.ArrowInvalid, msgspec.DecodeError):
        return False
    return len(elements) == len(present) and [len(e) for e in elements] == pc.binary_length(present).to_pylist()


def _cast_locating(
    values: pa.Array, target: pa.DataType, shown: pa.Array, why: Callable[[Any], str]
) -> pa.Array:
    """``values`` cast to ``target``; when Arrow refuses, the first refused value (by bisection) is :class:`Unfit`."""
    try:
        return values.cast(target, safe=True)
    except _CAST_ERRORS:
        pass
    low, high = 0, len(values)  # a prefix of ``low`` values casts; one of ``high`` does not
    while high - low > 1:
        middle = (low + high) // 2
        try:
            values.slice(0, middle).cast(target, safe=True)
            low = middle
        except _CAST_ERRORS:
            high = middle
    value = shown_value(shown, high - 1)
    raise Unfit(high - 1, why(value), value)


def shown_value(values: pa.Array, index: int) -> Any:
    """Value ``index`` as a page would show it: decimals, timestamps and dates as their wire text."""
    try:
        value = values[index].as_py()
    except (ValueError, OverflowError):  # e.g. year 10000, which Python's datetime cannot hold
        return values.slice(index, 1).cast(pa.string())[0].as_py()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return wire_timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
