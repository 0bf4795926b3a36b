"""The fault report's comparison: both sides read with their own drivers, normalised to text, compared row by row.

Nothing here uses the package's readers, converters or hashes. The source
(PostgreSQL) is read with plain SQL through SQLAlchemy/psycopg2, the target
(MariaDB) with MySQLdb, and every value of both sides goes through
:func:`normalise`, driven only by the column's declared type in the
configuration (``bigint``, ``decimal(12,2)``, ``timestamp``, ...):

* integers: decimal text; booleans: ``0``/``1``; doubles: ``repr`` of the float
* decimals: plain notation with the column's scale (never rounded: extra digits stay and differ)
* timestamps: UTC ``YYYY-MM-DD HH:MM:SS.ffffff`` (a naive value is UTC already); dates: ISO
* JSON: re-serialised with sorted keys; text: as it is
* NULL: ``None``, which no normalised value equals
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Sequence
from decimal import Context, Decimal
from typing import Any

import sqlalchemy as sa

from include.migration.configuration.config import DataTypeSpec
from tests.conftest import mariadb_connection, target_database_name

TextRow = tuple[str | None, ...]
"""A row with every value normalised to text (None: NULL)."""

# The reference source's tenant column (its contract, not the package's code).
SOURCE_INSTALLATION_COLUMN = "installation_id"
_DECIMAL = re.compile(r"decimal\(\s*\d+\s*,\s*(\d+)\s*\)")
_INTEGERS = ("bigint", "int")
# Room for decimal(65,30): the default 28-digit context cannot quantize it.
_WIDE = Context(prec=100)


def normalise(declared_type: str, value: Any) -> str | None:
    """``value`` of a column declared ``declared_type`` (configuration text, e.g. ``decimal(12,2)``) as text."""
    kind = declared_type.strip().lower()
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if kind in _INTEGERS or kind == "boolean":
        return str(int(value)) if isinstance(value, (int, bool)) else f"not an integer: {value!r}"
    decimal = _DECIMAL.fullmatch(kind)
    if decimal:
        number = Decimal(str(value))
        at_scale = number.quantize(Decimal(1).scaleb(-int(decimal[1])), context=_WIDE)
        return format(at_scale if at_scale == number else number, "f")
    if kind == "double":
        return repr(float(value))
    if kind == "timestamp":
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds")
    if kind == "date":
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if kind == "json":
        parsed = json.loads(value) if isinstance(value, str) else value
        return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def normalise_row(declared_types: Sequence[str], row: Sequence[Any]) -> TextRow:
    """Every value of ``row`` through :func:`normalise` with its column's declared type."""
    assert len(declared_types) == len(row), (declared_types, row)
    return tuple(normalise(t, v) for t, v in zip(declared_types, row))


def _declared(spec: DataTypeSpec) -> list[str]:
    return [str(c.type) for c in spec.columns]


def read_source(source_url: str, spec: DataTypeSpec, installation_id: str) -> list[TextRow]:
    """One installation's rows of ``spec`` at the PostgreSQL source, in key order, as text."""
    columns = ", ".join(f'"{c}"' for c in spec.column_names)
    query = sa.text(
        f'SELECT {columns} FROM "{spec.source_table}" WHERE "{SOURCE_INSTALLATION_COLUMN}" = :installation '
        f'ORDER BY "{spec.primary_key}"'
    )
    engine = sa.create_engine(source_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(query, {"installation": installation_id}).all()
    finally:
        engine.dispose()
    declared = _declared(spec)
    return [normalise_row(declared, tuple(r)) for r in rows]


def read_target(installation_id: str, spec: DataTypeSpec) -> list[TextRow]:
    """The rows of ``spec`` in the installation's MariaDB target, in key order, as text."""
    conn = mariadb_connection(target_database_name(installation_id))
    try:
        cursor = conn.cursor()
        columns = ", ".join(f"`{c}`" for c in spec.column_names)
        cursor.execute(f"SELECT {columns} FROM `{spec.target_table}` ORDER BY `{spec.primary_key}`")
        rows = cursor.fetchall()
    finally:
        conn.close()
    declared = _declared(spec)
    return [normalise_row(declared, tuple(r)) for r in rows]


@dataclasses.dataclass(frozen=True)
class Comparison:
    """An origin and its copy compared by normalised key and value; see :func:`compare`."""

    origin_rows: int
    copy_rows: int
    lost: int
    different: int
    duplicated: int

    @property
    def equal(self) -> bool:
        return (self.lost, self.different, self.duplicated) == (0, 0, 0) and self.origin_rows == self.copy_rows


def compare(origin: Sequence[TextRow], copy: Sequence[TextRow], key_index: int) -> Comparison:
    """Count what the copy lost, holds differently and holds twice.

    * lost: origin keys absent from the copy
    * different: keys on both sides whose rows differ, plus copy rows under a key the origin lacks
    * duplicated: copy rows beyond one per key, plus copy rows under a key the origin lacks whose
      other values equal an origin row's other values (a row written twice under another key)
    """
    originals = {row[key_index]: row for row in origin}
    copies: dict[str | None, list[TextRow]] = {}
    for row in copy:
        copies.setdefault(row[key_index], []).append(row)
    lost = sum(1 for key in originals if key not in copies)
    changed = sum(1 for key, rows in copies.items() if key in originals and any(r != originals[key] for r in rows))
    strays = [row for key, rows in copies.items() if key not in originals for row in rows]

    def without_key(row: TextRow) -> TextRow:
        return row[:key_index] + row[key_index + 1:]

    original_values = {without_key(row) for row in origin}
    moved = sum(1 for row in strays if without_key(row) in original_values)
    return Comparison(len(origin), len(copy), lost, changed + len(strays), len(copy) - len(copies) + moved)
