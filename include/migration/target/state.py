"""The migration state table in each installation's target, and its status rules.

One row (``job_id = '__DATA_MIGRATION__'``) tracks the installation as a whole;
one row per data type (``job_id = 'data_type:<name>'``) holds its status and
durable checkpoint. Every write is a single autocommitted statement.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
from typing import Any

from include.migration.configuration.config import ColumnSpec, DataTypeSpec
from include.migration.target.connection import TargetDatabase

STATE_TABLE = "_migration_state"
INSTALLATION_JOB_ID = "__DATA_MIGRATION__"


class Status(str, enum.Enum):
    READY = "READY"
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    FAILED = "FAILED"


def data_type_job_id(data_type: str) -> str:
    return f"data_type:{data_type}"


def reverse_job_id(data_type: str) -> str:
    """The state row of a data type's reverse sync (its ``data_type`` column stays NULL: not a copy of the remote)."""
    return f"reverse:{data_type}"


def _internal_table(name: str, key: str, columns: list[tuple[str, str, bool]]) -> DataTypeSpec:
    return DataTypeSpec(
        name=name.strip("_"),
        primary_key=key,
        target_table=name,
        columns=tuple(ColumnSpec(name=n, type=t, nullable=nullable) for n, t, nullable in columns),
    )


# The package's own tables, described like data types so the schema runner
# creates them and adds columns to them the same way.
STATE_TABLE_SPEC = _internal_table(
    STATE_TABLE,
    "job_id",
    [
        ("job_id", "varchar(255)", False),
        ("data_type", "varchar(128)", True),
        ("status", "varchar(20)", False),
        ("checkpoint", "text", True),
        ("rows_copied", "bigint", False),
        ("pages_copied", "bigint", False),
        ("run_id", "varchar(255)", True),
        ("last_error", "text", True),
        ("created_at", "timestamp", False),
        ("updated_at", "timestamp", False),
        ("finished_at", "timestamp", True),
        ("quiet_passes", "int", True),
        ("last_pass", "text", True),
        ("progress", "text", True),
        # Who works on this data type now (see lease.py): the run, a description of the task, until when.
        ("lease_owner", "varchar(255)", True),
        ("lease_holder", "varchar(500)", True),
        ("lease_expires_at", "timestamp", True),
        # The last failure of this data type (or, on the installation row, of an installation-wide task).
        ("last_error_task", "varchar(255)", True),
        ("last_error_try", "int", True),
        ("last_error_at", "timestamp", True),
        # The most recent transfers (JSON list of {run_id, rows, seconds, finished_at}, newest last).
        ("recent_transfers", "text", True),
        # The installation status the remote was last told (capability status-updates), on the installation row.
        ("remote_status_sent", "varchar(20)", True),
    ],
)
RECENT_TRANSFERS_KEPT = 20


@dataclasses.dataclass(frozen=True)
class StateRow:
    """One row of the state table."""

    job_id: str
    data_type: str | None
    status: Status
    checkpoint: Any
    rows_copied: int
    pages_copied: int
    run_id: str | None
    last_error: str | None
    updated_at: Any
    finished_at: Any


