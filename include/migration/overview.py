"""What every installation's migration looks like now, read from its own target.

For each configured installation this opens the target, reads the state table
(``_migration_state``), the validation records (``_migration_validation``) and
the row count of each data type's table, and derives progress, throughput and
an ETA. The dashboard and ``cli status`` both show this. A target that cannot
be reached yields an entry with ``error`` set instead of failing the overview.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import json
import re
from typing import Any

from include.migration import runtime
from include.migration.config import DataTypeSpec, InstallationSpec, MigrationConfig, load_config
from include.migration.state import INSTALLATION_JOB_ID, STATE_TABLE, StateRow, StateStore, data_type_job_id
from include.migration.target.connection import TargetDatabase, open_target
from include.migration.validation.records import VALIDATION_TABLE, latest_validations

HISTORY_LIMIT = 500
DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_PARALLEL_TARGETS = 8


@dataclasses.dataclass(frozen=True)
class ValidationSummary:
    """The newest validation of one data type."""

    green: bool
    validated_at: str | None
    run_id: str | None
    rows_source: int
    rows_target: int
    chunks: int
    mismatched_chunks: int
    repaired_rows: int
    deleted_rows: int
    method: str
    duration_seconds: float


@dataclasses.dataclass(frozen=True)
class DataTypeOverview:
    """One data type of one installation."""

    name: str
    target_table: str
    status: str | None
    rows_target: int | None
    rows_source: int | None
    progress_percent: float | None
    checkpoint: Any
    rows_copied: int | None
    pages_copied: int | None
    created_at: str | None
    updated_at: str | None
    last_validation: ValidationSummary | None
    last_error: str | None
    throughput_rows_per_second: float | None
    eta_seconds: float | None


@dataclasses.dataclass(frozen=True)
class HistoryPoint:
    """One validation record: the target's row count of a data type after a run."""

    validated_at: str | None
    run_id: str | None
    data_type: str
    rows_target: int
    rows_source: int
    green: bool


@dataclasses.dataclass(frozen=True)
class InstallationOverview:
    """One installation; ``error`` is set (and the rest mostly empty) when its target could not be read."""

    id: str
    enabled: bool
    dag_id: str
    target_profile: str
    status: str | None = None
    finished_at: str | None = None
    updated_at: str | None = None
    run_id: str | None = None
    quiet_passes: int | None = None
    last_error: str | None = None
    rows_target: int | None = None
    rows_source: int | None = None
    progress_percent: float | None = None
    data_types: tuple[DataTypeOverview, ...] = ()
    history: tuple[HistoryPoint, ...] = ()
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self, dict_factory=_json_dict)


def installation_overview(
    config: MigrationConfig | None = None, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
) -> list[dict[str, Any]]:
    """The overview of every configured installation, in configuration order, as JSON-able dicts.

    Targets are read in parallel; one that fails or takes longer than ``timeout_seconds``
    is reported with ``error`` set (credentials redacted) instead of raising.
    """
    config = config or load_config()
    installations = list(config.installations)
    if not installations:
        return []
    # Imported before the threads start: the first import of the Airflow SDK is not thread-safe to race.
    from include.migration.dag_factory import dag_id_for

    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=min(MAX_PARALLEL_TARGETS, len(installations)), thread_name_prefix="overview"
    )
    try:
        futures = [pool.submit(_read_installation, config, i, dag_id_for(i.id)) for i in installations]
        concurrent.futures.wait(futures, timeout=timeout_seconds)
        entries = []
        for installation, future in zip(installations, futures, strict=True):
            if not future.done():
                error = f"the target did not answer within {timeout_seconds:g} s"
                entries.append(_failed(installation, dag_id_for(installation.id), error))
            elif (exc := future.exception()) is not None:
                entries.append(_failed(installation, dag_id_for(installation.id), _describe(exc)))
            else:
                entries.append(future.result())
    finally:
        # A target that hangs must not hold the caller; its thread ends with its connection attempt.
        pool.shutdown(wait=False, cancel_futures=True)
    return [entry.as_dict() for entry in entries]


