"""The source side of validation, through the remote.

``RemoteStatsSource`` asks a remote that announces ``range-stats`` and
``row-hashes`` for the numbers; ``PageScanSource`` works with any remote by
re-reading its data pages in key order and hashing them here (the same
result, with every row crossing the network again).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from include.migration.configuration.config import DataTypeSpec
from include.migration.source.capabilities import RANGE_STATS, ROW_HASHES
from include.migration.source.client import RemoteClient
from include.migration.source.page_formats import page_converter, resolve_page_format
from include.migration.source.paginator import KeysetPaginator
from include.migration.steps.validation.chunks import Chunk, chunk_index
from include.migration.values.checksums import MASK_64, ChunkStats

if TYPE_CHECKING:
    import pyarrow as pa

CAPABILITIES = (RANGE_STATS, ROW_HASHES)


class SourceSide(Protocol):
    def stats_for(self, chunks: Sequence[Chunk]) -> list[ChunkStats]:
        """Stats of every chunk (contiguous, in key order)."""

    def hashes(self, chunk: Chunk) -> dict[Any, int]:
        """Key -> row hash of the chunk's rows."""


class _Pages:
    """Reads checked pages of a key range from the data endpoint, in key order (Arrow pages when offered)."""

    def __init__(self, client: RemoteClient, spec: DataTypeSpec, installation_id: str) -> None:
        self.client = client
        self.spec = spec
        self.installation_id = installation_id
        self.convert = page_converter(installation_id, spec)
        self.page_format = resolve_page_format(spec, client)
        # Data types paginated by (updated_at, key) are read here in plain key order.
        self.extra = {"order": "key"} if spec.cursor_mode == "updated_at" else {}

    def pages(self, chunk: Chunk) -> Iterator[tuple[list[Any], pa.Table]]:
        """``(keys, table)`` of each page's rows within the chunk."""
        paginator = KeysetPaginator(self.installation_id, self.spec.name, cursor=chunk.after)
        while not paginator.done:
            page = self.client.fetch_page(
                self.spec.name, paginator.cursor, self.spec.page_size, page_format=self.page_format, **self.extra
            )
            table = self.convert(page)
            keys = table_keys(self.spec, table)
            paginator.advance(keys, page.after_id)
            if chunk.up_to is not None and keys and keys[-1] > chunk.up_to:
                inside = sum(1 for key in keys if key <= chunk.up_to)
                yield keys[:inside], table.slice(0, inside)
                return
            yield keys, table


class PageScanSource:
    """Validation against a remote with only the status and data endpoints."""

    def __init__(self, client: RemoteClient, spec: DataTypeSpec, installation_id: str) -> None:
        from include.migration.values.canonical import RowHasher  # pyarrow stays out of DAG parsing

        self.pages = _Pages(client, spec, installation_id)
        self.hasher = RowHasher(spec)

    def stats_for(self, chunks: Sequence[Chunk]) -> list[ChunkStats]:
        counts, sums = [0] * len(chunks), [0] * len(chunks)
        whole = Chunk(chunks[0].after, chunks[-1].up_to)
        index = 0
        for keys, table in self.pages.pages(whole):
            for key, row_hash in zip(keys, self.hasher.hash_table(table)):
                if not chunks[index].contains(key):
                    index = chunk_index(chunks, key)
                counts[index] += 1
                sums[index] += row_hash
        return [ChunkStats(c, s & MASK_64) for c, s in zip(counts, sums)]

    def hashes(self, chunk: Chunk) -> dict[Any, int]:
        out: dict[Any, int] = {}
        for keys, table in self.pages.pages(chunk):
            out.update(zip(keys, self.hasher.hash_table(table)))
        return out


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


def source_pages(
    client: RemoteClient, spec: DataTypeSpec, installation_id: str, chunk: Chunk
) -> Iterator[tuple[list[Any], pa.Table]]:
    """The source's current rows of a chunk as checked tables with their keys (for repair)."""
    return _Pages(client, spec, installation_id).pages(chunk)


def table_keys(spec: DataTypeSpec, table: pa.Table) -> list[Any]:
    """The key of each row of a checked table: a value, or a tuple for a composite key."""
    columns = [table.column(i).to_pylist() for i in spec.key_indexes]
    return list(zip(*columns)) if spec.composite_key else columns[0]