@dataclasses.dataclass(frozen=True)
class LeaseRow:
    """The lease columns of one state row: the run holding it, who exactly, and until when (UTC)."""

    owner: str | None
    holder: str | None
    expires_at: dt.datetime | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class StateStore:
    """Reads and writes the state table of one installation's target."""

    _COLUMNS = (
        "job_id",
        "data_type",
        "status",
        "checkpoint",
        "rows_copied",
        "pages_copied",
        "run_id",
        "last_error",
        "updated_at",
        "finished_at",
    )

    def __init__(self, db: TargetDatabase) -> None:
        self.db = db
        d = db.dialect
        self._table = d.quote(STATE_TABLE)
        self._p = d.placeholder

    def get(self, job_id: str) -> StateRow | None:
        cols = ", ".join(self.db.dialect.quote(c) for c in self._COLUMNS)
        rows = self.db.query(f"SELECT {cols} FROM {self._table} WHERE {self._q('job_id')} = {self._p}", (job_id,))
        return self._row(rows[0]) if rows else None

    def all(self) -> list[StateRow]:
        cols = ", ".join(self.db.dialect.quote(c) for c in self._COLUMNS)
        return [self._row(r) for r in self.db.query(f"SELECT {cols} FROM {self._table} ORDER BY {self._q('job_id')}")]

    def installation_status(self) -> Status | None:
        row = self.get(INSTALLATION_JOB_ID)
        return row.status if row else None

    def set_installation_status(self, status: Status, run_id: str | None, error: str | None = None) -> None:
        self._upsert(INSTALLATION_JOB_ID, None, status=status, run_id=run_id, last_error=error)

    def checkpoint(self, data_type: str) -> Any:
        row = self.get(data_type_job_id(data_type))
        return row.checkpoint if row else None

    def start_data_type(self, data_type: str, run_id: str | None) -> StateRow:
        """Mark a data type IN_PROGRESS for this run (keeping its checkpoint); returns its row."""
        self._upsert(data_type_job_id(data_type), data_type, status=Status.IN_PROGRESS, run_id=run_id, last_error=None)
        row = self.get(data_type_job_id(data_type))
        assert row is not None
        return row

    def save_checkpoint(
        self, data_type: str, checkpoint: Any, rows: int, pages: int, lease: tuple[str, str] | None = None
    ) -> bool:
        """Advance a data type's checkpoint after its rows are committed (one statement).

        With ``lease`` (owner, holder) the checkpoint moves only while that holder still holds the data
        type's lease; returns False when it does not (another run took the data type over).
        """
        return self._advance(data_type_job_id(data_type), checkpoint, rows, pages, lease)

    def start_reverse(self, data_type: str, run_id: str | None) -> None:
        """A reverse pass of ``data_type`` begins (its totals and last checkpoint kept, its last error cleared)."""
        self._upsert(reverse_job_id(data_type), None, status=Status.IN_PROGRESS, run_id=run_id, last_error=None)

    def save_reverse_progress(self, data_type: str, checkpoint: Any, rows: int, batches: int) -> None:
        """After a batch the remote committed: the chunk it belongs to and the rows and batches sent so far."""
        self._advance(reverse_job_id(data_type), checkpoint, rows, batches, None)

    def finish_reverse(self, data_type: str, run_id: str | None, status: Status, error: str | None = None) -> None:
        """DONE (the remote equals the target), IN_PROGRESS (budget spent, continued next run) or FAILED."""
        fields: dict[str, Any] = {"status": status, "run_id": run_id, "last_error": error[:60_000] if error else None}
        if status is Status.DONE:
            fields["checkpoint"] = None
        self._upsert(reverse_job_id(data_type), None, **fields)

    def _advance(self, job_id: str, checkpoint: Any, rows: int, pages: int, lease: tuple[str, str] | None) -> bool:
        p, q = self._p, self._q
        fence = f" AND {q('lease_owner')} = {p} AND {q('lease_holder')} = {p}" if lease else ""
        changed = self.db.execute(
            f"UPDATE {self._table} SET {q('checkpoint')} = {p}, {q('rows_copied')} = {q('rows_copied')} + {p}, "
            f"{q('pages_copied')} = {q('pages_copied')} + {p}, {q('updated_at')} = {p} "
            f"WHERE {q('job_id')} = {p}{fence}",
            (json.dumps(checkpoint), rows, pages, _now(), job_id, *(lease or ())),
        )
        return lease is None or changed > 0

    def claim_lease(self, job_id: str, data_type: str | None, owner: str, holder: str, expires_at: dt.datetime, now: dt.datetime) -> LeaseRow:
        """Take the lease of ``job_id`` for ``owner`` when it is free, expired or already the owner's.

        One conditional UPDATE decides (atomic on the server, no transaction needed); the row read back
        afterwards says who holds the lease now.
        """
        self.ensure_row(job_id, data_type)
        p, q = self._p, self._q
        self.db.execute(
            f"UPDATE {self._table} SET {q('lease_owner')} = {p}, {q('lease_holder')} = {p}, {q('lease_expires_at')} = {p} "
            f"WHERE {q('job_id')} = {p} AND ({q('lease_owner')} IS NULL OR {q('lease_owner')} = {p} "
            f"OR {q('lease_expires_at')} IS NULL OR {q('lease_expires_at')} < {p})",
            (owner, holder, expires_at, job_id, owner, now),
        )
        return self.lease(job_id)

    def renew_lease(self, job_id: str, owner: str, holder: str, expires_at: dt.datetime) -> LeaseRow:
        """Extend the lease while ``holder`` still holds it; the row read back says who holds it now."""
        p, q = self._p, self._q
        self.db.execute(
            f"UPDATE {self._table} SET {q('lease_expires_at')} = {p} "
            f"WHERE {q('job_id')} = {p} AND {q('lease_owner')} = {p} AND {q('lease_holder')} = {p}",
            (expires_at, job_id, owner, holder),
        )
        return self.lease(job_id)

    def release_lease(self, job_id: str, owner: str, holder: str) -> None:
        """Give the lease back (only when ``holder`` still holds it)."""
        p, q = self._p, self._q
        self.db.execute(
            f"UPDATE {self._table} SET {q('lease_owner')} = NULL, {q('lease_holder')} = NULL, "
            f"{q('lease_expires_at')} = NULL "
            f"WHERE {q('job_id')} = {p} AND {q('lease_owner')} = {p} AND {q('lease_holder')} = {p}",
            (job_id, owner, holder),
        )

    def lease(self, job_id: str) -> LeaseRow:
        p, q = self._p, self._q
        rows = self.db.query(
            f"SELECT {q('lease_owner')}, {q('lease_holder')}, {q('lease_expires_at')} FROM {self._table} "
            f"WHERE {q('job_id')} = {p}",
            (job_id,),
        )
        if not rows:
            return LeaseRow(None, None, None)
        owner, holder, expires = rows[0]
        if isinstance(expires, str):  # SQLite keeps timestamps as text
            expires = dt.datetime.fromisoformat(expires)
        return LeaseRow(owner, holder, expires)

    def ensure_row(self, job_id: str, data_type: str | None, status: Status = Status.READY) -> None:
        """Create the row of ``job_id`` (with ``status``) unless it exists; safe when several runs do it at once."""
        now = _now()
        values = {
            "job_id": job_id,
            "data_type": data_type,
            "created_at": now,
            "updated_at": now,
            "status": status.value,
            "rows_copied": 0,
            "pages_copied": 0,
        }
        self.db.execute(self.db.dialect.insert_if_absent(STATE_TABLE, list(values), "job_id"), tuple(values.values()))

    def reset_checkpoint(self, data_type: str, checkpoint: Any = None) -> None:
        p, q = self._p, self._q
        self.db.execute(
            f"UPDATE {self._table} SET {q('checkpoint')} = {p}, {q('updated_at')} = {p} WHERE {q('job_id')} = {p}",
            (None if checkpoint is None else json.dumps(checkpoint), _now(), data_type_job_id(data_type)),
        )

    def quiet_passes(self, run_id: str | None) -> tuple[int, bool]:
        """Consecutive quiet passes before this run, and whether this run was already counted."""
        p, q = self._p, self._q
        rows = self.db.query(
            f"SELECT {q('quiet_passes')}, {q('last_pass')} FROM {self._table} WHERE {q('job_id')} = {p}",
            (INSTALLATION_JOB_ID,),
        )
        if not rows:
            return 0, False
        count, last_pass = rows[0]
        last = json.loads(last_pass) if last_pass else {}
        if last.get("run_id") == run_id:
            return int(last.get("previous_quiet_passes", 0)), True
        return int(count or 0), False

    def record_pass(self, run_id: str | None, previous: int, quiet_passes: int, reason: str) -> None:
        """Store this pass's convergence facts (idempotent per run: a re-poke does not count twice)."""
        last = json.dumps({"run_id": run_id, "previous_quiet_passes": previous, "reason": reason})
        p, q = self._p, self._q
        self.db.execute(
            f"UPDATE {self._table} SET {q('quiet_passes')} = {p}, {q('last_pass')} = {p}, {q('updated_at')} = {p} "
            f"WHERE {q('job_id')} = {p}",
            (quiet_passes, last, _now(), INSTALLATION_JOB_ID),
        )

    def track_progress(self, run_id: str | None) -> int:
        """Count consecutive runs in which no checkpoint moved; returns that count (idempotent per run)."""
        p, q = self._p, self._q
        total = sum(r.rows_copied for r in self.all() if r.data_type)
        rows = self.db.query(f"SELECT {q('progress')} FROM {self._table} WHERE {q('job_id')} = {p}", (INSTALLATION_JOB_ID,))
        previous = json.loads(rows[0][0]) if rows and rows[0][0] else {}
        if previous.get("run_id") == run_id:
            return int(previous.get("stalled_runs", 0))
        stalled = int(previous.get("stalled_runs", 0)) + 1 if previous and previous.get("total") == total else 0
        progress = json.dumps({"run_id": run_id, "total": total, "stalled_runs": stalled})
        self.db.execute(
            f"UPDATE {self._table} SET {q('progress')} = {p} WHERE {q('job_id')} = {p}", (progress, INSTALLATION_JOB_ID)
        )
        return stalled

    def mark_done(self, run_id: str | None, data_types: list[str]) -> None:
        """The installation and its data types are DONE (with their finish time)."""
        for name in data_types:
            self._upsert(data_type_job_id(name), name, status=Status.DONE, run_id=run_id)
        self._upsert(INSTALLATION_JOB_ID, None, status=Status.DONE, run_id=run_id, last_error=None)

    def fail_data_type(self, data_type: str, error: str) -> None:
        self._upsert(data_type_job_id(data_type), data_type, status=Status.FAILED, last_error=error[:60_000])

    def record_error(self, data_type: str | None, task: str, try_number: int | None, error: str) -> None:
        """Keep a failure where people look: the message, the task, its try and the time (status unchanged)."""
        job_id = data_type_job_id(data_type) if data_type else INSTALLATION_JOB_ID
        self.ensure_row(job_id, data_type, Status.FAILED)  # a first attempt that failed: say so, not READY
        p, q = self._p, self._q
        self.db.execute(
            f"UPDATE {self._table} SET {q('last_error')} = {p}, {q('last_error_task')} = {p}, "
            f"{q('last_error_try')} = {p}, {q('last_error_at')} = {p} WHERE {q('job_id')} = {p}",
            (error[:60_000], task[:255], try_number, _now(), job_id),
        )

    def remote_status_sent(self) -> str | None:
        """The status last written back to the remote (None: never)."""
        p, q = self._p, self._q
        rows = self.db.query(
            f"SELECT {q('remote_status_sent')} FROM {self._table} WHERE {q('job_id')} = {p}", (INSTALLATION_JOB_ID,)
        )
        return rows[0][0] if rows else None

    def set_remote_status_sent(self, status: str) -> None:
        self.ensure_row(INSTALLATION_JOB_ID, None)
        p, q = self._p, self._q
        self.db.execute(
            f"UPDATE {self._table} SET {q('remote_status_sent')} = {p} WHERE {q('job_id')} = {p}",
            (status, INSTALLATION_JOB_ID),
        )

    def record_transfer(self, data_type: str, run_id: str | None, rows: int, seconds: float) -> None:
        """Append one transfer's rows and duration to the data type's recent transfers (throughput, ETA)."""
        p, q = self._p, self._q
        job_id = data_type_job_id(data_type)
        found = self.db.query(f"SELECT {q('recent_transfers')} FROM {self._table} WHERE {q('job_id')} = {p}", (job_id,))
        recent = json.loads(found[0][0]) if found and found[0][0] else []
        recent.append({"run_id": run_id, "rows": rows, "seconds": round(seconds, 3),
                       "finished_at": _now().isoformat(timespec="seconds") + "Z"})
        self.db.execute(
            f"UPDATE {self._table} SET {q('recent_transfers')} = {p} WHERE {q('job_id')} = {p}",
            (json.dumps(recent[-RECENT_TRANSFERS_KEPT:]), job_id),
        )

    def recent_transfers(self, data_type: str) -> list[dict[str, Any]]:
        p, q = self._p, self._q
        found = self.db.query(
            f"SELECT {q('recent_transfers')} FROM {self._table} WHERE {q('job_id')} = {p}", (data_type_job_id(data_type),)
        )
        return json.loads(found[0][0]) if found and found[0][0] else []

    def _upsert(self, job_id: str, data_type: str | None, **fields: Any) -> None:
        now = _now()
        if "status" in fields:
            fields["status"] = Status(fields["status"]).value
            fields["finished_at"] = now if fields["status"] == Status.DONE.value else None
        fields["updated_at"] = now
        self.ensure_row(job_id, data_type)
        p, q = self._p, self._q
        assignments = ", ".join(f"{q(c)} = {p}" for c in fields)
        self.db.execute(f"UPDATE {self._table} SET {assignments} WHERE {q('job_id')} = {p}", (*fields.values(), job_id))

    def _q(self, name: str) -> str:
        return self.db.dialect.quote(name)

    @staticmethod
    def _row(raw: tuple[Any, ...]) -> StateRow:
        job_id, data_type, status, checkpoint, rows, pages, run_id, error, updated, finished = raw
        return StateRow(
            job_id=job_id,
            data_type=data_type,
            status=Status(status),
            checkpoint=json.loads(checkpoint) if checkpoint is not None else None,
            rows_copied=int(rows),
            pages_copied=int(pages),
            run_id=run_id,
            last_error=error,
            updated_at=updated,
            finished_at=finished,
        )
