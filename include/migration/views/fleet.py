"""Cut-over readiness of the whole fleet: may the remote SQL database be decommissioned?

The guide decommissions the source "once all of your customer installation
statuses are DONE, and you are confident in the data integrity". The report
says "ready to decommission" only when every enabled installation is DONE
with a green final check (a ``final_check=true`` run) younger than
``fleet.final_check_max_age_hours`` and, where the remote can tell
(``range-stats``), a source that has not changed since; otherwise it lists
what blocks it. It is printed by ``cli fleet`` (table, ``--json``, ``--csv``),
shown as the dashboard's header and exportable as evidence.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from typing import Any

from include.migration.configuration.config import InstallationSpec, MigrationConfig
from include.migration.configuration.config_loading import load_config
from include.migration.source.capabilities import RANGE_STATS
from include.migration.target.state import INSTALLATION_JOB_ID, STATE_TABLE, StateStore


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _as_datetime(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value).replace("Z", ""))


def _age_hours(when: dt.datetime | None, now: dt.datetime) -> float | None:
    return None if when is None else round((now - when).total_seconds() / 3600, 2)


def _source_changed(installation: InstallationSpec, records: dict[str, dict[str, Any]]) -> tuple[bool | None, str]:
    """Whether any data type's source differs from what its last green validation saw, and how that was known."""
    from include.migration.orchestration.task_resources import remote_client

    with remote_client(installation) as client:
        if RANGE_STATS not in (client.status().get("capabilities") or []):
            return None, "not checked: the remote has no range-stats"
        for name, record in records.items():
            now = client.range_stats(name, None, None)
            if int(now["count"]) != int(record["rows_source"]) or str(now["checksum"]) != str(record.get("checksum")):
                return True, f"range-stats: {name} changed"
    return False, "range-stats: unchanged"


def judge_readiness(
    installation_id: str,
    status: str | None,
    expected: list[str],
    finals: dict[str, dict[str, Any]],
    latest: dict[str, dict[str, Any]],
    *,
    now: dt.datetime,
    max_age_hours: float,
) -> dict[str, Any]:
    """One installation's cut-over readiness from what its target holds (no I/O): final check, ages, blockers."""
    entry: dict[str, Any] = {"id": installation_id, "status": status, "final_check": None,
                             "last_green_validation_age_hours": None, "source_changed_since": None,
                             "source_check": "not checked", "blockers": []}
    greens = [_as_datetime(r["validated_at"]) for r in latest.values() if r["green"]]
    if greens and len(greens) == len(latest):
        entry["last_green_validation_age_hours"] = _age_hours(min(greens), now)
    blockers = entry["blockers"]
    if status != "DONE":
        blockers.append(f"status is {status or 'not started'}, not DONE")
    missing = [n for n in expected if n not in finals]
    if missing:
        blockers.append(f"no final check of {missing}: trigger with final_check=true")
        return entry
    oldest = min(_as_datetime(finals[n]["validated_at"]) for n in expected)
    green = all(finals[n]["green"] for n in expected)
    age = _age_hours(oldest, now)
    entry["final_check"] = {"green": green, "validated_at": oldest.isoformat() + "Z", "age_hours": age,
                            "run_id": finals[expected[0]]["run_id"]}
    if not green:
        blockers.append(f"final check red for {[n for n in expected if not finals[n]['green']]}")
    if age is not None and age > max_age_hours:
        blockers.append(f"final check {age:.1f} h old, over {max_age_hours:g} h")
    return entry


def unreachable(installation_id: str, error: str) -> dict[str, Any]:
    """The readiness entry of an installation whose target could not be read: that blocks its cut-over."""
    return {"id": installation_id, "status": None, "final_check": None, "last_green_validation_age_hours": None,
            "source_changed_since": None, "source_check": "not checked", "blockers": [f"target unreachable: {error}"]}


def installation_readiness(
    installation: InstallationSpec, config: MigrationConfig, *, now: dt.datetime, check_source: bool
) -> dict[str, Any]:
    """Read one installation's target (and, with ``check_source``, ask its remote) and judge its readiness."""
    from include.migration.orchestration.task_resources import resolve, target_database
    from include.migration.steps.validation.records import latest_validations

    try:
        _config, _installation, profile = resolve(installation.id, config)
        with target_database(installation, profile) as db:
            status = None
            if db.existing_columns(STATE_TABLE) is not None:
                row = StateStore(db).get(INSTALLATION_JOB_ID)
                status = row.status.value if row else None
            finals = latest_validations(db, final_checks_only=True)
            latest = latest_validations(db)
    except Exception as exc:  # noqa: BLE001 - one unreachable target blocks its own cut-over, not the report
        return unreachable(installation.id, f"{type(exc).__name__}: {str(exc)[:200]}")
    expected = [d.name for d in config.data_types_for(installation)]
    entry = judge_readiness(installation.id, status, expected, finals, latest, now=now,
                            max_age_hours=config.fleet.final_check_max_age_hours)
    if check_source and entry["final_check"] is not None:
        try:
            changed, how = _source_changed(installation, {n: finals[n] for n in expected})
        except Exception as exc:  # noqa: BLE001 - an unreachable remote cannot prove the source unchanged
            changed, how = None, f"not checked: {type(exc).__name__}: {str(exc)[:200]}"
        entry["source_changed_since"], entry["source_check"] = changed, how
        if changed:
            entry["blockers"].append(f"the source changed since the final check ({how})")
    return entry


def fleet_report(config: MigrationConfig | None = None, *, check_source: bool = True, now: dt.datetime | None = None) -> dict[str, Any]:
    """The readiness of every enabled installation and of the fleet as a whole."""
    config = config or load_config()
    now = now or _utcnow()
    entries = [installation_readiness(i, config, now=now, check_source=check_source) for i in config.enabled_installations]
    return summarize(entries, config, now)


def summarize(entries: list[dict[str, Any]], config: MigrationConfig, now: dt.datetime) -> dict[str, Any]:
    """The fleet's verdict from its installations' readiness entries (wrong configuration entries block it too)."""
    blockers = [f"{e['id']}: {b}" for e in entries for b in e["blockers"]]
    blockers += [f"{p.id or f'entry #{p.index}'}: configuration error" for p in config.problems if p.enabled]
    return {
        "generated_at": now.isoformat() + "Z",
        "final_check_max_age_hours": config.fleet.final_check_max_age_hours,
        "by_status": dict(Counter(e["status"] or "NOT_STARTED" for e in entries)),
        "ready_to_decommission": bool(entries) and not blockers,
        "blockers": blockers,
        "installations": entries,
    }


CSV_COLUMNS = ("installation", "status", "final_check_green", "final_check_at", "final_check_age_hours",
               "last_green_validation_age_hours", "source_changed_since", "source_check", "blockers")


def fleet_csv(report: dict[str, Any]) -> str:
    """The report as CSV evidence: one line per installation."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in report["installations"]:
        final = e["final_check"] or {}
        writer.writerow([e["id"], e["status"] or "", final.get("green", ""), final.get("validated_at", ""),
                         final.get("age_hours", ""), e["last_green_validation_age_hours"] or "",
                         "" if e["source_changed_since"] is None else e["source_changed_since"], e["source_check"],
                         "; ".join(e["blockers"])])
    return out.getvalue()
