"""Validate one data type: counts and chunk checksums, narrow mismatches to keys, repair, re-check.

1. One key-ordered scan of the target cuts it into chunks of
   ``validation_chunk_rows`` rows and computes each chunk's count and checksum.
2. The source's stats for the same chunks come from the remote (or a page scan).
3. A mismatching chunk is re-checked after a grace delay: rows change while we
   migrate, and the next pass may simply not have copied them yet.
4. A chunk that still differs is narrowed to keys by comparing row hashes:
   rows missing or different in the target are re-fetched from the source and
   upserted; rows the source no longer has are deleted (or marked deleted).
5. Repaired chunks are checked again; a chunk that cannot be made green fails
   the validation with the data type and chunks named.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import time
from collections.abc import Callable
from typing import Any

from include.migration.configuration.config import DataTypeSpec
from include.migration.errors import FatalError
from include.migration.source.client import RemoteClient
from include.migration.steps.heap import page_loop_collection
from include.migration.steps.validation.chunks import Chunk
from include.migration.steps.validation.source_side import RemoteStatsSource, SourceSide, source_pages, source_side
from include.migration.steps.validation.target_side import TargetReader
from include.migration.target.connection import TargetDatabase
from include.migration.target.profiles import TargetProfile
from include.migration.target.writer import UpsertWriter
from include.migration.values.checksums import ChunkStats

MAX_KEYS_REPORTED = 1000


class ValidationFailedError(FatalError):
    """The target could not be made equal to the source."""


@dataclasses.dataclass
class ValidationResult:
    """What one validation found and did; recorded in the target and returned as XCom."""

    installation: str
    data_type: str
    green: bool
    rows_source: int
    rows_target: int
    chunks: int
    mismatched_chunks: list[str]
    missing_keys: list[Any]
    different_keys: list[Any]
    extra_keys: list[Any]
    repaired_rows: int
    deleted_rows: int
    method: str
    seconds: float
    checksum: str = ""
    """The source's whole-table checksum: the sum of its chunk checksums modulo 2**64 (a decimal string)."""

    @property
    def changed(self) -> bool:
        """Whether validation had to change the target (a pass with changes is not quiet)."""
        return bool(self.repaired_rows or self.deleted_rows)

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in ("missing_keys", "different_keys", "extra_keys"):
            data[name] = data[name][:MAX_KEYS_REPORTED]
        data["changed"] = self.changed
        return data


def _diff(source: dict[Any, int], target: dict[Any, int]) -> tuple[list[Any], list[Any], list[Any]]:
    missing = sorted(k for k in source if k not in target)
    different = sorted(k for k, h in source.items() if k in target and target[k] != h)
    extra = sorted(k for k in target if k not in source)
    return missing, different, extra


def scan_both_sides(
    target: TargetReader, source: SourceSide, chunk_rows: int
) -> tuple[list[Chunk], list[ChunkStats], list[ChunkStats]]:
    """Chunk stats of both sides; a remote with range statistics works on each chunk while the target scan goes on."""
    if not isinstance(source, RemoteStatsSource):
        chunks, target_stats = target.scan(chunk_rows)
        return chunks, target_stats, source.stats_for(chunks)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="source-stats") as pool:
        futures: list[concurrent.futures.Future[list[ChunkStats]]] = []
        chunks, target_stats = target.scan(chunk_rows, lambda c: futures.append(pool.submit(source.stats_for, [c])))
        source_stats = [f.result()[0] for f in futures]
    return chunks, target_stats, source_stats


def validate_data_type(
    *,
    installation_id: str,
    spec: DataTypeSpec,
    client: RemoteClient,
    capabilities: list[str],
    db: TargetDatabase,
    profile: TargetProfile,
    grace_seconds: float = 30.0,
    repair: bool = True,
    max_repair_rounds: int = 3,
    sleep: Callable[[float], None] = time.sleep,
    before_write: Callable[[], None] = lambda: None,
) -> ValidationResult:
    """Validate (and repair) one data type of one installation; see the module docs.

    ``before_write`` runs before each repair write and may raise to stop it (the caller's lease check).
    """
    started = time.monotonic()
    target = TargetReader(db, spec)
    source = source_side(client, spec, installation_id, capabilities)
    with page_loop_collection():
        chunks, target_stats, source_stats = scan_both_sides(target, source, spec.validation_chunk_rows)
    rows_source = sum(s.count for s in source_stats)
    rows_target = sum(s.count for s in target_stats)
    suspects = [i for i, (s, t) in enumerate(zip(source_stats, target_stats)) if s != t]
    if suspects and grace_seconds > 0:
        sleep(grace_seconds)
    missing: list[Any] = []
    different: list[Any] = []
    extra: list[Any] = []
    repaired = deleted = 0
    mismatched = [chunks[i] for i in suspects]
    writer = UpsertWriter(db, spec, profile, installation_id=installation_id) if mismatched and repair else None
    for round_number in range(max_repair_rounds + 1):
        still: list[Chunk] = []
        for chunk in mismatched:
            source_hashes, target_hashes = source.hashes(chunk), target.hashes(chunk)
            chunk_missing, chunk_different, chunk_extra = _diff(source_hashes, target_hashes)
            if not (chunk_missing or chunk_different or chunk_extra):
                continue  # the difference was transient: the rows settled during the grace delay
            still.append(chunk)
            if round_number == 0:
                missing += chunk_missing
                different += chunk_different
                extra += chunk_extra
            if writer is None or round_number == max_repair_rounds:
                continue
            wanted = set(chunk_missing) | set(chunk_different)
            before_write()
            if wanted:
                for keys, table in source_pages(client, spec, installation_id, chunk):
                    chosen = [index for index, key in enumerate(keys) if key in wanted]
                    if chosen:
                        repaired += writer.write(table.take(chosen))
            if chunk_extra:
                deleted += target.delete(chunk_extra)
        mismatched = still
        if not mismatched or writer is None:
            break
    green = not mismatched
    # After repairs the target equals the source: report the source's count for both sides.
    if green and writer is not None:
        rows_target = rows_source
    result = ValidationResult(
        installation=installation_id,
        data_type=spec.name,
        green=green,
        rows_source=rows_source,
        rows_target=rows_target,
        chunks=len(chunks),
        mismatched_chunks=[chunks[i].label() for i in suspects],
        missing_keys=missing,
        different_keys=different,
        extra_keys=extra,
        repaired_rows=repaired,
        deleted_rows=deleted,
        method=type(source).__name__,
        seconds=round(time.monotonic() - started, 3),
        checksum=str(sum(s.checksum for s in source_stats) % 2**64),
    )
    return result


def red_message(result: ValidationResult) -> str:
    """What a red validation says: the chunks and keys that still differ, and what to do."""
    return (
            f"installation {result.installation!r}, data type {result.data_type!r}: validation is red after repair; "
            f"chunks {result.mismatched_chunks[:20]} still differ (missing {result.missing_keys[:20]}, "
            f"different {result.different_keys[:20]}, extra {result.extra_keys[:20]}); the source may be changing "
            "faster than the repair, re-run the DAG; if it persists check the column types and the remote's checksum"
    )


def require_green(result: ValidationResult) -> None:
    """Fail loudly when validation could not be made green."""
    if not result.green:
        raise ValidationFailedError(red_message(result))