def overview_document(config: MigrationConfig | None = None) -> dict[str, Any]:
    """The overview with the time it was taken: what the JSON endpoint and ``cli status --json`` print."""
    generated_at = _iso(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    return {"generated_at": generated_at, "installations": installation_overview(config)}


def sanitize_error(text: str) -> str:
    """An error message safe to show: credentials in URLs, bearer tokens and password fields redacted."""
    text = re.sub(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*):[^@\s]*@", r"\1:***@", text)
    text = re.sub(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+", r"\1 ***", text)
    text = _SECRET_FIELD.sub(_mask_field, text)
    try:
        from airflow.sdk.log import redact  # connection passwords Airflow has seen are registered here

        text = str(redact(text))
    except Exception:  # noqa: BLE001 - the patterns above already ran; the masker is a second net
        pass
    return text[:2000]


# password=..., "token": "...", pwd='...'; MySQL's "(using password: YES)" only says one was sent: kept.
_SECRET_FIELD = re.compile(
    r"(?i)\b(password|passwd|pwd|token|secret|api_key)(['\"]?\s*[=:]\s*)"
    r"(?:(['\"])(?:(?!\3).)*\3|(?!(?:YES|NO)\))[^\s'\",;)}\]]+)"
)


def _mask_field(match: re.Match[str]) -> str:
    quote = match.group(3) or ""
    return f"{match.group(1)}{match.group(2)}{quote}***{quote}"


def _read_installation(config: MigrationConfig, installation: InstallationSpec, dag_id: str) -> InstallationOverview:
    _, installation, profile = runtime.resolve(installation.id, config)
    # One attempt, unlike runtime.target_database: an overview reports a target that is down at once
    # (the next refresh tries again) instead of spending the tasks' back-off of several seconds on it.
    db = open_target(installation.target_conn_id, profile, attempts=1)
    try:
        return _read_target(db, installation, dag_id, config.data_types_for(installation))
    finally:
        db.close()


def _read_target(
    db: TargetDatabase, installation: InstallationSpec, dag_id: str, specs: tuple[DataTypeSpec, ...]
) -> InstallationOverview:
    has_state = db.existing_columns(STATE_TABLE) is not None
    has_validation = db.existing_columns(VALIDATION_TABLE) is not None
    state = {r.job_id: r for r in StateStore(db).all()} if has_state else {}
    extra = _state_extras(db) if has_state else {}
    validations = latest_validations(db) if has_validation else {}
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
        finished_at=_iso(own.finished_at) if own else None,
        updated_at=_iso(own.updated_at) if own else None,
        run_id=own.run_id if own else None,
        quiet_passes=extra.get(INSTALLATION_JOB_ID, {}).get("quiet_passes"),
        last_error=sanitize_error(own.last_error) if own and own.last_error else None,
        rows_target=rows_target,
        rows_source=rows_source,
        progress_percent=_progress(rows_target, rows_source),
        data_types=data_types,
        history=_history(db) if has_validation else (),
    )


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
    created_at = _as_datetime(extra.get(data_type_job_id(spec.name), {}).get("created_at"))
    updated_at = _as_datetime(row.updated_at) if row else None
    throughput = _throughput(row.rows_copied if row else 0, created_at, updated_at)
    eta = None
    if throughput and rows_source is not None and rows_target is not None:
        eta = max(rows_source - rows_target, 0) / throughput
    return DataTypeOverview(
        name=spec.name,
        target_table=spec.target_table,
        status=row.status.value if row else None,
        rows_target=rows_target,
        rows_source=rows_source,
        progress_percent=_progress(rows_target, rows_source),
        checkpoint=row.checkpoint if row else None,
        rows_copied=row.rows_copied if row else None,
        pages_copied=row.pages_copied if row else None,
        created_at=_iso(created_at),
        updated_at=_iso(updated_at),
        last_validation=last,
        last_error=sanitize_error(row.last_error) if row and row.last_error else None,
        throughput_rows_per_second=throughput,
        eta_seconds=eta,
    )


def _state_extras(db: TargetDatabase) -> dict[str, dict[str, Any]]:
    """created_at and quiet_passes per job id: the columns StateStore does not return."""
    q = db.dialect.quote
    rows = db.query(f"SELECT {q('job_id')}, {q('created_at')}, {q('quiet_passes')} FROM {q(STATE_TABLE)}")
    return {job_id: {"created_at": created, "quiet_passes": quiet} for job_id, created, quiet in rows}


def _count(db: TargetDatabase, table: str) -> int | None:
    if db.existing_columns(table) is None:
        return None
    return int(db.query(f"SELECT COUNT(*) FROM {db.dialect.quote(table)}")[0][0])


def _validation_summary(record: dict[str, Any]) -> ValidationSummary:
    mismatched = record.get("mismatched_chunks")
    return ValidationSummary(
        green=bool(record["green"]),
        validated_at=_iso(record["validated_at"]),
        run_id=record["run_id"],
        rows_source=int(record["rows_source"]),
        rows_target=int(record["rows_target"]),
        chunks=int(record["chunks"]),
        mismatched_chunks=len(_json_list(mismatched)),
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
            validated_at=_iso(at), run_id=run_id, data_type=name, rows_target=int(target),
            rows_source=int(source), green=bool(green),
        )
        for at, run_id, name, target, source, green in reversed(rows)
    )


def _throughput(rows_copied: int, created_at: dt.datetime | None, updated_at: dt.datetime | None) -> float | None:
    """Average rows per second since the data type's first transfer (idle time between runs included)."""
    if not rows_copied or created_at is None or updated_at is None:
        return None
    seconds = (updated_at - created_at).total_seconds()
    return rows_copied / seconds if seconds > 0 else None


def _progress(rows_target: int | None, rows_source: int | None) -> float | None:
    if rows_target is None or rows_source is None:
        return None
    if rows_source == 0:
        return 100.0 if rows_target == 0 else None
    return rows_target * 100.0 / rows_source


def _failed(installation: InstallationSpec, dag_id: str, error: str) -> InstallationOverview:
    return InstallationOverview(
        id=installation.id,
        enabled=installation.enabled,
        dag_id=dag_id,
        target_profile=installation.target_profile,
        error=error,
    )


def _describe(exc: BaseException) -> str:
    return sanitize_error(f"{type(exc).__name__}: {exc}")


def _json_list(value: Any) -> list[Any]:
    if not value:
        return []
    try:
        loaded = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return []
    return loaded if isinstance(loaded, list) else []


def _as_datetime(value: Any) -> dt.datetime | None:
    """Targets return naive UTC datetimes (MySQL) or ISO text (SQLite)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed.astimezone(dt.timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed


def _iso(value: Any) -> str | None:
    moment = _as_datetime(value)
    return moment.isoformat(timespec="microseconds") + "Z" if moment else None


def _json_dict(items: list[tuple[str, Any]]) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in items}
