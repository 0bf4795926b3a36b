"""Who may work on a data type now: a lease in the target's state table.

Two DAG runs of one installation must never transfer or repair the same data
type at the same time, whatever started them: a backfill with several active
runs, a manual trigger next to a backfill run, a zombie task next to a new
run. Airflow's ``max_active_runs`` does not cover all of these (a backfill has
its own limit), so the guarantee lives where the data lives: each data type's
row in ``_migration_state`` carries a lease (the owning run, a description of
the holding task, an expiry).

- Taking it is one conditional UPDATE, atomic on the server without a
  transaction: it succeeds when the lease is free, expired, or already held by
  the same run (a retry of a task takes over from its dead earlier try at once).
- A heartbeat thread renews it on its own connection while the task works, so
  a slow page or a long grace delay does not let it lapse; a lease of a killed
  worker lapses within ``LEASE_SECONDS``.
- The holder checks it before each write, and the checkpoint UPDATE is fenced
  by it: a holder that lost its lease (a takeover after it stalled) moves no
  checkpoint and stops with :class:`LeaseLostError`.
- Another run waits up to ``wait_seconds`` for it, then gives up with
  :class:`LeaseHeldError` naming the run that holds it; the task skips.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

from include.migration.errors import MigrationError
from include.migration.target.connection import TargetDatabase
from include.migration.target.state import LeaseRow, StateStore

log = logging.getLogger(__name__)

LEASE_SECONDS = 120.0
RENEW_EVERY_SECONDS = 20.0
WAIT_SECONDS = 30.0
POLL_SECONDS = 2.0


class LeaseHeldError(MigrationError):
    """Another run holds the lease; this run should skip the data type."""

    def __init__(self, message: str, lease: LeaseRow) -> None:
        super().__init__(message)
        self.lease = lease


class LeaseLostError(MigrationError):
    """The lease was taken over while this task held it; it stops without moving the checkpoint."""


@dataclasses.dataclass(frozen=True)
class LeaseOwner:
    """Who asks for a lease: the DAG run (``run_id``) and a description of the task, unique per try."""

    run_id: str
    holder: str

    @classmethod
    def for_task(cls, run_id: str | None, task: str, try_number: int | None = None) -> LeaseOwner:
        run = run_id or f"manual-{os.getpid()}"
        attempt = f" try {try_number}" if try_number is not None else ""
        return cls(run, f"{run} {task}{attempt} on {socket.gethostname()} pid {os.getpid()}"[:500])


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


class DataTypeLease:
    """The lease of one data type, held for a block of work (``with lease: ...``).

    ``connect`` opens a separate connection to the target for the heartbeat thread (a database
    connection must not be shared between threads).
    """

    def __init__(
        self,
        *,
        installation_id: str,
        data_type: str,
        job_id: str,
        owner: LeaseOwner,
        db: TargetDatabase,
        connect: Callable[[], TargetDatabase],
        wait_seconds: float = WAIT_SECONDS,
        lease_seconds: float = LEASE_SECONDS,
        renew_every_seconds: float = RENEW_EVERY_SECONDS,
        poll_seconds: float = POLL_SECONDS,
        clock: Callable[[], dt.datetime] = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.installation_id = installation_id
        self.data_type = data_type
        self.job_id = job_id
        self.owner = owner
        self._store = StateStore(db)
        self._connect = connect
        self._wait_seconds = wait_seconds
        self._lease_seconds = lease_seconds
        self._renew_every = renew_every_seconds
        self._poll = poll_seconds
        self._clock = clock
        self._sleep = sleep
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lost: str | None = None
        self.waited_seconds = 0.0

    @property
    def fence(self) -> tuple[str, str]:
        """(owner, holder), for writes that must only happen while this lease is held."""
        return self.owner.run_id, self.owner.holder

    def _where(self) -> str:
        return f"installation {self.installation_id!r}, data type {self.data_type!r}"

    def acquire(self) -> None:
        """Take the lease, waiting up to ``wait_seconds``; raises :class:`LeaseHeldError` when another run keeps it."""
        started = time.monotonic()
        while True:
            now = self._clock()
            row = self._store.claim_lease(
                self.job_id, self.data_type, self.owner.run_id, self.owner.holder,
                now + dt.timedelta(seconds=self._lease_seconds), now,
            )
            if row.owner == self.owner.run_id and row.holder == self.owner.holder:
                break
            waited = time.monotonic() - started
            if waited >= self._wait_seconds:
                self.waited_seconds = waited
                raise LeaseHeldError(
                    f"{self._where()}: run {row.owner!r} is working on it ({row.holder}, lease until "
                    f"{row.expires_at} UTC); this run ({self.owner.run_id!r}) waited {waited:.0f}s and skips it, "
                    "so the data type is never copied or repaired by two runs at once",
                    row,
                )
            self._sleep(self._poll)
        self.waited_seconds = time.monotonic() - started
        if row.holder != self.owner.holder:
            log.info("%s: took the lease over from an earlier try (%s)", self._where(), row.holder)
        self._thread = threading.Thread(target=self._heartbeat, name=f"lease-{self.data_type}", daemon=True)
        self._thread.start()

    def check(self) -> None:
        """Raise :class:`LeaseLostError` when the heartbeat found the lease taken over."""
        if self._lost is not None:
            raise LeaseLostError(self._lost)

    def lost(self, message: str) -> LeaseLostError:
        """The error for a write that found the lease gone (e.g. a fenced checkpoint that did not move)."""
        self._lost = self._lost or message
        return LeaseLostError(self._lost)

    def release(self) -> None:
        """Stop renewing and give the lease back (a no-op when it was lost)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self._lost is None:
            try:
                self._store.release_lease(self.job_id, self.owner.run_id, self.owner.holder)
            except Exception as exc:  # noqa: BLE001 - the lease lapses by itself; never hide the task's outcome
                log.warning("%s: could not release the lease (it lapses by itself): %s", self._where(), exc)

    def __enter__(self) -> DataTypeLease:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def _heartbeat(self) -> None:
        db: TargetDatabase | None = None
        try:
            while not self._stop.wait(self._renew_every):
                try:
                    db = db or self._connect()
                    expires = self._clock() + dt.timedelta(seconds=self._lease_seconds)
                    row = StateStore(db).renew_lease(self.job_id, self.owner.run_id, self.owner.holder, expires)
                except Exception as exc:  # noqa: BLE001 - a passing target fault: the lease has time left
                    log.warning("%s: lease renewal failed, trying again: %s", self._where(), exc)
                    if db is not None:
                        _close_quietly(db)
                    db = None
                    continue
                if row.holder != self.owner.holder:
                    self._lost = (
                        f"{self._where()}: the lease was taken over by {row.holder or 'nobody'} while this task "
                        f"({self.owner.holder}) worked; it stops without moving the checkpoint"
                    )
                    log.error("%s", self._lost)
                    return
        finally:
            if db is not None:
                _close_quietly(db)


def _close_quietly(db: TargetDatabase) -> None:
    try:
        db.close()
    except Exception:  # noqa: BLE001 - closing a broken connection may fail too
        pass
