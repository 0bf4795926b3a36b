"""Chunk checksums: order-independent sums of row hashes modulo 2**64."""

from include.migration.values.checksums import ChunkStats, chunk_stats


def test_chunk_checksum_is_order_independent_and_keeps_duplicates():
    assert chunk_stats([1, 2, 3]) == chunk_stats([3, 1, 2]) == ChunkStats(3, 6)
    assert chunk_stats([5, 5]) != chunk_stats([])
    assert chunk_stats([2**64 - 1, 2]) == ChunkStats(2, 1)
    assert ChunkStats.from_dict(ChunkStats(2, 2**63).as_dict()) == ChunkStats(2, 2**63)
