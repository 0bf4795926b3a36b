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
rows deleted in the target, which no ``updated_at`` scan can see; a pass that
is killed simply starts again (nothing it sent is sent twice by the next pass,
since equal rows no longer differ).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
import time
from collections.abc import Sequence
from typing import Any

from include.migration.checksum import wire_timestamp
from include.migration.config import DataTypeSpec
from include.migration.errors import FatalError
from include.migration.source.capabilities import REMOTE_WRITES
from include.migration.source.client import RemoteClient
from include.migration.target.connection import TargetDatabase
from include.migration.validation.chunks import Chunk
from include.migration.validation.source_side import source_side
from include.migration.validation.target_side import TargetReader
from include.migration.validation.validator import scan_both_sides

BATCH_ROWS = 1_000


class ReverseSyncError(FatalError):
    """The remote cannot be made equal to the target (no write capability, or it stays different)."""


@dataclasses.dataclass
class ReverseResult:
    """What one reverse pass of a data type found and sent; small enough for XCom."""

    installation: str
    data_type: str
    green: bool
    rows_target: int
    rows_remote_before: int
    chunks: int
    mismatched_chunks: list[str]
    rows_sent: int
    keys_deleted: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _wire(spec: DataTypeSpec, row: Sequence[Any]) -> list[Any]:
    """A target row in the data pages' wire form (what the remote reads and checks)."""
    out: list[Any] = []
    for column, value in zip(spec.columns, row):
        base = column.type.base
        if value is None:
            out.append(None)
        elif base == "boolean":
            out.append(bool(value))
        elif base == "decimal":
            out.append(format(decimal.Decimal(value), "f"))
        elif base == "timestamp":
            out.append(wire_timestamp(value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))))
        elif base == "date":
            out.append(value.isoformat() if isinstance(value, dt.date) else str(value))
        elif base == "json":
            out.append(json.loads(value) if isinstance(value, (str, bytes)) else value)
        elif base == "double":
            out.append(float(value))
        else:
            out.append(value)
    return out


def target_rows(db: TargetDatabase, spec: DataTypeSpec, keys: Sequence[Any]) -> list[list[Any]]:
    """The target's rows with these keys, in key order and wire form."""
    d = db.dialect
    columns = ", ".join(d.quote(c) for c in spec.column_names)
    rows: list[list[Any]] = []
    for start in range(0, len(keys), 500):
        batch = list(keys[start : start + 500])
        marks = ", ".join([d.placeholder] * len(batch))
        sql = (f"SELECT {columns} FROM {d.quote(spec.target_table)} WHERE {d.quote(spec.primary_key)} IN ({marks}) "
               f"ORDER BY {d.quote(spec.primary_key)}")
        rows += [_wire(spec, row) for row in db.query(sql, batch)]
    return rows


def reverse_sync_data_type(
    *,
    installation_id: str,
    spec: DataTypeSpec,
    client: RemoteClient,
    capabilities: Sequence[str],
    db: TargetDatabase,
    max_rounds: int = 3,
    batch_rows: int = BATCH_ROWS,
) -> ReverseResult:
    """Send the target's differences back to the remote until every chunk is equal; see the module docs."""
    where = f"installation {installation_id!r}, data type {spec.name!r}"
    if REMOTE_WRITES not in capabilities:
        raise ReverseSyncError(f"{where}: the remote does not announce {REMOTE_WRITES!r}; it cannot take rows back")
    started = time.monotonic()
    target = TargetReader(db, spec)
    remote = source_side(client, spec, installation_id, list(capabilities))
    chunks, target_stats, remote_stats = scan_both_sides(target, remote, spec.validation_chunk_rows)
    suspects = [i for i, (r, t) in enumerate(zip(remote_stats, target_stats)) if r != t]
    mismatched: list[Chunk] = [chunks[i] for i in suspects]
    sent = deleted = 0
    for round_number in range(max_rounds + 1):
        still: list[Chunk] = []
        for chunk in mismatched:
            remote_hashes, target_hashes = remote.hashes(chunk), target.hashes(chunk)
            to_send = sorted(k for k, h in target_hashes.items() if remote_hashes.get(k) != h)
            to_delete = sorted(k for k in remote_hashes if k not in target_hashes)
            if not (to_send or to_delete):
                continue
            still.append(chunk)
            if round_number == max_rounds:
                continue
            for start in range(0, max(len(to_send), len(to_delete)), batch_rows):
                rows = target_rows(db, spec, to_send[start : start + batch_rows])
                gone = to_delete[start : start + batch_rows]
                answer = client.write_rows(spec.name, list(spec.column_names), rows, gone)
                sent += int(answer["upserted"])
                deleted += int(answer["deleted"])
        mismatched = still
        if not mismatched:
            break
    return ReverseResult(
        installation=installation_id,
        data_type=spec.name,
        green=not mismatched,
        rows_target=sum(s.count for s in target_stats),
        rows_remote_before=sum(s.count for s in remote_stats),
        chunks=len(chunks),
        mismatched_chunks=[chunks[i].label() for i in suspects],
        rows_sent=sent,
        keys_deleted=deleted,
        seconds=round(time.monotonic() - started, 3),
    )
