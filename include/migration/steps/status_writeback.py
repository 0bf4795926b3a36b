"""Capability ``status-updates``, the pipeline's side: tell the remote where its installation stands.

The guide's status endpoint "should be able to return current status and also
update it": when a run starts copying the pipeline sends IN_PROGRESS, and when
``converge`` marks the installation DONE it sends DONE with the evidence (per
data type: rows on both sides, chunks and the checksum of the last green
validation, and when). Each status is sent once per transition: the state
table remembers what the remote was last told (``remote_status_sent``), and a
write-back that failed is sent again by the next run. Nothing is sent to a
remote that does not announce the capability.
"""

from __future__ import annotations

import logging
from typing import Any

from include.migration.source.client import RemoteClient
from include.migration.steps.validation.records import latest_validations
from include.migration.target.connection import TargetDatabase
from include.migration.target.state import StateStore, Status

log = logging.getLogger(__name__)

from include.migration.source.capabilities import STATUS_UPDATES  # noqa: F401 - re-exported for callers


def validation_evidence(db: TargetDatabase) -> dict[str, Any]:
    """Per data type, the last validation's rows, chunks, checksum, outcome and time."""
    evidence = {}
    for name, record in latest_validations(db).items():
        validated_at = record.get("validated_at")
        evidence[name] = {
            "rowsSource": int(record["rows_source"]),
            "rowsTarget": int(record["rows_target"]),
            "chunks": int(record["chunks"]),
            "checksum": record.get("checksum"),
            "green": bool(record["green"]),
            "validatedAt": (validated_at.isoformat() + "Z") if hasattr(validated_at, "isoformat") else validated_at,
        }
    return {"dataTypes": evidence}


def write_back(
    *,
    installation_id: str,
    client: RemoteClient,
    capabilities: list[str],
    state: StateStore,
    status: Status,
    evidence: dict[str, Any] | None = None,
) -> bool:
    """Send ``status`` to the remote unless it was the last one sent, or the remote lacks the capability.

    Returns whether it was sent. The remote is told first and the state table afterwards, so a crash
    between the two sends the same (idempotent) update again, never skips one.
    """
    if STATUS_UPDATES not in capabilities:
        log.info("installation %s: the remote does not announce %s; status %s not written back",
                 installation_id, STATUS_UPDATES, status.value)
        return False
    if state.remote_status_sent() == status.value:
        return False
    answer = client.update_status(status.value, evidence or {})
    state.set_remote_status_sent(status.value)
    log.info("installation %s: told the remote %s (it now says %s)", installation_id, status.value, answer.get("status"))
    return True
