"""Deterministic seed data for the reference remote's source database.

Values are generated from the configured column types alone, so any
configuration can be seeded. Each (installation, data type) pair draws from its
own random stream, derived with a stable hash from the seed and both names: the
rows of one pair do not depend on which other pairs are seeded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from include.migration.configuration.config import ColumnSpec, ColumnType, DataTypeSpec
from include.reference_remote.source_schema import (
    INSTALLATION_COLUMN,
    STATUSES,
    build_source_metadata,
    create_source_engine,
)

CHUNK_ROWS = 2_000
NULL_RATE = 0.1

# Mixed scripts, combining marks, astral-plane emoji, quotes and backslashes:
# the things that break encodings, collations and escaping.
WORDS = (
    "alpha", "beta", "gamma", "Zoë", "東京", "Ωmega", "naïve café", "🚀", "São Paulo", "Straße",
    "Łódź", "привет", "Ελληνικά", "עברית", "مرحبا", "日本語テキスト", "emoji 🎉👍", "O'Brien",
    'say "hi"', "back\\slash", "percent 100%", "under_score", "crème brûlée", "Ñandú",
)
_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
_TIMESTAMP_SPAN_US = int((dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc) - _EPOCH).total_seconds()) * 1_000_000
# updated_at cursors are read up to "now - lag": a seeded change in the future
# would stay invisible until then, so those timestamps end in the past.
_UPDATED_AT_SPAN_US = int((dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) - _EPOCH).total_seconds()) * 1_000_000
_DATE_START = dt.date(2020, 1, 1)
_DATE_SPAN_DAYS = (dt.date(2027, 1, 1) - _DATE_START).days

ValueGenerator = Callable[[random.Random], Any]


def rng_for(seed: int, installation_id: str, data_type: str) -> random.Random:
    """The random stream of one (installation, data type) pair; stable across processes and Python versions."""
    digest = hashlib.sha256(f"{seed}\x00{installation_id}\x00{data_type}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))


def _varchar(length: int) -> ValueGenerator:
    def generate(rng: random.Random) -> str:
        text = f"{_words(rng, rng.randint(1, 4))} {rng.randint(0, 99_999)}"
        return text[:length].rstrip() or text[0]

    return generate


def _text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 40)):
        parts.append(rng.choice(WORDS))
        if rng.random() < 0.08:
            parts.append("\n")
    return " ".join(parts)[:400]


def _decimal(precision: int, scale: int) -> ValueGenerator:
    largest = 10**precision - 1
    small = 10 ** min(precision, 4) - 1

    def generate(rng: random.Random) -> Decimal:
        pick = rng.random()
        unscaled = 0 if pick < 0.05 else rng.randint(-small, small) if pick < 0.4 else rng.randint(-largest, largest)
        # String construction is exact; arithmetic would round to the 28-digit context.
        return Decimal(f"{unscaled}E-{scale}")

    return generate


def _double(rng: random.Random) -> float:
    pick = rng.random()
    if pick < 0.05:
        return 0.0
    if pick < 0.15:
        return rng.uniform(-1.0, 1.0) * 1e-9
    if pick < 0.25:
        return rng.uniform(-1.0, 1.0) * 1e15
    return rng.uniform(-1e6, 1e6)


def _bigint(rng: random.Random) -> int:
    return rng.randint(-(2**62), 2**62) if rng.random() < 0.1 else rng.randint(1, 1_000_000)


def _int(rng: random.Random) -> int:
    return rng.randint(-(2**31), 2**31 - 1) if rng.random() < 0.1 else rng.randint(0, 1_000)


def _boolean(rng: random.Random) -> bool:
    return rng.random() < 0.5


def _timestamp_within(span_us: int) -> ValueGenerator:
    def generate(rng: random.Random) -> dt.datetime:
        value = _EPOCH + dt.timedelta(microseconds=rng.randrange(span_us))
        # Some whole seconds, so ".000000" is exercised too.
        return value.replace(microsecond=0) if rng.random() < 0.05 else value

    return generate


_timestamp = _timestamp_within(_TIMESTAMP_SPAN_US)


def _date(rng: random.Random) -> dt.date:
    return _DATE_START + dt.timedelta(days=rng.randrange(_DATE_SPAN_DAYS))


def _json(rng: random.Random) -> Any:
    if rng.random() < 0.15:
        return [rng.choice(WORDS) for _ in range(rng.randint(0, 4))]
    return {
        "name": rng.choice(WORDS),
        "rank": rng.randint(-1_000, 1_000_000),
        "score": round(rng.uniform(-100.0, 100.0), 3),
        "tags": [rng.choice(WORDS) for _ in range(rng.randint(0, 3))],
        "settings": {"beta": rng.random() < 0.5, "note": None, "levels": [rng.randint(0, 9) for _ in range(3)]},
    }


def value_generator(column: ColumnSpec) -> ValueGenerator:
    """A generator of random values that fit ``column``'s type (not its key role)."""
    ctype = column.type
    base = ctype.base
    if base == "varchar":
        assert ctype.length is not None
        return _varchar(ctype.length)
    if base == "decimal":
        assert ctype.precision is not None and ctype.scale is not None
        return _decimal(ctype.precision, ctype.scale)
    simple: dict[str, ValueGenerator] = {
        "bigint": _bigint,
        "int": _int,
        "text": _text,
        "double": _double,
        "boolean": _boolean,
        "timestamp": _timestamp,
        "date": _date,
        "json": _json,
    }
    return simple[base]


