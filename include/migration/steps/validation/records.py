"""The validation results table in each target: one row per run and data type."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from include.migration.steps.validation.validator import ValidationResult
from include.migration.target.connection import TargetDatabase
from include.migration.target.validation_table import VALIDATION_TABLE, VALIDATION_TABLE_SPEC


def record_validation(
    db: TargetDatabase, run_id: str | None, result: ValidationResult, error: str | None = None, final_check: bool = False
) -> None:
    """Store one validation's outcome (replacing an earlier record of the same run and data type); ``error`` when red.

    ``final_check`` marks the cut-over check of a DONE installation (``final_check=true`` runs).
    """
    d = db.dialect
    data = result.as_dict()
    keys = {"missing": data["missing_keys"], "different": data["different_keys"], "extra": data["extra_keys"]}
    values: dict[str, Any] = {
        "validation_id": f"{run_id}:{result.data_type}",
        "run_id": run_id,
        "data_type": result.data_type,
        "green": result.green,
        "rows_source": result.rows_source,
        "rows_target": result.rows_target,
        "chunks": result.chunks,
        "mismatched_chunks": json.dumps(data["mismatched_chunks"][:1000]),
        "mismatching_keys": json.dumps(keys, default=str),
        "repaired_rows": result.repaired_rows,
        "deleted_rows": result.deleted_rows,
        "method": result.method,
        "duration_seconds": result.seconds,
        "validated_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
        "error": error[:60_000] if error else None,
        "checksum": result.checksum or None,
        "final_check": final_check,
    }
    table = d.quote(VALIDATION_TABLE)
    db.execute(f"DELETE FROM {table} WHERE {d.quote('validation_id')} = {d.placeholder}", (values["validation_id"],))
    columns = ", ".join(d.quote(c) for c in values)
    marks = ", ".join([d.placeholder] * len(values))
    db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(values.values()))


def record_failed_validation(db: TargetDatabase, run_id: str | None, installation_id: str, data_type: str, error: str) -> None:
    """A validation that stopped with an error: a red record carrying the error."""
    failed = ValidationResult(
        installation=installation_id, data_type=data_type, green=False, rows_source=0, rows_target=0, chunks=0,
        mismatched_chunks=[], missing_keys=[], different_keys=[], extra_keys=[], repaired_rows=0, deleted_rows=0,
        method="failed", seconds=0.0,
    )
    record_validation(db, run_id, failed, error=error)


def latest_validations(db: TargetDatabase, *, final_checks_only: bool = False) -> dict[str, dict[str, Any]]:
    """The newest validation record of each data type (of the final checks only, when asked)."""
    d = db.dialect
    present = {c.lower() for c in db.existing_columns(VALIDATION_TABLE) or []}
    if not present:
        return {}
    names = [c.name for c in VALIDATION_TABLE_SPEC.columns if c.name in present]
    if final_checks_only and "final_check" not in names:
        return {}
    where = f" WHERE {d.quote('final_check')} = 1" if final_checks_only else ""
    rows = db.query(
        f"SELECT {', '.join(d.quote(n) for n in names)} FROM {d.quote(VALIDATION_TABLE)}{where} "
        f"ORDER BY {d.quote('validated_at')}"
    )
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        record = dict(zip(names, row))
        latest[record["data_type"]] = record
    return latest
