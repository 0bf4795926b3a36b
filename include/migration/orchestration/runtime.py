"""What each DAG task does, with its I/O: the glue between Airflow and the package.

Every function takes plain values (installation id, data type, run id) and
returns small JSON-able dicts, so the DAG module only declares and the tests
can call these directly.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from typing import Any

from include.migration.configuration.config import InstallationSpec, MigrationConfig
from include.migration.errors import FatalError
from include.migration.orchestration.notifications import Alert, channels, dispatch
from include.migration.orchestration.task_resources import data_type_session, remote_client, resolve, target_database
from include.migration.steps.convergence import decide_convergence, outcome_from_results
from include.migration.steps.preflight import run_preflight
from include.migration.steps.status_tracker import Decision, decide_from_remote, decide_from_target
from include.migration.steps.status_writeback import validation_evidence, write_back
from include.migration.steps.transfer import run_transfer
from include.migration.steps.validation.records import record_failed_validation, record_validation
from include.migration.steps.validation.validator import red_message, require_green, validate_data_type
from include.migration.target.connection import TargetDatabase
from include.migration.target.lease import LeaseLostError, LeaseOwner
from include.migration.target.schema import plan_steps, prepare_schema
from include.migration.target.state import STATE_TABLE_SPEC, StateStore, Status

log = logging.getLogger(__name__)


def check_status(
    installation_id: str, run_id: str | None, force: bool = False, dry_run: bool = False, final_check: bool = False
) -> dict[str, Any]:
    """The status tracker task: decides whether this run migrates; records the installation status.

    A dry run reads but writes nothing. A run that proceeds also counts runs without progress and
    sends the "stalled" alert when they reach ``alerts.stalled_after_runs``.
    """
    config, installation, profile = resolve(installation_id)
    stalled_runs = None
    with target_database(installation, profile) as db:
        if not dry_run:
            prepare_schema(db, (), profile, installation.id)  # the state table must exist to be read
        state = StateStore(db)
        has_state = db.existing_columns(STATE_TABLE_SPEC.target_table) is not None
        local = state.installation_status() if has_state else None
        decision = decide_from_target(local, force)
        if final_check:
            decision = _final_check_decision(installation_id, local)
        remote_status = None
        if decision is None:
            with remote_client(installation) as client:
                document = client.status()
                remote_status = str(document["status"])
                _check_announced_data_types(installation, config, document)
                decision = decide_from_remote(local, remote_status, force)
                if decision.record is not None and not dry_run:
                    state.set_installation_status(decision.record, run_id)
                if decision.proceed and not dry_run:
                    write_back(installation_id=installation_id, client=client, capabilities=_capabilities(document),
                               state=state, status=Status.IN_PROGRESS)
        elif local is Status.DONE and not dry_run and has_state and state.remote_status_sent() != Status.DONE.value:
            _tell_remote_done(installation, db, state)  # an earlier write-back of DONE failed: send it now
        if decision.proceed and not dry_run:
            stalled_runs = state.track_progress(run_id)
    log.info("installation %s: %s", installation_id, decision.reason)
    if stalled_runs and stalled_runs % config.alerts.stalled_after_runs == 0:
        _alert_stalled(installation_id, run_id, stalled_runs, config)
    return {
        "installation": installation_id,
        "proceed": decision.proceed,
        "reason": decision.reason,
        "local_status": local.value if local else None,
        "remote_status": remote_status,
        "runs_without_progress": stalled_runs,
    }


def _alert_stalled(installation_id: str, run_id: str | None, stalled_runs: int, config: MigrationConfig) -> None:
    alert = Alert(
        kind="stalled",
        installation=installation_id,
        data_type=None,
        task="check_status",
        try_number=None,
        error=f"no checkpoint moved in the last {stalled_runs} runs; check the transfer logs and the remote",
        log_url=None,
        dag_id=None,
        run_id=run_id,
    )
    log.warning("installation %s: %s", installation_id, alert.error)
    dispatch(alert, channels(config.alerts), config.alerts.timeout_seconds)


def _final_check_decision(installation_id: str, local: Status | None) -> Decision:
    """A final check re-validates a DONE installation without re-opening it; anything else is a mistake."""
    if local is not Status.DONE:
        raise FatalError(
            f"installation {installation_id!r}: final_check=true checks a DONE installation before cut-over, but it "
            f"is {local.value if local else 'not started'}; run it normally until it converges"
        )
    return Decision(True, None, "final check of a DONE installation: every data type is validated again, nothing copied")


def _capabilities(document: dict[str, Any]) -> list[str]:
    return [str(c) for c in document.get("capabilities") or []]


def _tell_remote_done(installation: InstallationSpec, db: TargetDatabase, state: StateStore) -> None:
    """Write DONE back with the validation evidence (once; a failure is logged and retried by the next run)."""
    try:
        with remote_client(installation) as client:
            write_back(installation_id=installation.id, client=client, capabilities=_capabilities(client.status()),
                       state=state, status=Status.DONE, evidence=validation_evidence(db))
    except Exception as exc:  # noqa: BLE001 - DONE stands in the target; the next run sends it again
        log.warning("installation %s: could not tell the remote DONE (%s: %s); the next run tries again",
                    installation.id, type(exc).__name__, exc)


def _check_announced_data_types(installation: InstallationSpec, config: MigrationConfig, document: dict[str, Any]) -> None:
    announced = document.get("dataTypes")
    if not isinstance(announced, list):
        return
    missing = [d.name for d in config.data_types_for(installation) if d.name not in announced]
    if missing:
        raise FatalError(
            f"installation {installation.id!r}: the remote does not serve the configured data types {missing} "
            f"(it announces {announced}); fix the configuration or the remote"
        )


def prepare_target(
    installation_id: str,
    selected: Sequence[str] = (),
    *,
    dry_run: bool = False,
    reset_checkpoint: bool = False,
    set_checkpoints: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Pre-flight checks, DDL and checkpoint changes; returns the data types this run transfers.

    ``dry_run`` runs the pre-flight checks only (quotas against the profile) and transfers nothing.
    ``reset_checkpoint`` starts the selected data types (all when none selected) from the beginning;
    ``set_checkpoints`` sets data types' checkpoints explicitly.
    """
    config, installation, profile = resolve(installation_id)
    data_types = config.data_types_for(installation)
    names = [d.name for d in data_types]
    requested = list(selected) + [n for n in (set_checkpoints or {}) if n not in selected]
    unknown = [s for s in requested if s not in names]
    if unknown:
        raise FatalError(f"installation {installation_id!r}: unknown data types {unknown} requested; known: {names}")
    chosen = [n for n in names if not selected or n in selected]
    with target_database(installation, profile) as db:
        has_state = db.existing_columns(STATE_TABLE_SPEC.target_table) is not None
        fresh = not has_state or all(StateStore(db).checkpoint(n) is None for n in names)
        if dry_run or fresh:
            with remote_client(installation) as client:
                report = run_preflight(
                    installation_id=installation_id, data_types=data_types, profile=profile, db=db, client=client
                )
        else:
            report = run_preflight(installation_id=installation_id, data_types=data_types, profile=profile, db=db, client=None)
        if dry_run:
            report["schema_steps"] = [step.step_id for step in plan_steps(db, data_types)]
            log.info("installation %s: dry run, nothing changed: %s", installation_id, report)
            return {"data_types": [], "preflight": report, "dry_run": True}
        applied = prepare_schema(db, data_types, profile, installation.id)
        state = StateStore(db)
        for name in chosen if reset_checkpoint else []:
            state.start_data_type(name, None)
            state.reset_checkpoint(name)
            log.warning("installation %s, data type %s: checkpoint reset, copying from the start", installation_id, name)
        for name, checkpoint in (set_checkpoints or {}).items():
            state.start_data_type(name, None)
            state.reset_checkpoint(name, checkpoint)
            log.warning("installation %s, data type %s: checkpoint set to %s", installation_id, name, json.dumps(checkpoint))
    log.info("installation %s: schema steps applied: %s", installation_id, applied or "none (up to date)")
    return {"data_types": chosen, "preflight": report, "dry_run": False}


