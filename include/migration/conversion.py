"""Conversion of page values (JSON) into values bound to the target's columns.

Every value is checked against its configured column type. A value that does
not fit fails the whole page with a :class:`ConversionError` that names the
installation, data type, key and column, so nothing is silently dropped or
truncated.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from include.migration.config import ColumnSpec, DataTypeSpec
from include.migration.errors import FatalError

_INT_RANGES = {"int": (-(2**31), 2**31 - 1), "bigint": (-(2**63), 2**63 - 1)}
_TEXT_MAX_BYTES = 65_535
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# decimal(65,30) needs 65 digits; the default context keeps 28 and would refuse to quantize wide values.
_DECIMAL_CONTEXT = decimal.Context(prec=100)
Converter = Callable[[Any], Any]


class ConversionError(FatalError):
    """A page value cannot be stored in its target column."""


class HeaderMismatchError(FatalError):
    """The remote's page headers do not match the configured columns."""


class _BadValue(ValueError):
    pass


def _to_int(kind: str) -> Converter:
    low, high = _INT_RANGES[kind]

    def convert(value: Any) -> int:
        if isinstance(value, bool):
            raise _BadValue(f"expected an integer, got boolean {value!r}")
        if isinstance(value, int):
            result = value
        elif isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,20}", value):
            result = int(value)
        elif isinstance(value, float) and value.is_integer():
            result = int(value)
        else:
            raise _BadValue(f"expected an integer, got {type(value).__name__} {value!r:.80}")
        if not low <= result <= high:
            raise _BadValue(f"integer {result} is out of range for {kind} [{low}, {high}]")
        return result

    return convert


def _to_string(max_chars: int | None, max_bytes: int | None) -> Converter:
    def convert(value: Any) -> str:
        if not isinstance(value, str):
            raise _BadValue(f"expected a string, got {type(value).__name__} {value!r:.80}")
        if max_chars is not None and len(value) > max_chars:
            raise _BadValue(f"string of {len(value)} characters is longer than varchar({max_chars})")
        if max_bytes is not None and len(value) * 4 > max_bytes and len(value.encode("utf-8")) > max_bytes:
            raise _BadValue(f"text of {len(value.encode('utf-8'))} bytes exceeds {max_bytes} bytes")
        return value

    return convert


def _to_decimal(precision: int, scale: int) -> Converter:
    quantum = decimal.Decimal(1).scaleb(-scale)
    max_integer_digits = precision - scale

    def convert(value: Any) -> decimal.Decimal:
        if isinstance(value, bool):
            raise _BadValue(f"expected a decimal, got boolean {value!r}")
        if isinstance(value, (int, str)):
            try:
                number = decimal.Decimal(value)
            except decimal.InvalidOperation:
                raise _BadValue(f"expected a decimal, got {value!r:.80}") from None
        elif isinstance(value, float):
            number = decimal.Decimal(repr(value))
        else:
            raise _BadValue(f"expected a decimal, got {type(value).__name__} {value!r:.80}")
        if not number.is_finite():
            raise _BadValue(f"decimal {value!r} is not finite")
        # Range first: quantizing a huge value raises InvalidOperation instead of saying it does not fit.
        if number.adjusted() + 1 > max_integer_digits and number != 0:
            raise _BadValue(f"decimal {value!r} does not fit decimal({precision},{scale})")
        exact = number.quantize(quantum, rounding=decimal.ROUND_HALF_EVEN, context=_DECIMAL_CONTEXT)
        if exact != number:
            raise _BadValue(f"decimal {value!r} has more than {scale} fractional digits (would be rounded)")
        return exact

    return convert


