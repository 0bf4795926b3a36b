"""The API's timestamp text for single Python values (cursors, checkpoints, written-back rows); no pyarrow."""

from __future__ import annotations

import datetime as dt


def wire_timestamp(value: dt.datetime) -> str:
    """The API's timestamp format, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC; naive datetimes are UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"


def parse_timestamp(text: str) -> dt.datetime:
    """An ISO 8601 timestamp as a naive UTC datetime (a zone-less one is UTC already)."""
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value