def transfer(
    installation_id: str,
    data_type: str,
    run_id: str | None,
    *,
    budget_seconds: float | None = None,
    owner: LeaseOwner | None = None,
    final_check: bool = False,
) -> dict[str, Any]:
    """The transfer task of one data type, under its lease; returns its summary for XCom.

    Raises :class:`~include.migration.target.lease.LeaseHeldError` when another run keeps the data type.
    A ``final_check`` run copies nothing: it validates what the DONE installation holds.
    """
    if final_check:
        return {"installation": installation_id, "data_type": data_type, "rows": 0, "pages": 0, "checkpoint": None,
                "done": True, "seconds": 0.0, "statements": 0, "rows_written": 0, "max_statement_bytes": 0,
                "final_check": True}
    config, installation, profile = resolve(installation_id)
    spec = config.data_type(data_type)
    budget = budget_seconds if budget_seconds is not None else installation.transfer_budget_seconds
    owner = owner or LeaseOwner.for_task(run_id, f"transfer[{data_type}]")
    with data_type_session(installation, profile, data_type, owner) as (db, lease, client):
        result = run_transfer(
            installation=installation,
            data_type=spec,
            client=client,
            db=db,
            profile=profile,
            run_id=run_id,
            budget_seconds=budget,
            lease=lease,
        )
    return {**result.as_dict(), "lease_waited_seconds": round(lease.waited_seconds, 1)}


