"""One installation's overview entry, read from its own target: state, validation records and row counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from include.migration.configuration.config import DataTypeSpec, InstallationSpec, MigrationConfig
from include.migration.orchestration import task_resources
from include.migration.steps.validation.records import latest_validations
from include.migration.target.connection import TargetDatabase, open_target
from include.migration.target.state import INSTALLATION_JOB_ID, STATE_TABLE, StateRow, StateStore, data_type_job_id
from include.migration.target.validation_table import VALIDATION_TABLE
from include.migration.views.error_redaction import sanitize_error
from include.migration.views.overview_entries import (
    DataTypeOverview,
    HistoryPoint,
    InstallationOverview,
    ValidationSummary,
)
from include.migration.views.progress import eta_seconds, progress_percent, recent_throughput
from include.migration.views.stored_values import as_datetime, iso_timestamp, json_list

HISTORY_LIMIT = 500
RECENT_TRANSFERS_COLUMN = "recent_transfers"
ERROR_CONTEXT_COLUMNS = ("last_error_task", "last_error_try", "last_error_at")


def read_installation(config: MigrationConfig, installation: InstallationSpec, dag_id: str) -> InstallationOverview:
    """The installation's overview entry, read from its target in one attempt."""
    _, installation, profile = task_resources.resolve(installation.id, config)
    # One attempt, unlike task_resources.target_database: an overview reports a target that is down at once
    # (the next refresh tries again) instead of spending the tasks' back-off of several seconds on it.
    db = open_target(installation.target_conn_id, profile, attempts=1)
    try:
        return _read_target(db, installation, dag_id, config.data_types_for(installation))
    finally:
        db.close()


def _read_target(
    db: TargetDatabase,
    installation: InstallationSpec,
    dag_id: str,
    specs: tuple[DataTypeSpec, ...],
) -> InstallationOverview:
    state_columns = db.existing_columns(STATE_TABLE)
    has_state = state_columns is not None
    has_validation = db.existing_columns(VALIDATION_TABLE) is not None
    state = {r.job_id: r for r in StateStore(db).all()} if has_state else {}
    extra = _state_extras(db, state_columns) if state_columns else {}
    validations = latest_validations(db) if has_validation else {}
    finals = latest_validations(db, final_checks_only=True) if has_validation else {}
    data_types = tuple(
        _data_type(db, spec, state.get(data_type_job_id(spec.name)), extra, validations.get(spec.name))
        for spec in specs
    )
    own = state.get(INSTALLATION_JOB_ID)
    targets = [d.rows_target for d in data_types]
    sources = [d.rows_source for d in data_types]
    rows_target = sum(t for t in targets if t is not None) if any(t is not None for t in targets) else None
    rows_source = sum(s for s in sources if s is not None) if sources and None not in sources else None
    return InstallationOverview(
        id=installation.id,
        enabled=installation.enabled,
        dag_id=dag_id,
        target_profile=installation.target_profile,
        status=own.status.value if own else None,
        finished_at=iso_timestamp(own.finished_at) if own else None,
        updated_at=iso_timestamp(own.updated_at) if own else None,
        run_id=own.run_id if own else None,
        quiet_passes=extra.get(INSTALLATION_JOB_ID, {}).get("quiet_passes"),
        last_error=_with_context(own.last_error if own else None, extra.get(INSTALLATION_JOB_ID, {})),
        rows_target=rows_target,
        rows_source=rows_source,
        progress_percent=progress_percent(rows_target, rows_source),
        data_types=data_types,
        history=_history(db) if has_validation else (),
        validations_for_readiness={"finals": _brief(finals), "latest": _brief(validations)},
    )


def _brief(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: {"green": bool(r["green"]), "validated_at": iso_timestamp(as_datetime(r["validated_at"])), "run_id": r["run_id"]}
            for name, r in records.items()}


