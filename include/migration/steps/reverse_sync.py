"""Rollback by reverse sync: make the remote equal the target, the target now being the truth.

During the dual-write period (or to roll back after cut-over) the guide keeps
the remote SQL database "using the same processes ... but this sends the data
back". The same chunk checksums that validate the copy are compared the other
way round: a chunk whose count or checksum differs is narrowed to keys by row
hashes, rows missing or different at the remote are sent from the target
(``remote-writes``: upsert by key, in bounded batches, retried without
duplicates), and keys the target no longer has (deleted, or soft-deleted) are
deleted at the remote. Repaired chunks are compared again until equal.

Comparing checksums rather than paging by ``(updated_at, key)`` also finds
rows deleted in the target, which no ``updated_at`` scan can see. The state
table's ``reverse:<data type>`` row records each pass: IN_PROGRESS with the
chunk of the last batch the remote committed, the rows and batches sent so far,
then DONE, or FAILED with the error. A pass that is killed or runs out of its
budget is taken up by the next one, which compares again: what the remote
already committed is equal now and is not sent twice.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from include.migration.configuration.config import DataTypeSpec
from include.migration.errors import FatalError
from include.migration.source.capabilities import REMOTE_WRITES
from include.migration.source.client import RemoteClient
from include.migration.steps.validation.chunks import Chunk
from include.migration.steps.validation.source_side import source_side
from include.migration.steps.validation.target_side import TargetReader
from include.migration.steps.validation.validator import scan_both_sides
from include.migration.target.connection import TargetDatabase
from include.migration.target.lease import LeaseLostError
from include.migration.target.state import StateStore, Status

BATCH_ROWS = 1_000
log = logging.getLogger(__name__)


class ReverseSyncError(FatalError):
    """The remote cannot be made equal to the target (no write capability, or it stays different)."""


@dataclasses.dataclass
class ReverseResult:
    """What one reverse pass of a data type found and sent; small enough for XCom."""

    installation: str
    data_type: str
    green: bool
    done: bool
    rows_target: int
    rows_remote_before: int
    chunks: int
    mismatched_chunks: list[str]
    rows_sent: int
    keys_deleted: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def target_rows(db: TargetDatabase, spec: DataTypeSpec, keys: Sequence[Any]) -> list[list[Any]]:
    """The target's rows with these keys, in key order and wire form."""
    from include.migration.values.wire_rows import wire_rows  # pyarrow stays out of DAG parsing

    d = db.dialect
    columns = ", ".join(d.quote(c) for c in spec.column_names)
    rows: list[list[Any]] = []
    for start in range(0, len(keys), 500):
        batch = list(keys[start : start + 500])
        matching, params = d.key_in(spec.key_names, batch)
        sql = f"SELECT {columns} FROM {d.quote(spec.target_table)} WHERE {matching} ORDER BY {d.key_order(spec.key_names)}"
        rows += wire_rows(spec, db.query(sql, params))
    return rows


def reverse_sync_data_type(
    *,
    installation_id: str,
    spec: DataTypeSpec,
    client: RemoteClient,
    capabilities: Sequence[str],
    db: TargetDatabase,
    run_id: str | None = None,
    budget_seconds: float | None = None,
    max_rounds: int = 3,
    batch_rows: int = BATCH_ROWS,
    before_write: Callable[[], None] = lambda: None,
) -> ReverseResult:
    """Send the target's differences back to the remote until every chunk is equal; see the module docs.

    ``before_write`` runs before each batch and may raise to stop it (the caller's lease check). When
    ``budget_seconds`` is spent the pass stops between batches (``done`` False); the next pass goes on.
    """
    where = f"installation {installation_id!r}, data type {spec.name!r}"
    if REMOTE_WRITES not in capabilities:
        raise ReverseSyncError(f"{where}: the remote does not announce {REMOTE_WRITES!r}; it cannot take rows back")
    state = StateStore(db)
    state.start_reverse(spec.name, run_id)
    try:
        result = _reverse_pass(installation_id, spec, client, capabilities, db, state, budget_seconds, max_rounds,
                               batch_rows, before_write)
    except LeaseLostError:
        raise  # another run syncs the data type now: the state row is its to write
    except Exception as exc:
        try:
            state.finish_reverse(spec.name, run_id, Status.FAILED, f"{type(exc).__name__}: {exc}")
        except Exception as unrecorded:  # noqa: BLE001 - a dead target must not hide the error that stopped the pass
            log.error("%s: could not record the failed reverse sync: %s", where, unrecorded)
        raise
    if result.green:
        state.finish_reverse(spec.name, run_id, Status.DONE)
    elif result.done:
        state.finish_reverse(spec.name, run_id, Status.FAILED,
                             f"the remote still differs after {max_rounds} rounds: {result.mismatched_chunks[:20]}")
    return result


def _reverse_pass(
    installation_id: str,
    spec: DataTypeSpec,
    client: RemoteClient,
    capabilities: Sequence[str],
    db: TargetDatabase,
    state: StateStore,
    budget_seconds: float | None,
    max_rounds: int,
    batch_rows: int,
    before_write: Callable[[], None],
) -> ReverseResult:
    started = time.monotonic()
    target = TargetReader(db, spec)
    remote = source_side(client, spec, installation_id, list(capabilities))
    chunks, target_stats, remote_stats = scan_both_sides(target, remote, spec.validation_chunk_rows)
    suspects = [i for i, (r, t) in enumerate(zip(remote_stats, target_stats)) if r != t]
    mismatched: list[Chunk] = [chunks[i] for i in suspects]
    sent = deleted = 0
    out_of_budget = False
    for round_number in range(max_rounds + 1):
        still: list[Chunk] = []
        for chunk in mismatched:
            if out_of_budget:
                still.append(chunk)
                continue
            remote_hashes, target_hashes = remote.hashes(chunk), target.hashes(chunk)
            to_send = sorted(k for k, h in target_hashes.items() if remote_hashes.get(k) != h)
            to_delete = sorted(k for k in remote_hashes if k not in target_hashes)
            if not (to_send or to_delete):
                continue
            still.append(chunk)
            if round_number == max_rounds:
                continue
            for start in range(0, max(len(to_send), len(to_delete)), batch_rows):
                if budget_seconds is not None and time.monotonic() - started > budget_seconds:
                    out_of_budget = True
                    break
                rows = target_rows(db, spec, to_send[start : start + batch_rows])
                gone = to_delete[start : start + batch_rows]
                before_write()
                answer = client.write_rows(spec.name, list(spec.column_names), rows, gone)
                upserted, removed = int(answer["upserted"]), int(answer["deleted"])
                sent += upserted
                deleted += removed
                state.save_reverse_progress(spec.name, {"chunk": chunk.label(), "round": round_number + 1},
                                            upserted + removed, 1)
        mismatched = still
        if not mismatched or out_of_budget:
            break
    return ReverseResult(
        installation=installation_id,
        data_type=spec.name,
        green=not mismatched,
        done=not out_of_budget,
        rows_target=sum(s.count for s in target_stats),
        rows_remote_before=sum(s.count for s in remote_stats),
        chunks=len(chunks),
        mismatched_chunks=[chunks[i].label() for i in suspects],
        rows_sent=sent,
        keys_deleted=deleted,
        seconds=round(time.monotonic() - started, 3),
    )
