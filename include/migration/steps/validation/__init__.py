"""Proving the copy: row counts and chunk checksums, narrowing to keys, and repair."""
