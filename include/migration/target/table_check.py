"""An existing target table is checked against the configuration before anything is copied into it.

A table the package did not create (or created under an older configuration)
is adopted only when it can hold every row the source has, as the source
tells rows apart: the same primary key, every column at least as wide as
configured (and utf8mb4 text), a varchar key compared byte for byte (a binary
NO PAD collation where the server has one) and no unique index beyond the key
(which could merge or refuse rows the source keeps apart). Otherwise the
migration stops before copying, naming each difference and the statement that
fixes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from include.migration.configuration.config import ColumnSpec, DataTypeSpec
from include.migration.errors import FatalError
from include.migration.target.connection import TargetDatabase
from include.migration.target.dialects import Dialect

_TEXTS = ("text", "mediumtext", "longtext")
_INTEGERS = ("tinyint", "smallint", "mediumint", "int", "bigint")
# Binary and NO PAD: 'a' and 'a ' differ, and order is UTF-8 byte order.
NO_PAD_BINARY = ("utf8mb4_nopad_bin", "utf8mb4_0900_bin", "binary")


class TargetTableMismatchError(FatalError):
    """An existing target table cannot hold the configured data type as the source keeps it; nothing was copied."""


@dataclasses.dataclass(frozen=True)
class ExistingColumn:
    """One column as ``information_schema.COLUMNS`` describes it."""

    name: str
    data_type: str
    column_type: str
    char_length: int | None
    precision: int | None
    scale: int | None
    datetime_precision: int | None
    nullable: bool
    charset: str | None
    collation: str | None


@dataclasses.dataclass(frozen=True)
class ExistingTable:
    """The parts of a live table that decide whether it can hold a data type."""

    name: str
    columns: dict[str, ExistingColumn]
    """By lower-cased name."""
    primary_key: tuple[str, ...]
    unique_indexes: dict[str, tuple[str, ...]]
    """Unique indexes other than the primary key: name -> columns."""


def describe_table(db: TargetDatabase, table: str) -> ExistingTable | None:
    """The live table from ``information_schema`` (MySQL family), or None when it does not exist."""
    rows = db.query(
        "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, "
        "DATETIME_PRECISION, IS_NULLABLE, CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
        (table,),
    )
    if not rows:
        return None
    columns = {}
    for name, kind, column_type, length, precision, scale, dt_precision, nullable, charset, collation in rows:
        columns[str(name).lower()] = ExistingColumn(
            str(name), str(kind).lower(), str(column_type).lower(), _int(length), _int(precision), _int(scale),
            _int(dt_precision), str(nullable).upper() == "YES", charset, collation,
        )
    indexes: dict[str, list[tuple[int, str, bool]]] = {}
    for index, non_unique, column, position in db.query(
        "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SEQ_IN_INDEX FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
        (table,),
    ):
        indexes.setdefault(str(index), []).append((int(position), str(column), int(non_unique) == 0))
    ordered = {name: tuple(c for _, c, _ in sorted(parts)) for name, parts in indexes.items()}
    unique = {name for name, parts in indexes.items() if all(u for _, _, u in parts)}
    return ExistingTable(
        name=table,
        columns=columns,
        primary_key=ordered.get("PRIMARY", ()),
        unique_indexes={name: ordered[name] for name in sorted(unique) if name != "PRIMARY"},
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def column_problem(column: ColumnSpec, existing: ExistingColumn, is_key: bool) -> str | None:
    """Why ``existing`` cannot hold every value of ``column`` (None when it can)."""
    kind, base = existing.data_type, column.type.base
    if base in ("bigint", "int"):
        wide_enough = ("bigint",) if base == "bigint" else ("int", "bigint")
        if kind not in wide_enough or "unsigned" in existing.column_type:
            return f"is {existing.column_type}, narrower than {column.type}"
    elif base == "varchar":
        length = column.type.length or 0
        if not (kind == "varchar" and (existing.char_length or 0) >= length) and kind not in _TEXTS:
            return f"is {existing.column_type}, narrower than {column.type}"
    elif base == "text" and kind not in _TEXTS:
        return f"is {existing.column_type}, not a text type"
    elif base == "decimal":
        precision, scale = column.type.precision or 0, column.type.scale or 0
        if kind != "decimal" or existing.scale != scale or (existing.precision or 0) < precision:
            return f"is {existing.column_type}; decimal({precision},{scale}) needs the same scale and at least its precision"
    elif base == "double" and kind != "double":
        return f"is {existing.column_type}, not double"
    elif base == "boolean" and kind not in _INTEGERS:
        return f"is {existing.column_type}, not an integer type for booleans"
    elif base == "timestamp" and (kind != "datetime" or (existing.datetime_precision or 0) < 6):
        return f"is {existing.column_type}; timestamps need datetime(6) (microseconds, no time zone conversion)"
    elif base == "date" and kind != "date":
        return f"is {existing.column_type}, not date"
    elif base == "json" and kind not in ("json", "longtext"):
        return f"is {existing.column_type}, not json"
    if base in ("varchar", "text", "json") and kind != "json" and existing.charset not in (None, "utf8mb4"):
        return f"uses character set {existing.charset}, which cannot hold every character; utf8mb4 can"
    if column.nullable and not existing.nullable and not is_key:
        return "is NOT NULL, but the configuration allows NULL"
    return None


def table_problems(table: ExistingTable, spec: DataTypeSpec, columns: Sequence[ColumnSpec], dialect: Dialect) -> list[str]:
    """Each way ``table`` differs from what ``spec`` needs, with the statement that fixes it."""
    quoted = dialect.quote(table.name)
    problems = []
    keys = spec.key_names
    if tuple(c.lower() for c in table.primary_key) != tuple(k.lower() for k in keys):
        have, want = ", ".join(table.primary_key) or "none", ", ".join(keys)
        problems.append(f"its primary key is ({have}), the configuration's is ({want}): use a table keyed by "
                        f"({want}) (another target_table) or change the configured primary_key")
    for column in columns:
        existing = table.columns.get(column.name.lower())
        if existing is None:
            continue  # a missing column is added by the schema step
        is_key = column.name in keys
        problem = column_problem(column, existing, is_key)
        if problem is None and is_key and column.type.base == "varchar" and dialect.key_collation \
                and existing.collation not in NO_PAD_BINARY:
            problem = (f"compares keys with collation {existing.collation}, which pads with spaces or folds case; "
                       f"keys must be compared byte for byte ({dialect.key_collation})")
        if problem is not None:
            fix = f"ALTER TABLE {quoted} MODIFY {dialect.column_definition(column, key=is_key)}"
            problems.append(f"column {column.name!r} {problem}: {fix}")
    for name, index_columns in table.unique_indexes.items():
        problems.append(f"unique index {name!r} on ({', '.join(index_columns)}) could merge or refuse rows the source "
                        f"keeps apart: ALTER TABLE {quoted} DROP INDEX {dialect.quote(name)}")
    return problems


def check_existing_table(
    db: TargetDatabase, spec: DataTypeSpec, columns: Sequence[ColumnSpec], installation_id: str
) -> None:
    """Raise :class:`TargetTableMismatchError` when the existing table of ``spec`` cannot hold it (MySQL family)."""
    if db.dialect.name == "sqlite":
        return  # the embedded demo's own tables: created by the package, nothing to adopt
    table = describe_table(db, spec.target_table)
    if table is None:
        return
    problems = table_problems(table, spec, columns, db.dialect)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise TargetTableMismatchError(
            f"installation {installation_id!r}, data type {spec.name!r}: the existing target table "
            f"{spec.target_table!r} cannot hold the data type as configured:\n{listed}\n"
            "Fix the table (the statements above) or configure another target_table, then re-run; nothing was copied"
        )
