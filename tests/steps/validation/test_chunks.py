"""Chunk planning over key-ordered hashes."""

from include.migration.steps.validation.chunks import Chunk, ChunkBuilder, chunk_index
from include.migration.values.checksums import ChunkStats


def test_builder_cuts_every_n_rows_and_leaves_the_last_chunk_open():
    builder = ChunkBuilder(chunk_rows=3)
    for key in range(1, 8):
        builder.add(key, key * 10)
    chunks, stats = builder.finish()
    assert chunks == [Chunk(None, 3), Chunk(3, 6), Chunk(6, None)]
    assert stats == [ChunkStats(3, 60), ChunkStats(3, 150), ChunkStats(1, 70)]


def test_empty_table_is_one_open_chunk():
    chunks, stats = ChunkBuilder(chunk_rows=10).finish()
    assert chunks == [Chunk(None, None)] and stats == [ChunkStats(0, 0)]


def test_chunk_membership_and_lookup():
    chunks = [Chunk(None, 3), Chunk(3, 6), Chunk(6, None)]
    assert [chunk_index(chunks, k) for k in (-5, 1, 3, 4, 6, 7, 10**12)] == [0, 0, 0, 1, 1, 2, 2]
    assert Chunk(3, 6).contains(6) and not Chunk(3, 6).contains(3)
    assert Chunk(None, None).label() == "(-inf, +inf]"