def key_values(spec: DataTypeSpec, count: int) -> list[Any]:
    """Keys 1..count; zero-padded strings for ``varchar`` keys, so text order equals numeric order.

    A composite key has nine rows per value of its first column, told apart by the last one:
    ``(1, 1), (1, 2), ... (1, 9), (2, 1), ...`` (any middle columns hold their first value).
    """
    if spec.composite_key:
        parts = [_key_part(spec.column(name).type, max(count, 9), spec.name) for name in spec.key_names]
        middle = tuple(part[0] for part in parts[1:-1])
        return [(parts[0][i // 9], *middle, parts[-1][i % 9]) for i in range(count)]
    return _key_part(spec.key_column.type, count, spec.name)


def _key_part(key_type: ColumnType, count: int, data_type: str) -> list[Any]:
    if key_type.base != "varchar":
        return list(range(1, count + 1))
    assert key_type.length is not None
    width = min(key_type.length, max(10, len(str(count))))
    if len(str(count)) > width:
        raise ValueError(f"data type {data_type!r}: {count} keys do not fit in {key_type}")
    return [str(i).zfill(width) for i in range(1, count + 1)]


def _column_generator(spec: DataTypeSpec, column: ColumnSpec) -> ValueGenerator:
    if spec.cursor_mode == "updated_at" and column.name == spec.updated_at_column:
        return _timestamp_within(_UPDATED_AT_SPAN_US)
    return value_generator(column)


def generate_rows(spec: DataTypeSpec, installation_id: str, count: int, *, seed: int = 42) -> Iterator[dict[str, Any]]:
    """The rows seeded for one installation and data type, as column -> value mappings (with ``installation_id``).

    The ``updated_at_column`` of an updated_at-mode data type lies before 2026, never in the future.
    """
    rng = rng_for(seed, installation_id, spec.name)
    plan = [
        (c.name, _column_generator(spec, c), c.nullable)
        for c in spec.columns
        if c.name not in spec.key_names
    ]
    for key in key_values(spec, count):
        parts = key if spec.composite_key else (key,)
        row: dict[str, Any] = {INSTALLATION_COLUMN: installation_id, **dict(zip(spec.key_names, parts))}
        for name, generate, nullable in plan:
            row[name] = None if nullable and rng.random() < NULL_RATE else generate(rng)
        yield row


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def seed_source(
    source_url: str,
    data_types: Sequence[DataTypeSpec],
    installation_ids: Sequence[str],
    rows_per_type: int,
    *,
    seed: int = 42,
    statuses: Mapping[str, str] | None = None,
) -> dict[tuple[str, str], int]:
    """Drop and recreate the source tables and fill them deterministically.

    Every installation gets ``rows_per_type`` rows of every data type;
    ``statuses`` (installation -> status) fills ``migration_status``.
    Returns the row count per ``(installation, data type)``.
    """
    if rows_per_type < 0:
        raise ValueError("rows_per_type must not be negative")
    statuses = dict(statuses or {})
    invalid = {i: s for i, s in statuses.items() if s not in STATUSES}
    if invalid:
        raise ValueError(f"invalid statuses {invalid}; expected one of {STATUSES}")
    schema = build_source_metadata(data_types)
    engine = create_source_engine(source_url)
    counts: dict[tuple[str, str], int] = {}
    try:
        schema.metadata.drop_all(engine)
        schema.metadata.create_all(engine)
        for installation_id in installation_ids:
            for spec in data_types:
                table = schema.tables[spec.name]
                inserted = 0
                with engine.begin() as conn:
                    for chunk in _chunks(generate_rows(spec, installation_id, rows_per_type, seed=seed), CHUNK_ROWS):
                        conn.execute(table.insert(), chunk)
                        inserted += len(chunk)
                counts[(installation_id, spec.name)] = inserted
        if statuses:
            with engine.begin() as conn:
                conn.execute(
                    schema.status_table.insert(),
                    [{INSTALLATION_COLUMN: i, "status": s} for i, s in statuses.items()],
                )
    finally:
        engine.dispose()
    return counts