def _data_type(
    db: TargetDatabase,
    spec: DataTypeSpec,
    row: StateRow | None,
    extra: dict[str, dict[str, Any]],
    validation: dict[str, Any] | None,
) -> DataTypeOverview:
    rows_target = _count(db, spec.target_table)
    last = _validation_summary(validation) if validation else None
    rows_source = last.rows_source if last else None
    own = extra.get(data_type_job_id(spec.name), {})
    created_at = as_datetime(own.get("created_at"))
    updated_at = as_datetime(row.updated_at) if row else None
    window = recent_throughput(own.get("recent_transfers") or [])
    throughput = window.rows_per_second if window else None
    return DataTypeOverview(
        name=spec.name,
        target_table=spec.target_table,
        status=row.status.value if row else None,
        rows_target=rows_target,
        rows_source=rows_source,
        progress_percent=progress_percent(rows_target, rows_source),
        checkpoint=row.checkpoint if row else None,
        rows_copied=row.rows_copied if row else None,
        pages_copied=row.pages_copied if row else None,
        created_at=iso_timestamp(created_at),
        updated_at=iso_timestamp(updated_at),
        last_validation=last,
        last_error=_with_context(row.last_error if row else None, own),
        throughput_rows_per_second=throughput,
        throughput_window=window,
        eta_seconds=eta_seconds(rows_source, rows_target, throughput),
    )


def _state_extras(db: TargetDatabase, columns: Sequence[str]) -> dict[str, dict[str, Any]]:
    """created_at, quiet_passes and recent_transfers per job id: what StateStore.all() does not return.

    One query for every data type; a state table from before ``recent_transfers`` existed (its target not
    prepared since) reads as having no recent transfers.
    """
    q = db.dialect.quote
    optional = [c for c in (RECENT_TRANSFERS_COLUMN, *ERROR_CONTEXT_COLUMNS) if c in columns]
    wanted = ["job_id", "created_at", "quiet_passes", *optional]
    rows = db.query(f"SELECT {', '.join(q(c) for c in wanted)} FROM {q(STATE_TABLE)}")
    extras: dict[str, dict[str, Any]] = {}
    for job_id, created, quiet, *rest in rows:
        values = dict(zip(optional, rest))
        extras[job_id] = {
            "created_at": created,
            "quiet_passes": quiet,
            "recent_transfers": json_list(values.get(RECENT_TRANSFERS_COLUMN)),
            "error_context": _error_context(values),
        }
    return extras


def _error_context(values: dict[str, Any]) -> str:
    """``transfer, try 2, 2026-11-30 14:55:01 UTC: `` before a recorded error (empty when not recorded)."""
    task = values.get("last_error_task")
    if not task:
        return ""
    attempt = f", try {values['last_error_try']}" if values.get("last_error_try") else ""
    when = iso_timestamp(as_datetime(values.get("last_error_at")))
    return f"{task}{attempt}, {when[:10]} {when[11:19]} UTC: " if when else f"{task}{attempt}: "


def _with_context(error: str | None, extra: dict[str, Any]) -> str | None:
    return (extra.get("error_context", "") + sanitize_error(error)) if error else None


def _count(db: TargetDatabase, table: str) -> int | None:
    if db.existing_columns(table) is None:
        return None
    return int(db.query(f"SELECT COUNT(*) FROM {db.dialect.quote(table)}")[0][0])


def _validation_summary(record: dict[str, Any]) -> ValidationSummary:
    mismatched = record.get("mismatched_chunks")
    return ValidationSummary(
        green=bool(record["green"]),
        validated_at=iso_timestamp(record["validated_at"]),
        run_id=record["run_id"],
        rows_source=int(record["rows_source"]),
        rows_target=int(record["rows_target"]),
        chunks=int(record["chunks"]),
        mismatched_chunks=len(json_list(mismatched)),
        repaired_rows=int(record["repaired_rows"]),
        deleted_rows=int(record["deleted_rows"]),
        method=str(record["method"]),
        duration_seconds=float(record["duration_seconds"]),
    )


def _history(db: TargetDatabase) -> tuple[HistoryPoint, ...]:
    q = db.dialect.quote
    columns = ("validated_at", "run_id", "data_type", "rows_target", "rows_source", "green")
    rows = db.query(
        f"SELECT {', '.join(q(c) for c in columns)} FROM {q(VALIDATION_TABLE)} "
        f"ORDER BY {q('validated_at')} DESC LIMIT {HISTORY_LIMIT}"
    )
    return tuple(
        HistoryPoint(
            validated_at=iso_timestamp(at), run_id=run_id, data_type=name, rows_target=int(target),
            rows_source=int(source), green=bool(green),
        )
        for at, run_id, name, target, source, green in reversed(rows)
    )
