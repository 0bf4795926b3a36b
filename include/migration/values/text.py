"""Arrow values as exact text, for SQL literals and canonical hashes."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def decimal_text(values: pa.Array) -> pa.Array:
    """Decimals in plain notation with all scale digits (``0.0000008820``, never ``8.820E-7``).

    Arrow prints values below 1E-6 in scientific notation, which MySQL would read as an
    approximate DOUBLE literal; those few are printed again exactly, one by one.
    """
    text = pc.cast(values, pa.string())
    scientific = pc.match_substring(text, "E")
    if not pc.any(scientific).as_py():
        return text
    exact = [None if v is None else format(v, "f") for v in values.filter(scientific).to_pylist()]
    positions = pc.indices_nonzero(pc.fill_null(scientific, False)).to_pylist()
    merged = text.to_pylist()
    for position, value in zip(positions, exact):
        merged[position] = value
    return pa.array(merged, pa.string())


def zoned_timestamp_text(text: pa.Array) -> pa.Array:
    """ISO 8601 or SQL timestamp texts with a zone: a zone-less one is UTC, so it gets ``Z``."""
    zoned = pc.match_substring_regex(text, r"([Zz]|[+-]\d{2}(:?\d{2})?)$")
    return pc.if_else(zoned, text, pc.binary_join_element_wise(text, "Z", ""))


def timestamps_from_text(text: pa.Array) -> pa.Array:
    """ISO 8601 or SQL timestamp texts (``T`` or space, with or without a zone) -> UTC instants."""
    return zoned_timestamp_text(text).cast(pa.timestamp("us", tz="UTC"))
