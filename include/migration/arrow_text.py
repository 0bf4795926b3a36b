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
