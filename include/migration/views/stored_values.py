"""Values as targets hand them back, made JSON-able: datetimes as ISO-8601 UTC text, JSON lists as lists."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any


def json_list(value: Any) -> list[Any]:
    """A JSON list column's value as a list (empty when missing or not a JSON list)."""
    if not value:
        return []
    try:
        loaded = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return []
    return loaded if isinstance(loaded, list) else []


def as_datetime(value: Any) -> dt.datetime | None:
    """A naive UTC datetime: targets return naive UTC datetimes (MySQL) or ISO text (SQLite)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed.astimezone(dt.timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed


def iso_timestamp(value: Any) -> str | None:
    """``2026-11-30T14:55:01.000000Z`` for a target's datetime or ISO text; None when it is not one."""
    moment = as_datetime(value)
    return moment.isoformat(timespec="microseconds") + "Z" if moment else None