def validate(
    installation_id: str,
    data_type: str,
    run_id: str | None,
    transfer_done: bool,
    owner: LeaseOwner | None = None,
    final_check: bool = False,
) -> dict[str, Any]:
    """The validate task of one data type, under its lease: counts, checksums, repair; fails when it stays red.

    A ``final_check`` validates at once (no grace delay) and repairs nothing: drift in a DONE installation is
    reported red, recorded as a failed final check, never silently mended.
    """
    if not transfer_done:
        return {"data_type": data_type, "skipped": True, "reason": "the transfer has not reached the end of data"}
    config, installation, profile = resolve(installation_id)
    spec = config.data_type(data_type)
    owner = owner or LeaseOwner.for_task(run_id, f"validate[{data_type}]")
    with data_type_session(installation, profile, data_type, owner) as (db, lease, client):
        try:
            capabilities = list(client.status().get("capabilities") or [])
            result = validate_data_type(
                installation_id=installation_id,
                spec=spec,
                client=client,
                capabilities=capabilities,
                db=db,
                profile=profile,
                grace_seconds=0.0 if final_check else installation.validation_grace_seconds,
                repair=not final_check,
                before_write=lease.check,
            )
        except LeaseLostError:
            raise  # another run validates the data type now: the record is its to write
        except Exception as exc:
            _record_failed_validation(db, run_id, installation_id, data_type, exc)
            raise
        record_validation(db, run_id, result, error=None if result.green else red_message(result), final_check=final_check)
    log.info(
        "installation %s, data type %s: validation %s: %d rows at the source, %d in the target, %d chunks, "
        "%d mismatching, %d rows repaired, %d deleted (%s, %.1fs)",
        installation_id, data_type, "GREEN" if result.green else "RED", result.rows_source, result.rows_target,
        result.chunks, len(result.mismatched_chunks), result.repaired_rows, result.deleted_rows, result.method,
        result.seconds,
    )
    require_green(result)
    return result.as_dict()


