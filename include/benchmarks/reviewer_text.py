"""A value as a reviewer would write it down, by the column's configured type, whichever side it was read from.

Independent of the package: nothing here comes from ``include.migration.values``
or the reference remote's hashing. Each function takes what a driver hands out
(psycopg2's typed values on the source side; MariaDB's raw text protocol bytes,
read with no converters, on the target side) and returns a ``str``, or ``None``
for SQL NULL (a distinct marker: NULL never equals ``""``).

A value that cannot be read as its column's type is not skipped: it becomes the
text ``<unreadable TYPE: raw>``, which equals no source value, so the row counts
as different.

Type differences are absorbed only where the values are equal as numbers
(a DOUBLE written into a DECIMAL column, ``1.50`` vs ``1.5``); digits beyond a
decimal's scale are kept, never rounded away.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable
from typing import Any

Normaliser = Callable[[Any], "str | None"]

_UTC = dt.timezone.utc
# Wide enough for decimal(65,30) and any double's exact expansion without rounding.
_EXACT = decimal.Context(prec=1100, traps=[decimal.Inexact, decimal.InvalidOperation])


class Unreadable(ValueError):
    """A value that is not a valid value of its column's type."""


def _raw(value: Any) -> Any:
    """Bytes from the target's text protocol as text (strict UTF-8: undecodable bytes are unreadable)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8")
    return value


def integer_text(value: Any) -> str:
    """Decimal digits, ``-`` for negatives; an integral DECIMAL/DOUBLE reads as its integer."""
    if type(value) is int:
        return str(value)
    value = _raw(value)
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, str):
        try:
            return str(int(value))
        except ValueError:
            value = decimal.Decimal(value)
    number = decimal.Decimal(repr(value)) if isinstance(value, float) else decimal.Decimal(value)
    if number.is_finite() and number == number.to_integral_value():
        return str(int(number))
    raise Unreadable(f"not an integer: {value!r}")


def decimal_text(scale: int) -> Normaliser:
    """Plain notation, exactly ``scale`` fractional digits when that is exact; more when the value has them."""
    quantum = decimal.Decimal(1).scaleb(-scale)

    def text(value: Any) -> str:
        value = _raw(value)
        if isinstance(value, float):
            value = repr(value)  # the double's shortest text: what a reviewer sees of a DOUBLE
        number = value if isinstance(value, decimal.Decimal) else decimal.Decimal(value)
        if not number.is_finite():
            raise Unreadable(f"not a finite decimal: {value!r}")
        try:
            number = number.quantize(quantum, context=_EXACT)
        except decimal.Inexact:
            pass  # more digits than the scale: kept, so the difference shows
        if number.is_zero():
            number = abs(number)  # -0.00 is 0.00
        return format(number, "f")

    return text


def double_text(value: Any) -> str:
    """The shortest text that reads back as the same double (``repr``); ``-0.0`` is ``0.0``."""
    value = _raw(value)
    number = value if isinstance(value, float) else float(value)
    return repr(number + 0.0) if number == 0 else repr(number)


def boolean_text(value: Any) -> str:
    """``1`` or ``0``; any other number is written as it is (and differs)."""
    value = _raw(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(int(value))


def timestamp_text(value: Any) -> str:
    """UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; aware values converted to UTC, naive values are UTC already."""
    value = _raw(value)
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise Unreadable(f"not a timestamp: {value!r}")
    if value.tzinfo is not None:
        value = value.astimezone(_UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"


def date_text(value: Any) -> str:
    """``YYYY-MM-DD``; a timestamp at exactly midnight is that date, any other time is kept (and differs)."""
    value = _raw(value)
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if len(value) > 10 else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0) or value.tzinfo is not None:
            return value.isoformat(timespec="microseconds")
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise Unreadable(f"not a date: {value!r}")


def text_text(value: Any) -> str:
    """The string itself: no trimming, no Unicode normalisation."""
    value = _raw(value)
    if not isinstance(value, str):
        raise Unreadable(f"not text: {value!r}")
    return value


class _InexactNumber(Exception):
    """A JSON number a double cannot hold exactly: the document takes the exact path."""


def _fast_float(text: str) -> Any:
    value = float(text)
    if not value.is_integer() and repr(value) == text:
        return value  # already a double's shortest text: exact, and the common case
    number = decimal.Decimal(text)
    if number == number.to_integral_value():
        return int(number)
    if decimal.Decimal(repr(value)) != number:
        raise _InexactNumber
    return value


def _exact_number(text: str) -> Any:
    number = decimal.Decimal(text)
    if number == number.to_integral_value():
        return int(number)
    value = float(text)
    return value if decimal.Decimal(repr(value)) == number else _Exact(number)


class _Exact:
    """A JSON number with more digits than a double holds, written exactly."""

    def __init__(self, number: decimal.Decimal) -> None:
        self.text = format(number.normalize(), "f")


# Built once: json.loads/dumps with options build a new decoder/encoder on every call.
_DECODER = json.JSONDecoder(parse_float=_fast_float)
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _dump(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{_dump(k)}:{_dump(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    if isinstance(value, _Exact):
        return value.text
    return json.dumps(value, ensure_ascii=False)


def json_text(value: Any) -> str:
    """The document parsed and written again: keys sorted, no whitespace, non-ASCII unescaped.

    Formatting and key order do not count; values do. Numbers compare as numbers
    (``1``, ``1.0`` and ``1e0`` are one number; ``true`` is not ``1``); a number
    with more digits than a double holds is written with all of them.
    """
    value = _raw(value)
    if not isinstance(value, str):
        value = json.dumps(value)  # a driver that parsed it already: its parse is the document
    try:
        return _ENCODER.encode(_DECODER.decode(value))
    except _InexactNumber:
        return _dump(json.loads(value, parse_float=_exact_number))


_BY_BASE: dict[str, Normaliser] = {
    "bigint": integer_text,
    "int": integer_text,
    "varchar": text_text,
    "text": text_text,
    "double": double_text,
    "boolean": boolean_text,
    "timestamp": timestamp_text,
    "date": date_text,
    "json": json_text,
}


def normaliser(base: str, scale: int | None = None) -> Normaliser:
    """The reviewer's text of a column of configured type ``base`` (``scale``: a decimal's); NULL stays ``None``."""
    inner = decimal_text(scale or 0) if base == "decimal" else _BY_BASE[base]

    def text(value: Any) -> str | None:
        if value is None:
            return None
        try:
            return inner(value)
        except (ValueError, TypeError, ArithmeticError) as error:
            return f"<unreadable {base}: {value!r} ({error})>"

    return text
