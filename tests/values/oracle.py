"""An independent, row-at-a-time reading of ``docs/checksum.md``: the oracle the columnar hasher is checked against.

Written from the specification alone (no package code), slow and plain on purpose.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from include.migration.configuration.config import ColumnType, DataTypeSpec

NULL = b"\xff"


def canonical_text(kind: ColumnType, value: Any) -> bytes:
    """The canonical UTF-8 text of one non-NULL value of ``kind``, per the specification's table."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode()
    base = kind.base
    if base in ("int", "bigint"):
        return str(int(value)).encode()
    if base in ("varchar", "text"):
        return str(value).encode()
    if base == "decimal":
        number = decimal.Decimal(str(value)).quantize(decimal.Decimal(1).scaleb(-kind.scale), context=decimal.Context(prec=200))
        if number == 0:
            number = abs(number)
        return format(number, "f").encode()
    if base == "double":
        number = float(value)
        return ("%.17g" % (0.0 if number == 0 else number)).encode()
    if base == "boolean":
        if isinstance(value, str):
            return b"1" if value.strip().lower() in ("1", "true") else b"0"
        return b"1" if value else b"0"
    if base == "timestamp":
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f").encode() + b"Z"
    if base == "date":
        if isinstance(value, str):
            value = dt.date.fromisoformat(value[:10])
        if isinstance(value, dt.datetime):
            value = value.date()
        return b"%04d-%02d-%02d" % (value.year, value.month, value.day)
    if base == "json":
        document = json.loads(value) if isinstance(value, str) else value
        return json.dumps(_whole_numbers(document), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    raise AssertionError(base)


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def encode_row(spec: DataTypeSpec, row: Sequence[Any]) -> bytes:
    """``<length>:<text>`` per value in configured order, NULL as 0xFF, joined with ``;``."""
    parts = []
    for column, value in zip(spec.columns, row):
        if value is None:
            parts.append(NULL)
        else:
            text = canonical_text(column.type, value)
            parts.append(str(len(text)).encode() + b":" + text)
    return b";".join(parts)


def row_hash(spec: DataTypeSpec, row: Sequence[Any]) -> int:
    """The first 8 bytes of SHA-256 of the row's canonical bytes, big-endian unsigned."""
    return int.from_bytes(hashlib.sha256(encode_row(spec, row)).digest()[:8], "big")
