"""Seed the bench's PostgreSQL source (``bench_source``) fast, with COPY.

The values are the reference seed's (``reference_remote.seed.generate_rows``:
deterministic, mixed scripts, emoji, quotes, backslashes, 10 % NULLs), the
tables the reference remote's (``build_source_metadata``), but the rows go in
through ``COPY ... FROM STDIN`` in text format, one (installation, data type)
pair per worker process. A marker table remembers what was seeded, so a second
run with the same sizes skips seeding.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import decimal
import hashlib
import io
import json
from collections.abc import Sequence
from typing import Any

import psycopg2

from include.benchmarks.common import CONFIG_PATH, PG_ADMIN_DSN, PG_DSN, SOURCE_DB, SOURCE_URL
from include.migration.configuration.config import DataTypeSpec
from include.migration.configuration.config_loading import load_config
from include.reference_remote.seed import generate_rows
from include.reference_remote.source_schema import (
    INSTALLATION_COLUMN,
    build_source_metadata,
    create_source_engine,
)

MARKER_TABLE = "bench_seed_marker"
COPY_CHUNK_ROWS = 20_000
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str) -> str:
    return value.translate(_ESCAPES) if ("\\" in value or "\n" in value or "\t" in value or "\r" in value) else value


def _formatter(base: str) -> Any:
    if base in ("bigint", "int"):
        return str
    if base in ("varchar", "text"):
        return _text
    if base == "decimal":
        return lambda v: format(v, "f")
    if base == "double":
        return repr
    if base == "boolean":
        return lambda v: "t" if v else "f"
    if base in ("timestamp", "date"):
        return lambda v: v.isoformat()
    if base == "json":
        return lambda v: _text(json.dumps(v, ensure_ascii=False))
    raise AssertionError(base)


def _copy_pair(installation_id: str, spec_json: str, count: int, seed: int) -> tuple[str, str, int, float]:
    """COPY one installation's rows of one data type (runs in a worker process)."""
    import time

    spec = DataTypeSpec.model_validate_json(spec_json)
    started = time.perf_counter()
    names = [INSTALLATION_COLUMN, *spec.column_names]
    formats = [_text] + [_formatter(c.type.base) for c in spec.columns]
    quoted = ", ".join(f'"{n}"' for n in names)
    statement = f'COPY "{spec.source_table}" ({quoted}) FROM STDIN'
    conn = psycopg2.connect(PG_DSN)
    try:
        with conn, conn.cursor() as cursor:
            buffer: list[str] = []
            for row in generate_rows(spec, installation_id, count, seed=seed):
                values = [row[n] for n in names]
                buffer.append("\t".join("\\N" if v is None else f(v) for f, v in zip(formats, values)))
                if len(buffer) >= COPY_CHUNK_ROWS:
                    cursor.copy_expert(statement, io.StringIO("\n".join(buffer) + "\n"))
                    buffer = []
            if buffer:
                cursor.copy_expert(statement, io.StringIO("\n".join(buffer) + "\n"))
    finally:
        conn.close()
    return installation_id, spec.name, count, time.perf_counter() - started


def plan_signature(plan: dict[str, dict[str, int]], data_types: Sequence[DataTypeSpec], seed: int) -> str:
    body = json.dumps(
        {
            "plan": plan,
            "seed": seed,
            # What the rows depend on; not page sizes or other transfer settings.
            "types": [
                d.model_dump(mode="json", include={"name", "source_table", "primary_key", "columns"})
                for d in data_types
            ],
        },
        sort_keys=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _ensure_database() -> None:
    admin = psycopg2.connect(PG_ADMIN_DSN)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (SOURCE_DB,))
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{SOURCE_DB}"')
    finally:
        admin.close()


def _marker() -> str | None:
    conn = psycopg2.connect(PG_DSN)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", (MARKER_TABLE,))
            if cursor.fetchone()[0] is None:
                return None
            cursor.execute(f"SELECT signature FROM {MARKER_TABLE}")
            row = cursor.fetchone()
            return row[0] if row else None
    finally:
        conn.close()


