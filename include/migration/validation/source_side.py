"""The source side of validation, through the remote.

``RemoteStatsSource`` asks a remote that announces ``range-stats`` and
``row-hashes`` for the numbers; ``PageScanSource`` works with any remote by
re-reading its data pages in key order and hashing them here (the same
result, with every row crossing the network again).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from include.migration.source.capabilities import RANGE_STATS, ROW_HASHES
from include.migration.checksum import ChunkStats, RowHasher
from include.migration.config import DataTypeSpec
from include.migration.conversion import RowConverter
from include.migration.source.client import RemoteClient
from include.migration.source.paginator import KeysetPaginator
from include.migration.validation.chunks import Chunk, chunk_index

CAPABILITIES = (RANGE_STATS, ROW_HASHES)


class SourceSide(Protocol):
    def stats_for(self, chunks: Sequence[Chunk]) -> list[ChunkStats]:
        """Stats of every chunk (contiguous, in key order)."""

    def hashes(self, chunk: Chunk) -> dict[Any, int]:
        """Key -> row hash of the chunk's rows."""


class _Pages:
    """Reads converted rows of a key range from the data endpoint, in key order."""

    def __init__(self, client: RemoteClient, spec: DataTypeSpec, installation_id: str) -> None:
        self.client = client
        self.spec = spec
        self.installation_id = installation_id
        self.converter = RowConverter(installation_id, spec)
        # Data types paginated by (updated_at, key) are read here in plain key order.
        self.extra = {"order": "key"} if spec.cursor_mode == "updated_at" else {}

    def rows(self, chunk: Chunk) -> Iterator[tuple[Any, ...]]:
        key_of = self.spec.key_of
        paginator = KeysetPaginator(self.installation_id, self.spec.name, cursor=chunk.after)
        while not paginator.done:
            page = self.client.fetch_page(self.spec.name, paginator.cursor, self.spec.page_size, **self.extra)
            rows = self.converter.convert(page.headers, page.data)
            paginator.advance([key_of(r) for r in rows], page.after_id)
            for row in rows:
                if chunk.up_to is not None and key_of(row) > chunk.up_to:
                    return
                yield row


class PageScanSource:
    """Validation against a remote with only the status and data endpoints."""

    def __init__(self, client: RemoteClient, spec: DataTypeSpec, installation_id: str) -> None:
        self.pages = _Pages(client, spec, installation_id)
        self.hasher = RowHasher(spec)

    def stats_for(self, chunks: Sequence[Chunk]) -> list[ChunkStats]:
        key_of, hash_row = self.pages.spec.key_of, self.hasher.hash
        counts, sums = [0] * len(chunks), [0] * len(chunks)
        whole = Chunk(chunks[0].after, chunks[-1].up_to)
        index = 0
        for row in self.pages.rows(whole):
            key = key_of(row)
            if not chunks[index].contains(key):
                index = chunk_index(chunks, key)
            counts[index] += 1
            sums[index] += hash_row(row)
        return [ChunkStats(c, s & ((1 << 64) - 1)) for c, s in zip(counts, sums)]

    def hashes(self, chunk: Chunk) -> dict[Any, int]:
        key_of = self.pages.spec.key_of
        return {key_of(row): self.hasher.hash(row) for row in self.pages.rows(chunk)}


class RemoteStatsSource:
    """Validation with the remote's ``range-stats`` and ``row-hashes`` capabilities."""

    def __init__(self, client: RemoteClient, spec: DataTypeSpec, installation_id: str) -> None:
        self.client = client
        self.spec = spec
        self.installation_id = installation_id

    def stats_for(self, chunks: Sequence[Chunk]) -> list[ChunkStats]:
        return [
            ChunkStats.from_dict(self.client.range_stats(self.spec.name, c.after, c.up_to)) for c in chunks
        ]

    def hashes(self, chunk: Chunk) -> dict[Any, int]:
        out: dict[Any, int] = {}
        paginator = KeysetPaginator(self.installation_id, self.spec.name, cursor=chunk.after)
        while not paginator.done:
            keys, hashes, after_id = self.client.row_hashes(self.spec.name, paginator.cursor, chunk.up_to, 5000)
            paginator.advance(keys, after_id)
            out.update(zip(keys, hashes))
        return out


def source_side(client: RemoteClient, spec: DataTypeSpec, installation_id: str, capabilities: Sequence[str]) -> SourceSide:
    """The fastest source side the remote supports."""
    if all(c in capabilities for c in CAPABILITIES):
        return RemoteStatsSource(client, spec, installation_id)
    return PageScanSource(client, spec, installation_id)


def source_rows(client: RemoteClient, spec: DataTypeSpec, installation_id: str, chunk: Chunk) -> Iterator[tuple[Any, ...]]:
    """The source's current rows of a chunk, converted (for repair)."""
    return _Pages(client, spec, installation_id).rows(chunk)
