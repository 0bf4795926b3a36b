"""The source database of the reference remote: one multi-tenant table per data type.

Every data type's table holds all installations, told apart by an
``installation_id`` column that leads the primary key, so the page query
``installation_id = ? AND key > ? ORDER BY key`` is one index range scan.
Data types paged by ``(updated_at, key)`` get an index on
``(installation_id, updated_at, key)`` for the same reason.
A ``migration_status`` table holds each installation's migration status; an
installation without a row there is ``READY``. :func:`init_source` creates the
tables a source lacks; :func:`missing_tables` and :func:`missing_columns` say
what it lacks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from decimal import Context, Decimal
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Double,
    Engine,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    create_engine,
    inspect,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from include.migration.configuration.config import ColumnType, DataTypeSpec

INSTALLATION_COLUMN = "installation_id"
STATUS_TABLE = "migration_status"
STATUSES = ("READY", "PENDING", "IN_PROGRESS", "DONE")
DEFAULT_STATUS = "READY"

_UTC = dt.timezone.utc
# PostgreSQL truncates longer identifiers, MySQL rejects them.
_MAX_INDEX_NAME = 63
# Wide enough for decimal(65,30) without the default 28-digit context rounding.
_DECIMAL_CONTEXT = Context(prec=100)


class SourceSchema(NamedTuple):
    """SQLAlchemy objects of the source database."""

    metadata: MetaData
    tables: dict[str, Table]
    """Data type name -> its table."""
    status_table: Table


class UtcDateTime(TypeDecorator[dt.datetime]):
    """``timestamp``: stored in UTC, always read back as an aware UTC datetime.

    SQLite keeps no offset, so an aware value is converted to UTC before it is
    written; a naive value is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=_UTC)
        return value.astimezone(_UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=_UTC)
        return value.astimezone(_UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """``decimal(p,s)``: ``NUMERIC(p,s)``, except on SQLite, where it is stored as text.

    SQLite keeps numerics as 64-bit floats, which silently loses digits beyond
    ~15; the reference source must hand out exactly what was written.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(self.precision + 2))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return format(quantize_decimal(value, self.precision, self.scale), "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        if isinstance(value, float):
            value = repr(value)
        return quantize_decimal(Decimal(value), self.precision, self.scale)


def quantize_decimal(value: Decimal | int | float | str, precision: int, scale: int) -> Decimal:
    """Round ``value`` to ``scale`` places (half-even, like the databases) and check it fits ``precision``."""
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ValueError(f"decimal({precision},{scale}) cannot hold {value!r}")
    quantized = number.quantize(Decimal(1).scaleb(-scale), context=_DECIMAL_CONTEXT)
    if quantized.adjusted() >= precision - scale:
        raise ValueError(f"decimal({precision},{scale}) cannot hold {value!r}: too many integer digits")
    return quantized


def sql_type(column_type: ColumnType, *, is_key: bool = False) -> TypeEngine[Any]:
    """The SQLAlchemy type used in the source database for a configured column type."""
    base = column_type.base
    if base == "bigint":
        return BigInteger()
    if base == "int":
        return Integer()
    if base == "varchar":
        assert column_type.length is not None
        if is_key:
            # Code-point order for string keys on PostgreSQL too (SQLite compares
            # bytes already), so page order does not depend on the server locale.
            return String(column_type.length).with_variant(String(column_type.length, collation="C"), "postgresql")
        return String(column_type.length)
    if base == "text":
        return Text()
    if base == "decimal":
        assert column_type.precision is not None and column_type.scale is not None
        return ExactDecimal(column_type.precision, column_type.scale)
    if base == "double":
        return Double()
    if base == "boolean":
        return Boolean()
    if base == "timestamp":
        return UtcDateTime()
    if base == "date":
        return Date()
    if base == "json":
        # none_as_null: a Python None is SQL NULL, not the JSON literal null.
        return JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
    raise ValueError(f"unsupported column type {column_type}")


def build_source_table(metadata: MetaData, spec: DataTypeSpec) -> Table:
    """Define ``spec.source_table`` on ``metadata``: ``installation_id`` plus the configured columns."""
    if INSTALLATION_COLUMN in spec.column_names:
        raise ValueError(f"data type {spec.name!r}: column name {INSTALLATION_COLUMN!r} is reserved by the source")
    columns = [
        Column(c.name, sql_type(c.type, is_key=c.name in spec.key_names), nullable=c.nullable) for c in spec.columns
    ]
    table = Table(
        spec.source_table,
        metadata,
        Column(INSTALLATION_COLUMN, String(100), nullable=False),
        *columns,
        PrimaryKeyConstraint(INSTALLATION_COLUMN, *spec.key_names, name=f"pk_{spec.source_table}"),
    )
    if spec.cursor_mode == "updated_at" and spec.updated_at_column:
        Index(
            updated_at_index_name(spec.source_table),
            table.c[INSTALLATION_COLUMN],
            table.c[spec.updated_at_column],
            table.c[spec.primary_key],
        )
    return table


def updated_at_index_name(source_table: str) -> str:
    """``ix_<table>_updated_at``, shortened with a stable digest when too long for an identifier."""
    name = f"ix_{source_table}_updated_at"
    if len(name) <= _MAX_INDEX_NAME:
        return name
    digest = hashlib.sha256(source_table.encode()).hexdigest()[:10]
    return f"ix_{source_table[:_MAX_INDEX_NAME - 25]}_{digest}_updated_at"


def build_source_metadata(data_types: Sequence[DataTypeSpec]) -> SourceSchema:
    """Define the data-type tables and the status table on a fresh ``MetaData``."""
    metadata = MetaData()
    status_table = Table(
        STATUS_TABLE,
        metadata,
        Column(INSTALLATION_COLUMN, String(100), primary_key=True),
        Column("status", String(20), nullable=False),
        # Written back by the pipeline (capability status-updates): its evidence and when it wrote.
        Column("evidence", Text, nullable=True),
        Column("updated_at", UtcDateTime(), nullable=True),
    )
    tables: dict[str, Table] = {}
    owners: dict[str, str] = {STATUS_TABLE: "the status table"}
    for spec in data_types:
        if spec.source_table in owners:
            raise ValueError(
                f"data type {spec.name!r}: source_table {spec.source_table!r} "
                f"is already used by {owners[spec.source_table]}"
            )
        owners[spec.source_table] = f"data type {spec.name!r}"
        tables[spec.name] = build_source_table(metadata, spec)
    return SourceSchema(metadata, tables, status_table)


def create_source_engine(source_url: str) -> Engine:
    """A pooled engine for the source; SQLite connections may cross threads (the API serves from a threadpool)."""
    connect_args: dict[str, Any] = {}
    if source_url.startswith("sqlite"):
        connect_args["check_same_thread"] = False
    if source_url.startswith("postgresql"):
        # Timestamps in text form (Arrow pages read them through COPY) carry a UTC offset.
        connect_args["options"] = "-c TimeZone=UTC"
    return create_engine(
        source_url, pool_pre_ping=True, connect_args=connect_args, json_deserializer=msgspec.json.decode
    )


class SourceInit(NamedTuple):
    """What :func:`init_source` found and did."""

    created: list[str]
    """Tables created, in creation order."""
    present: list[str]
    """Tables that were there already."""
    lacking: dict[str, list[str]]
    """Tables that were there already -> the columns they lack (left as they are)."""


def missing_tables(conn: Connection, tables: Iterable[Table]) -> list[str]:
    """The names of ``tables`` that the database of ``conn`` does not have (one catalog query)."""
    present = set(inspect(conn).get_table_names())
    return [table.name for table in tables if table.name not in present]


def missing_columns(conn: Connection, table: Table) -> list[str]:
    """The columns of ``table`` that its existing table in the database of ``conn`` lacks."""
    present = {column["name"] for column in inspect(conn).get_columns(table.name)}
    return [column.name for column in table.columns if column.name not in present]


def init_source(source_url: str, data_types: Sequence[DataTypeSpec]) -> SourceInit:
    """Create the source tables that do not exist yet: each data type's table and ``migration_status``.

    Idempotent: existing tables are neither dropped nor altered (the columns they
    lack are reported). The tables are the ones :func:`build_source_metadata` defines.
    """
    schema = build_source_metadata(data_types)
    tables = schema.metadata.sorted_tables
    engine = create_source_engine(source_url)
    try:
        with engine.begin() as conn:
            missing = set(missing_tables(conn, tables))
            created = [table for table in tables if table.name in missing]
            schema.metadata.create_all(conn, tables=created)
            present = [table for table in tables if table.name not in missing]
            lacking = {table.name: gaps for table in present if (gaps := missing_columns(conn, table))}
    finally:
        engine.dispose()
    return SourceInit([t.name for t in created], [t.name for t in present], lacking)