def seed(plan: dict[str, dict[str, int]], *, seed: int = 42, force: bool = False, workers: int = 2) -> dict[str, Any]:
    """Make ``bench_source`` hold exactly ``plan`` (installation -> data type -> rows); returns what it did."""
    data_types = load_config(CONFIG_PATH).data_types
    signature = plan_signature(plan, data_types, seed)
    _ensure_database()
    if not force and _marker() == signature:
        return {"seeded": False, "seconds": 0.0, "rows": sum(sum(p.values()) for p in plan.values())}
    import time

    started = time.perf_counter()
    schema = build_source_metadata(data_types)
    engine = create_source_engine(SOURCE_URL)
    try:
        schema.metadata.drop_all(engine)
        schema.metadata.create_all(engine)
    finally:
        engine.dispose()
    specs = {d.name: d.model_dump_json() for d in data_types}
    jobs = [(i, specs[name], count, seed) for i, counts in plan.items() for name, count in counts.items()]
    jobs.sort(key=lambda job: -job[2])  # biggest first keeps both workers busy to the end
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        timings = list(pool.map(_copy_pair, *zip(*jobs)))
    conn = psycopg2.connect(PG_DSN)
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            for spec in data_types:
                cursor.execute(f'ANALYZE "{spec.source_table}"')
            cursor.execute(f"DROP TABLE IF EXISTS {MARKER_TABLE}")
            cursor.execute(f"CREATE TABLE {MARKER_TABLE} (signature text NOT NULL, seeded_at timestamptz NOT NULL)")
            cursor.execute(f"INSERT INTO {MARKER_TABLE} VALUES (%s, now())", (signature,))
    finally:
        conn.close()
    rows = sum(t[2] for t in timings)
    return {
        "seeded": True,
        "seconds": time.perf_counter() - started,
        "rows": rows,
        "pairs": [{"installation": t[0], "data_type": t[1], "rows": t[2], "seconds": round(t[3], 2)} for t in timings],
    }


def source_rows(
    installation_id: str, spec: DataTypeSpec, *, keys: Sequence[int] | None = None
) -> list[tuple[Any, ...]]:
    """Rows of the source in configured column order, as the target stores them.

    Timestamps naive UTC, JSON as the canonical text the conversion produces,
    decimals, floats, booleans and dates as they are: what the ceiling cases
    write, and what the sampled comparisons of the peers compare against.
    """
    kinds = [c.type.base for c in spec.columns]
    columns = ", ".join(f'"{c}"' for c in spec.column_names)
    sql = f'SELECT {columns} FROM "{spec.source_table}" WHERE "{INSTALLATION_COLUMN}" = %s'
    params: list[Any] = [installation_id]
    if keys is not None:
        sql += f' AND "{spec.primary_key}" = ANY(%s)'
        params.append(list(keys))
    sql += f' ORDER BY "{spec.primary_key}"'
    conn = psycopg2.connect(PG_DSN)
    try:
        conn.autocommit = False
        with conn.cursor() as setup:
            setup.execute("SET TIME ZONE 'UTC'")
        with conn.cursor(name="bench_rows") as cursor:
            cursor.itersize = 20_000
            cursor.execute(sql, params)
            converters = [_to_target(k) for k in kinds]
            if all(c is None for c in converters):
                return [tuple(r) for r in cursor]
            return [tuple(v if (f is None or v is None) else f(v) for f, v in zip(converters, row)) for row in cursor]
    finally:
        conn.close()


def _to_target(base: str) -> Any:
    if base == "timestamp":
        return lambda v: v.astimezone(dt.UTC).replace(tzinfo=None)
    if base == "json":
        return lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    if base == "decimal":
        return lambda v: v if isinstance(v, decimal.Decimal) else decimal.Decimal(v)
    return None
