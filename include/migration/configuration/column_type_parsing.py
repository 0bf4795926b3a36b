"""Column types as the configuration writes them (``bigint``, ``varchar(255)``, ``decimal(12,2)``, ...), parsed."""

from __future__ import annotations

import re
from typing import Any

_TYPE_PATTERN = re.compile(
    r"^(?P<base>bigint|int|varchar|text|decimal|double|boolean|timestamp|date|json)"
    r"(?:\((?P<args>\d+(?:,\s*\d+)?)\))?$"
)


def parse_column_type(text: str) -> dict[str, Any]:
    """The fields of a ``ColumnType`` written as ``text``: its ``base`` and the arguments that base takes.

    Raises :class:`ValueError` naming the text when the type is unknown or its arguments are out of range.
    """
    match = _TYPE_PATTERN.match(text.strip().lower())
    if not match:
        raise ValueError(
            f"unknown column type {text!r}; expected one of bigint, int, varchar(n), text, "
            "decimal(p,s), double, boolean, timestamp, date, json"
        )
    base, args = match["base"], match["args"]
    numbers = [int(a) for a in args.split(",")] if args else []
    if base == "varchar":
        if len(numbers) != 1 or not 1 <= numbers[0] <= 16383:
            raise ValueError(f"varchar needs one length between 1 and 16383, got {text!r}")
        return {"base": base, "length": numbers[0]}
    if base == "decimal":
        if len(numbers) != 2 or not (1 <= numbers[0] <= 65 and 0 <= numbers[1] <= min(30, numbers[0])):
            raise ValueError(f"decimal needs (precision 1-65, scale 0-30 and <= precision), got {text!r}")
        return {"base": base, "precision": numbers[0], "scale": numbers[1]}
    if numbers:
        raise ValueError(f"type {base} takes no arguments, got {text!r}")
    return {"base": base}