def _to_double(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _BadValue(f"expected a number, got {type(value).__name__} {value!r:.80}")
    result = float(value)
    if result != result or result in (float("inf"), float("-inf")):
        raise _BadValue(f"double {value!r} is not finite")
    return result


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _BadValue(f"expected a boolean, got {type(value).__name__} {value!r:.80}")


def _to_timestamp(value: Any) -> dt.datetime:
    """ISO 8601 -> naive UTC datetime (the target stores UTC in DATETIME(6))."""
    if not isinstance(value, str):
        raise _BadValue(f"expected an ISO 8601 timestamp string, got {type(value).__name__} {value!r:.80}")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _BadValue(f"invalid timestamp {value!r:.80}") from None
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
        except OverflowError:  # the offset moves it past year 1 or 9999
            raise _BadValue(f"timestamp {value!r} is outside years 1000-9999") from None
    if not 1000 <= parsed.year <= 9999:
        raise _BadValue(f"timestamp {value!r} is outside years 1000-9999")
    return parsed


def _to_date(value: Any) -> dt.date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise _BadValue(f"expected a YYYY-MM-DD date, got {value!r:.80}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _BadValue(f"invalid date {value!r}") from None


def _to_json(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _BadValue(f"value is not JSON-serialisable: {exc}") from None
    return text


def converter_for(column: ColumnSpec) -> Converter:
    """The function that checks and converts one value of ``column`` (NULL handled by the caller)."""
    kind = column.type
    if kind.base in ("int", "bigint"):
        return _to_int(kind.base)
    if kind.base == "varchar":
        return _to_string(kind.length, None)
    if kind.base == "text":
        return _to_string(None, _TEXT_MAX_BYTES)
    if kind.base == "decimal":
        assert kind.precision is not None and kind.scale is not None
        return _to_decimal(kind.precision, kind.scale)
    if kind.base == "double":
        return _to_double
    if kind.base == "boolean":
        return _to_boolean
    if kind.base == "timestamp":
        return _to_timestamp
    if kind.base == "date":
        return _to_date
    if kind.base == "json":
        return _to_json
    raise AssertionError(f"no converter for {kind}")


class RowConverter:
    """Converts the rows of one data type's pages into tuples in configured column order."""

    def __init__(self, installation_id: str, data_type: DataTypeSpec) -> None:
        self.installation_id = installation_id
        self.data_type = data_type
        self._columns = data_type.columns
        self._converters = tuple(converter_for(c) for c in data_type.columns)
        self._nullable = tuple(c.nullable for c in data_type.columns)
        self._order_cache: dict[tuple[str, ...], tuple[int, ...]] = {}

    def column_order(self, headers: Sequence[str]) -> tuple[int, ...]:
        """Positions of the configured columns within the page headers; fails on any mismatch."""
        key = tuple(headers)
        cached = self._order_cache.get(key)
        if cached is not None:
            return cached
        expected = self.data_type.column_names
        missing = [c for c in expected if c not in key]
        extra = [h for h in key if h not in expected]
        duplicated = sorted({h for h in key if key.count(h) > 1})
        if missing or extra or duplicated:
            raise HeaderMismatchError(
                f"installation {self.installation_id!r}, data type {self.data_type.name!r}: page headers "
                f"{list(key)} do not match the configured columns {list(expected)} "
                f"(missing {missing}, unexpected {extra}, duplicated {duplicated}); "
                "update the data type's columns in the configuration or fix the remote"
            )
        order = tuple(key.index(c) for c in expected)
        self._order_cache[key] = order
        return order

    def convert(self, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """Convert a page; raises :class:`ConversionError` naming key and column on the first bad value."""
        order = self.column_order(headers)
        width = len(headers)
        plan = tuple(zip(order, self._converters, self._nullable, self._columns))
        out: list[tuple[Any, ...]] = []
        append = out.append
        for row_number, row in enumerate(rows):
            if not isinstance(row, (list, tuple)) or len(row) != width:
                raise ConversionError(
                    f"installation {self.installation_id!r}, data type {self.data_type.name!r}: row {row_number} "
                    f"of the page has {len(row) if isinstance(row, (list, tuple)) else type(row).__name__} values, "
                    f"expected {width}"
                )
            values = []
            for position, convert, nullable, column in plan:
                value = row[position]
                if value is None:
                    if not nullable:
                        self._fail(row, order, column, value, "NULL in a NOT NULL column")
                    values.append(None)
                    continue
                try:
                    values.append(convert(value))
                except _BadValue as exc:
                    self._fail(row, order, column, value, str(exc))
            append(tuple(values))
        return out

    def _fail(self, row: Sequence[Any], order: tuple[int, ...], column: ColumnSpec, value: Any, why: str) -> None:
        key = self.data_type.key_of({i: row[order[i]] for i in self.data_type.key_indexes})
        raise conversion_error(self.installation_id, self.data_type, key, column, value, why)


def value_problem(column: ColumnSpec, value: Any) -> str | None:
    """Why ``value`` (in its JSON page form) does not fit ``column``, or None when it does."""
    if value is None:
        return None if column.nullable else "NULL in a NOT NULL column"
    try:
        converter_for(column)(value)
    except _BadValue as exc:
        return str(exc)
    return None


def conversion_error(
    installation_id: str, data_type: DataTypeSpec, key: Any, column: ColumnSpec, value: Any, why: str
) -> ConversionError:
    """The error for a value that does not fit its column: installation, data type, key, column, value."""
    return ConversionError(
        f"installation {installation_id!r}, data type {data_type.name!r}, key {key!r}, "
        f"column {column.name!r} ({column.type}): {why}; value {value!r:.120}. "
        "Fix the value at the source or the column type in the configuration, then re-run: "
        "the checkpoint has not moved past this page"
    )
