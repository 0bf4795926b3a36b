"""Idempotent, backward-compatible DDL for an installation's target, tracked like a migration runner.

Tables are created when missing and columns added when the configuration
gained some; nothing is ever dropped or narrowed. A table that exists already
is checked first (``target/table_check.py``): one that cannot hold the data
type as configured stops the migration before anything is copied. Each applied step is recorded
in ``_migration_schema`` with its DDL, so an operator can see what ran and when.
A failed step is simply retried on the next run: every step checks the live
schema first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Sequence

from include.migration.configuration.config import ColumnSpec, DataTypeSpec
from include.migration.errors import FatalError
from include.migration.target.connection import TargetDatabase
from include.migration.target.profiles import TargetProfile
from include.migration.target.state import STATE_TABLE_SPEC
from include.migration.target.table_check import check_existing_table
from include.migration.target.throttle import RateLimiter
from include.migration.target.validation_table import VALIDATION_TABLE_SPEC

SCHEMA_TABLE = "_migration_schema"
INTERNAL_TABLES: tuple[DataTypeSpec, ...] = (STATE_TABLE_SPEC, VALIDATION_TABLE_SPEC)


class QuotaError(FatalError):
    """The migration would exceed the target profile's quotas; nothing was copied."""


@dataclasses.dataclass(frozen=True)
class SchemaStep:
    step_id: str
    ddl: str


def _schema_table_ddl(db: TargetDatabase) -> str:
    d = db.dialect
    stamp = "TEXT" if d.name == "sqlite" else "DATETIME(6)"
    return (
        f"CREATE TABLE IF NOT EXISTS {d.quote(SCHEMA_TABLE)} (\n"
        f"  {d.quote('step_id')} VARCHAR(255) NOT NULL,\n"
        f"  {d.quote('checksum')} CHAR(64) NOT NULL,\n"
        f"  {d.quote('ddl')} TEXT NOT NULL,\n"
        f"  {d.quote('applied_at')} {stamp} NOT NULL,\n"
        f"  PRIMARY KEY ({d.quote('step_id')})\n"
        f"){d.table_suffix}"
    )


def target_columns(spec: DataTypeSpec) -> tuple[ColumnSpec, ...]:
    """The target table's columns: the configured ones, plus the soft-delete marker when configured."""
    if spec.soft_delete_column is None:
        return spec.columns
    return (*spec.columns, ColumnSpec(name=spec.soft_delete_column, type="timestamp", nullable=True))


def plan_steps(db: TargetDatabase, data_types: Sequence[DataTypeSpec]) -> list[SchemaStep]:
    """The DDL still needed for the state table and every data type's table, by looking at the live schema."""
    d = db.dialect
    steps: list[SchemaStep] = []
    for spec in (*INTERNAL_TABLES, *data_types):
        columns = target_columns(spec)
        existing = db.existing_columns(spec.target_table)
        if existing is None:
            ddl = d.create_table(spec.target_table, columns, spec.primary_key)
            steps.append(SchemaStep(f"create_table:{spec.target_table}", ddl))
            continue
        present = {c.lower() for c in existing}
        for column in columns:
            if column.name.lower() not in present:
                steps.append(
                    SchemaStep(f"add_column:{spec.target_table}.{column.name}", d.add_column(spec.target_table, column))
                )
    return steps


def check_quotas(db: TargetDatabase, data_types: Sequence[DataTypeSpec], profile: TargetProfile, installation_id: str) -> None:
    """Fail before copying when the configured tables cannot fit the profile's table quota."""
    if profile.max_tables is None:
        return
    needed = len(data_types) + len(INTERNAL_TABLES) + 1  # + the schema table
    if needed > profile.max_tables:
        raise QuotaError(
            f"installation {installation_id!r}: {needed} tables are needed but the {profile.name!r} profile "
            f"allows {profile.max_tables}; reduce the data types for this installation"
        )


def prepare_schema(
    db: TargetDatabase, data_types: Sequence[DataTypeSpec], profile: TargetProfile, installation_id: str
) -> list[str]:
    """Apply the missing DDL; returns the ids of the steps applied now (empty when up to date)."""
    check_quotas(db, data_types, profile, installation_id)
    for spec in data_types:
        check_existing_table(db, spec, target_columns(spec), installation_id)
    ddl_rate = profile.max_ddl_per_minute / 60.0 if profile.max_ddl_per_minute else None
    limiter = RateLimiter(ddl_rate)
    if db.existing_columns(SCHEMA_TABLE) is None:
        limiter.acquire()
        db.execute(_schema_table_ddl(db))
    applied = []
    p, q = db.dialect.placeholder, db.dialect.quote
    for step in plan_steps(db, data_types):
        limiter.acquire()
        try:
            db.execute(step.ddl)
        except Exception as exc:
            if step.step_id not in {s.step_id for s in plan_steps(db, data_types)}:
                continue  # another run applied the same step at the same moment
            raise FatalError(
                f"installation {installation_id!r}: schema step {step.step_id!r} failed: {exc}; DDL was:\n{step.ddl}"
            ) from exc
        checksum = hashlib.sha256(step.ddl.encode()).hexdigest()
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        db.execute(f"DELETE FROM {q(SCHEMA_TABLE)} WHERE {q('step_id')} = {p}", (step.step_id,))
        # Insert-if-absent: two runs preparing the same target at once both record the step without a clash.
        db.execute(
            db.dialect.insert_if_absent(SCHEMA_TABLE, ["step_id", "checksum", "ddl", "applied_at"], "step_id"),
            (step.step_id, checksum, step.ddl, now),
        )
        applied.append(step.step_id)
    return applied
