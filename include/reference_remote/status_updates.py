"""Capability ``status-updates``: the pipeline writes the installation's migration status back.

``PUT /data-migration/status`` with ``{"status": "IN_PROGRESS" | "DONE" | "READY",
"evidence": {...}}`` stores the status, the evidence (per data type: rows and
the checksum summary of the last validation, and when) and the time in the
source's ``migration_status`` row of the token's installation. The same PUT
twice leaves the same row: the call is idempotent and safe to retry.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table, select, update
from sqlalchemy.engine import Engine

from include.migration.source.capabilities import STATUS_UPDATES  # noqa: F401 - the name app.py announces
from include.reference_remote.source_schema import INSTALLATION_COLUMN

# Evidence is a summary (a few fields per data type), not data: bounded so a client cannot fill the source.
MAX_EVIDENCE_BYTES = 256 * 1024


class StatusUpdate(BaseModel):
    """The body of ``PUT /data-migration/status``."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["READY", "IN_PROGRESS", "DONE"]
    evidence: dict[str, Any] = Field(default_factory=dict)


def status_update_router(
    engine: Engine, status_table: Table, installation_of: Callable[..., str], api_prefix: str
) -> APIRouter:
    """The write endpoint, scoped by the token like every read (``installation_of`` is the auth dependency)."""
    router = APIRouter()

    @router.put(f"{api_prefix}/status")
    def put_status(body: StatusUpdate, installation: str = Depends(installation_of)) -> dict[str, Any]:
        """Store the installation's new status and its evidence; answers the stored row."""
        evidence = json.dumps(body.evidence, sort_keys=True, separators=(",", ":"))
        if len(evidence.encode()) > MAX_EVIDENCE_BYTES:
            raise HTTPException(413, f"evidence larger than {MAX_EVIDENCE_BYTES} bytes")
        now = dt.datetime.now(dt.timezone.utc)
        values = {"status": body.status, "evidence": evidence, "updated_at": now}
        key = status_table.c[INSTALLATION_COLUMN]
        with engine.begin() as conn:
            changed = conn.execute(update(status_table).where(key == installation).values(**values)).rowcount
            if not changed:
                conn.execute(status_table.insert().values({INSTALLATION_COLUMN: installation, **values}))
            stored = conn.execute(select(status_table).where(key == installation)).mappings().one()
        return {
            "installation": installation,
            "status": stored["status"],
            "evidence": json.loads(stored["evidence"] or "{}"),
            "updatedAt": stored["updated_at"].isoformat() if stored["updated_at"] else None,
        }

    return router