def reverse_sync(installation_id: str, data_type: str, run_id: str | None, owner: LeaseOwner | None = None) -> dict[str, Any]:
    """The reverse_sync task of one data type, under its lease: the remote made equal to the target."""
    from include.migration.steps.reverse_sync import ReverseSyncError, reverse_sync_data_type

    config, installation, profile = resolve(installation_id)
    spec = config.data_type(data_type)
    owner = owner or LeaseOwner.for_task(run_id, f"reverse_sync[{data_type}]")
    with data_type_session(installation, profile, data_type, owner) as (db, lease, client):
        result = reverse_sync_data_type(installation_id=installation_id, spec=spec, client=client,
                                        capabilities=_capabilities(client.status()), db=db, run_id=run_id,
                                        budget_seconds=installation.transfer_budget_seconds, before_write=lease.check,
                                        batch_rows=installation.reverse_batch_rows)
    if not result.done:
        log.warning("installation %s, data type %s: reverse sync spent its %.0f s budget after %d rows sent back; "
                    "the next run goes on", installation_id, data_type, installation.transfer_budget_seconds,
                    result.rows_sent)
        return result.as_dict()
    log.info("installation %s, data type %s: reverse sync %s: %d rows sent back, %d keys deleted at the remote "
             "(%d chunks, %d differed, %.1fs)", installation_id, data_type, "GREEN" if result.green else "RED",
             result.rows_sent, result.keys_deleted, result.chunks, len(result.mismatched_chunks), result.seconds)
    if not result.green:
        raise ReverseSyncError(
            f"installation {installation_id!r}, data type {data_type!r}: the remote still differs from the target "
            f"after sending rows back (chunks {result.mismatched_chunks[:20]}); the remote may be changing, re-run"
        )
    return result.as_dict()


def _record_failed_validation(
    db: TargetDatabase, run_id: str | None, installation_id: str, data_type: str, exc: BaseException
) -> None:
    try:
        record_failed_validation(db, run_id, installation_id, data_type, f"{type(exc).__name__}: {exc}")
    except Exception as unrecorded:  # noqa: BLE001 - a dead target must not hide the error that stopped validation
        log.error("installation %s, data type %s: could not record the failed validation: %s",
                  installation_id, data_type, unrecorded)


def converge(
    installation_id: str,
    run_id: str | None,
    *,
    selected: Sequence[str],
    transfers: Sequence[dict[str, Any]],
    validations: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """Decide convergence for this pass; marks the installation DONE when it converged."""
    config, installation, profile = resolve(installation_id)
    expected = [d.name for d in config.data_types_for(installation)]
    by_transfer = {t["data_type"]: t for t in transfers}
    by_validation = {v["data_type"]: v for v in validations}
    outcomes = {n: outcome_from_results(by_transfer.get(n), by_validation.get(n)) for n in expected}
    with target_database(installation, profile) as db:
        state = StateStore(db)
        previous, _counted = state.quiet_passes(run_id)
        decision = decide_convergence(
            expected=expected,
            outcomes=outcomes,
            full_pass=not selected or set(selected) >= set(expected),
            previous_quiet_passes=previous,
            required_quiet_passes=installation.quiet_passes_required,
        )
        state.record_pass(run_id, previous, decision.quiet_passes, decision.reason)
        if decision.converged:
            state.mark_done(run_id, expected)
            _tell_remote_done(installation, db, state)
    log.info("installation %s: %s", installation_id, decision.reason)
    return dataclasses.asdict(decision)


def summarize(installation_id: str, results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Collect the transfers' summaries; reports whether a follow-up run is needed."""
    config, installation, profile = resolve(installation_id)
    with target_database(installation, profile) as db:
        rows = {r.data_type: r for r in StateStore(db).all() if r.data_type}
    unfinished = sorted(r["data_type"] for r in results if not r["done"])
    summary = {
        "installation": installation_id,
        "rows_this_run": sum(int(r["rows"]) for r in results),
        "unfinished": unfinished,
        "quiet": all(int(r["rows"]) == 0 for r in results) and not unfinished,
        "data_types": {
            r["data_type"]: {
                "rows_this_run": r["rows"],
                "done": r["done"],
                "checkpoint": r["checkpoint"],
                "rows_copied_total": rows[r["data_type"]].rows_copied if r["data_type"] in rows else None,
            }
            for r in results
        },
    }
    for name, item in summary["data_types"].items():
        log.info("installation %s, data type %s: %s", installation_id, name, item)
    return summary
