"""Chunk checksums: a key range's row count and the sum of its row hashes modulo 2**64 (``docs/checksum.md``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

MASK_64 = (1 << 64) - 1


@dataclasses.dataclass(frozen=True)
class ChunkStats:
    """A chunk's checksum: its row count and the sum of its row hashes modulo 2**64."""

    count: int
    checksum: int

    def as_dict(self) -> dict[str, Any]:
        # As a string: JSON numbers above 2**53 lose precision in many languages.
        return {"count": self.count, "checksum": str(self.checksum)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkStats:
        return cls(count=int(data["count"]), checksum=int(data["checksum"]))


def chunk_stats(hashes: Iterable[int]) -> ChunkStats:
    """Combine row hashes, order-independently."""
    count, total = 0, 0
    for value in hashes:
        count += 1
        total += value
    return ChunkStats(count, total & MASK_64)
