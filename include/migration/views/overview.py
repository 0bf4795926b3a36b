"""What every installation's migration looks like now, read from its own target.

For each configured installation this opens the target, reads the state table
(``_migration_state``), the validation records (``_migration_validation``) and
the row count of each data type's table (``overview_target``), and derives
progress, throughput and an ETA (``progress``). The dashboard and ``cli status``
both show this. A target that cannot be reached yields an entry with ``error``
set instead of failing the overview.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
from typing import Any

from include.migration.configuration.config import ConfigError, InstallationProblem, InstallationSpec, MigrationConfig
from include.migration.configuration.config_loading import load_config
from include.migration.views.error_redaction import sanitize_error
from include.migration.views.fleet import judge_readiness, summarize, unreachable
from include.migration.views.overview_entries import InstallationOverview
from include.migration.views.overview_target import read_installation
from include.migration.views.progress import THROUGHPUT_WINDOW
from include.migration.views.stored_values import iso_timestamp

DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_PARALLEL_TARGETS = 8


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
    from include.migration.orchestration.dag_factory import dag_id_for

    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=min(MAX_PARALLEL_TARGETS, len(installations)), thread_name_prefix="overview"
    )
    try:
        futures = [pool.submit(read_installation, config, i, dag_id_for(i.id)) for i in installations]
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
    from include.migration.orchestration.dag_factory import broken_dag_id
    from include.migration.views.airflow_failures import failed_latest_runs

    failed = failed_latest_runs([e["dag_id"] for e in entries])
    for entry in entries:
        entry["failed_run"] = failed.get(entry["dag_id"])
    return entries + [_failed_entry(p, broken_dag_id(p)) for p in config.problems]


def overview_document(config: MigrationConfig | None = None) -> dict[str, Any]:
    """The overview with the time it was taken: what the JSON endpoint and ``cli status --json`` print.

    Besides the installations it names the throughput window (``THROUGHPUT_WINDOW``) and every configured
    data type in configuration order (``data_types``), by which the dashboard gives each data type its colour.
    """
    generated_at = iso_timestamp(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
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
