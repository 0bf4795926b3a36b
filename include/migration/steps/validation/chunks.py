"""Key-range chunks: half-open ranges ``(after, up_to]`` over one data type's primary key."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from include.migration.values.checksums import MASK_64, ChunkStats


@dataclasses.dataclass(frozen=True)
class Chunk:
    """Keys ``k`` with ``after < k <= up_to``; None on either side means unbounded."""

    after: Any
    up_to: Any

    def contains(self, key: Any) -> bool:
        return (self.after is None or key > self.after) and (self.up_to is None or key <= self.up_to)

    def label(self) -> str:
        low = "-inf" if self.after is None else repr(self.after)
        high = "+inf" if self.up_to is None else repr(self.up_to)
        return f"({low}, {high}]"


@dataclasses.dataclass
class ChunkBuilder:
    """Cuts a key-ordered stream of (key, row hash) into chunks of ``chunk_rows`` rows with their stats.

    The last chunk is open above, so rows the source has beyond the target's
    last key fall into a chunk too.
    """

    chunk_rows: int
    on_chunk: Callable[[Chunk], None] | None = None
    chunks: list[Chunk] = dataclasses.field(default_factory=list)
    stats: list[ChunkStats] = dataclasses.field(default_factory=list)
    _after: Any = None
    _count: int = 0
    _sum: int = 0

    def add(self, key: Any, row_hash: int) -> None:
        self._count += 1
        self._sum = (self._sum + row_hash) & MASK_64
        if self._count >= self.chunk_rows:
            self._close(key)

    def add_chunk(self, up_to: Any, count: int, total: int) -> None:
        """Rows already summed (``count`` rows up to key ``up_to``, hashes summing to ``total``).

        A full chunk closes; fewer rows can only be the last ones, which stay in the open last chunk.
        """
        if count > self.chunk_rows - self._count:
            raise ValueError(f"{count} rows do not fit the open chunk ({self._count} of {self.chunk_rows} rows)")
        self._count += count
        self._sum = (self._sum + total) & MASK_64
        if self._count >= self.chunk_rows:
            self._close(up_to)

    def _close(self, up_to: Any) -> None:
        chunk = Chunk(self._after, up_to)
        self.chunks.append(chunk)
        self.stats.append(ChunkStats(self._count, self._sum))
        if self.on_chunk is not None:
            self.on_chunk(chunk)
        self._after, self._count, self._sum = up_to, 0, 0

    def finish(self) -> tuple[list[Chunk], list[ChunkStats]]:
        """Close the open last chunk and return all chunks with their stats."""
        self._close(None)
        return self.chunks, self.stats


def chunk_index(chunks: list[Chunk], key: Any) -> int:
    """The position of the chunk holding ``key`` (chunks are contiguous and ordered)."""
    low, high = 0, len(chunks) - 1
    while low < high:
        middle = (low + high) // 2
        up_to = chunks[middle].up_to
        if up_to is not None and key > up_to:
            low = middle + 1
        else:
            high = middle
    return low
