"""The canonical row hash and chunk checksums, identical on the remote and the target side.

Specified in ``docs/checksum.md`` so that a remote in another language can
compute the same numbers. Values arrive in different shapes (SQL values from
the source, JSON page values, values read back from MySQL or SQLite); each is
first reduced to the canonical text of its column type, so the same logical
row always hashes the same.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec

from include.migration.config import ColumnType, DataTypeSpec

NULL_MARKER = b"\xff"  # never the first byte of a UTF-8 string, so NULL differs from every value
MASK_64 = (1 << 64) - 1
Canonical = Callable[[Any], bytes]


def _integer(value: Any) -> bytes:
    return str(int(value)).encode()


def _text(value: Any) -> bytes:
    return str(value).encode("utf-8")


# decimal(65,30) needs more than the default 28 significant digits.
_WIDE = decimal.Context(prec=100)


def _decimal(scale: int) -> Canonical:
    quantum = decimal.Decimal(1).scaleb(-scale)

    def canonical(value: Any) -> bytes:
        number = value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
        number = number.quantize(quantum, context=_WIDE)
        if number == 0:
            number = abs(number)  # -0.00 and 0.00 are the same value
        return format(number, "f").encode()

    return canonical


def _double(value: Any) -> bytes:
    number = float(value)
    if number == 0.0:
        number = 0.0
    return format(number, ".17g").encode()


def _boolean(value: Any) -> bytes:
    if isinstance(value, str):
        value = value.strip().lower() in ("1", "true")
    return b"1" if value else b"0"


def wire_timestamp(value: dt.datetime) -> str:
    """The API's timestamp format, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC; naive datetimes are UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"


def _timestamp(value: Any) -> bytes:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return wire_timestamp(value).encode()


def _date(value: Any) -> bytes:
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    elif isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat().encode()


def _json_number(value: Any) -> Any:
    """Whole floats as integers (``1.0`` -> ``1``, ``-0.0`` -> ``0``): databases disagree on keeping them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _json_number(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_number(v) for v in value]
    return value


def _json_reference(value: Any) -> bytes:
    """The canonical JSON text as specified (``json.dumps``): the slow, always-applicable form."""
    if isinstance(value, (str, bytes, bytearray)):
        value = json.loads(value)
    value = _json_number(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _canonical_float(text: str) -> Any:
    """A JSON number with a fraction or exponent: an integer when whole, else Python's ``repr`` verbatim."""
    number = float(text)
    if number.is_integer():
        return int(number)
    if math.isfinite(number):
        return msgspec.Raw(repr(number).encode())
    return msgspec.Raw(json.dumps(number).encode())  # 1e400 reads as inf; json.dumps writes Infinity


_JSON_DECODER = msgspec.json.Decoder(float_hook=_canonical_float)
_JSON_ENCODER = msgspec.json.Encoder(order="sorted")


def _json(value: Any) -> bytes:
    # msgspec writes what json.dumps writes (keys sorted by code point, the same string escapes)
    # except for floats, which the decoder's hook turns into whole integers or repr() text.
    try:
        text = value if isinstance(value, (str, bytes, bytearray)) else json.dumps(value, ensure_ascii=False)
        return _JSON_ENCODER.encode(_JSON_DECODER.decode(text))
    except (msgspec.MsgspecError, TypeError, ValueError, UnicodeError, OverflowError):
        return _json_reference(value)


def canonical_for(kind: ColumnType) -> Canonical:
    """The function giving the canonical bytes of a non-NULL value of ``kind``."""
    base = kind.base
    if base in ("bigint", "int"):
        return _integer
    if base in ("varchar", "text"):
        return _text
    if base == "decimal":
        assert kind.scale is not None
        return _decimal(kind.scale)
    if base == "double":
        return _double
    if base == "boolean":
        return _boolean
    if base == "timestamp":
        return _timestamp
    if base == "date":
        return _date
    if base == "json":
        return _json
    raise AssertionError(f"no canonical form for {kind}")


class RowHasher:
    """Hashes rows of one data type given in configured column order."""

    def __init__(self, spec: DataTypeSpec) -> None:
        self.spec = spec
        self._canonical = tuple(canonical_for(c.type) for c in spec.columns)

    def encode(self, row: Sequence[Any]) -> bytes:
        """The canonical bytes of a row: each value length-prefixed, NULL as a bare marker."""
        parts = []
        for canonical, value in zip(self._canonical, row):
            if value is None:
                parts.append(NULL_MARKER)
            else:
                data = canonical(value)
                parts.append(b"%d:%b" % (len(data), data))
        return b";".join(parts)

    def hash(self, row: Sequence[Any]) -> int:
        """The row hash: the first 8 bytes of SHA-256 of the canonical bytes, big-endian unsigned."""
        return int.from_bytes(hashlib.sha256(self.encode(row)).digest()[:8], "big")


@dataclasses.dataclass(frozen=True)
class ChunkStats:
    """A chunk's checksum: its row count and the sum of its row hashes modulo 2**64."""

    count: int
    checksum: int

    def as_dict(self) -> dict[str, Any]:
        # As a string: JSON numbers above 2**53 lose precision in many languages.
        return {"count": self.count, "checksum": str(self.checksum)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkStats:
        return cls(count=int(data["count"]), checksum=int(data["checksum"]))


def chunk_stats(hashes: Iterable[int]) -> ChunkStats:
    """Combine row hashes, order-independently."""
    count, total = 0, 0
    for value in hashes:
        count += 1
        total += value
    return ChunkStats(count, total & MASK_64)
