"""What every installation's migration looks like now, read from its own target.

For each configured installation this opens the target, reads the state table
(``_migration_state``), the validation records (``_migration_validation``) and
the row count of each data type's table, and derives progress, throughput and
an ETA. The dashboard and ``cli status`` both show this. A target that cannot
be reached yields an entry with ``error`` set instead of failing the overview.

Throughput is measured over the data type's most recent transfers that copied
rows (``THROUGHPUT_WINDOW``): their rows over their seconds, so it says how fast
the copy runs now, not how long the migration has existed. The ETA is the rows
the target still lacks (source - target, the source as of the last validation)
at that throughput.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import json
import re
from collections.abc import Sequence
from typing import Any

from include.migration import task_resources
from include.migration.config import ConfigError, DataTypeSpec, InstallationProblem, InstallationSpec, MigrationConfig
from include.migration.config_loading import load_config
from include.migration.fleet import judge_readiness, summarize, unreachable
from include.migration.state import INSTALLATION_JOB_ID, STATE_TABLE, StateRow, StateStore, data_type_job_id
from include.migration.target.connection import TargetDatabase, open_target
from include.migration.validation.records import VALIDATION_TABLE, latest_validations

HISTORY_LIMIT = 500
DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_PARALLEL_TARGETS = 8
THROUGHPUT_TRANSFERS = 5
THROUGHPUT_WINDOW = f"the last {THROUGHPUT_TRANSFERS} transfers that copied rows"
RECENT_TRANSFERS_COLUMN = "recent_transfers"
ERROR_CONTEXT_COLUMNS = ("last_error_task", "last_error_try", "last_error_at")


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
class ThroughputWindow:
    """The transfers a throughput is measured over (see ``THROUGHPUT_WINDOW``) and what they added up to."""

    transfers: int
    rows: int
    seconds: float
    first_finished_at: str | None
    last_finished_at: str | None

    @property
    def rows_per_second(self) -> float | None:
        """The throughput: rows over seconds (None when no time was measured)."""
        return self.rows / self.seconds if self.seconds > 0 else None


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
    throughput_window: ThroughputWindow | None
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
    failed_run: dict[str, Any] | None = None
    """The installation DAG's most recent run when it failed, from Airflow's metadata: run and failed tasks."""
    validations_for_readiness: dict[str, Any] | None = None
    """Per data type the newest final check and the newest validation (green, when, run): what
    ``fleet.judge_readiness`` judges the cut-over from, without reading the target again."""

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
        return _with_failures([], config)
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
    return _with_failures([entry.as_dict() for entry in entries], config)


def _with_failures(entries: list[dict[str, Any]], config: MigrationConfig) -> list[dict[str, Any]]:
    """Each installation's failed latest run from Airflow's metadata, and the wrong installation entries."""
    from include.migration.airflow_failures import failed_latest_runs
    from include.migration.dag_factory import broken_dag_id

    failed = failed_latest_runs([e["dag_id"] for e in entries])
    for entry in entries:
        entry["failed_run"] = failed.get(entry["dag_id"])
    return entries + [_failed_entry(p, broken_dag_id(p)) for p in config.problems]


def overview_document(config: MigrationConfig | None = None) -> dict[str, Any]:
    """The overview with the time it was taken: what the JSON endpoint and ``cli status --json`` print.

    Besides the installations it names the throughput window (``THROUGHPUT_WINDOW``) and every configured
    data type in configuration order (``data_types``), by which the dashboard gives each data type its colour.
    """
    generated_at = _iso(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    try:
        config = config or load_config()
    except ConfigError as exc:
        # The whole configuration is unusable: say so instead of failing the page.
        return {"generated_at": generated_at, "throughput_window": THROUGHPUT_WINDOW, "data_types": [],
                "installations": [], "configuration_error": str(exc)}
    entries = installation_overview(config)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    # Judged from what the overview already read of each target: no second round of connections.
    enabled = {i.id for i in config.enabled_installations}  # wrong entries count through config.problems
    fleet = summarize([_readiness(e, config, now) for e in entries if e["id"] in enabled], config, now)
    return {
        "fleet": {k: fleet[k] for k in ("by_status", "ready_to_decommission", "blockers", "final_check_max_age_hours")},
        "generated_at": generated_at,
        "throughput_window": THROUGHPUT_WINDOW,
        "data_types": [spec.name for spec in config.data_types],
        "installations": entries,
        "configuration_error": None,
    }


def _readiness(entry: dict[str, Any], config: MigrationConfig, now: dt.datetime) -> dict[str, Any]:
    """An overview entry's cut-over readiness (the source-change check is `cli fleet`'s)."""
    inputs = entry.get("validations_for_readiness")
    if entry["error"] or inputs is None:
        return unreachable(entry["id"], entry["error"] or "not read")
    return judge_readiness(entry["id"], entry["status"], [d["name"] for d in entry["data_types"]], inputs["finals"],
                           inputs["latest"], now=now, max_age_hours=config.fleet.final_check_max_age_hours)


def _failed_entry(problem: InstallationProblem, dag_id: str) -> dict[str, Any]:
    """A wrong installation entry, shown as an installation whose error is its configuration error."""
    return InstallationOverview(
        id=problem.id or f"entry #{problem.index}", enabled=problem.enabled, dag_id=dag_id, target_profile="-",
        error=f"configuration error: {problem.message}",
    ).as_dict()


def recent_throughput(
    recent_transfers: Sequence[dict[str, Any]], transfers: int = THROUGHPUT_TRANSFERS
) -> ThroughputWindow | None:
    """The newest ``transfers`` transfers that copied rows (``recent_transfers`` is oldest first), summed.

    Transfers that copied nothing (a quiet pass, a data type skipped at once) would only say how fast
    "nothing" goes, so they are left out. None when no transfer copied rows.
    """
    copied = [t for t in recent_transfers if isinstance(t, dict) and _positive(t.get("rows"))][-transfers:]
    if not copied:
        return None
    return ThroughputWindow(
        transfers=len(copied),
        rows=sum(int(t["rows"]) for t in copied),
        seconds=round(sum(_seconds(t.get("seconds")) for t in copied), 3),
        first_finished_at=_iso(copied[0].get("finished_at")),
        last_finished_at=_iso(copied[-1].get("finished_at")),
    )


def eta_seconds(rows_source: int | None, rows_target: int | None, rows_per_second: float | None) -> float | None:
    """Seconds until the target holds the source's rows at ``rows_per_second``; 0 when nothing is left."""
    if rows_source is None or rows_target is None:
        return None
    remaining = max(rows_source - rows_target, 0)
    if remaining == 0:
        return 0.0
    return remaining / rows_per_second if rows_per_second else None


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
        finished_at=_iso(own.finished_at) if own else None,
        updated_at=_iso(own.updated_at) if own else None,
        run_id=own.run_id if own else None,
        quiet_passes=extra.get(INSTALLATION_JOB_ID, {}).get("quiet_passes"),
        last_error=_with_context(own.last_error if own else None, extra.get(INSTALLATION_JOB_ID, {})),
        rows_target=rows_target,
        rows_source=rows_source,
        progress_percent=_progress(rows_target, rows_source),
        data_types=data_types,
        history=_history(db) if has_validation else (),
        validations_for_readiness={"finals": _brief(finals), "latest": _brief(validations)},
    )


def _brief(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: {"green": bool(r["green"]), "validated_at": _iso(_as_datetime(r["validated_at"])), "run_id": r["run_id"]}
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
    created_at = _as_datetime(own.get("created_at"))
    updated_at = _as_datetime(row.updated_at) if row else None
    window = recent_throughput(own.get("recent_transfers") or [])
    throughput = window.rows_per_second if window else None
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
            "recent_transfers": _json_list(values.get(RECENT_TRANSFERS_COLUMN)),
            "error_context": _error_context(values),
        }
    return extras


def _error_context(values: dict[str, Any]) -> str:
    """``transfer, try 2, 2026-11-30 14:55:01 UTC: `` before a recorded error (empty when not recorded)."""
    task = values.get("last_error_task")
    if not task:
        return ""
    attempt = f", try {values['last_error_try']}" if values.get("last_error_try") else ""
    when = _iso(_as_datetime(values.get("last_error_at")))
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


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _seconds(value: Any) -> float:
    return float(value) if _positive(value) else 0.0


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
