"""Capability ``range-stats``: the row count and checksum (``docs/checksum.md``) of a key range."""

# No ``from __future__ import annotations``: FastAPI must evaluate the endpoint
# annotations, which refer to the auth dependency local to stats_endpoint.
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Response
from sqlalchemy import Engine, func, literal_column

from include.migration.values.canonical_sql import ServerSideHashing
from include.migration.values.checksums import MASK_64, ChunkStats, chunk_stats
from include.reference_remote.arrow_source import read_page
from include.reference_remote.queries import DataTypeQueries
from include.reference_remote.responses import json_response, parse_parameter, refusing_misfits

STREAM_ROWS = 5000
# Ranges up to this many rows are hashed from one COPY into Arrow (validation chunks: 2,000 by default).
COPY_STATS_ROWS = 20_000


def stats_endpoint(
    engine: Engine, queries_of: Callable[[str], DataTypeQueries], installation_of: Callable[..., str]
) -> Callable[..., Response]:
    """The ``GET /data-migration/{dataType}/stats`` endpoint; ``installation_of`` is the auth dependency."""
    Installation = Annotated[str, Depends(installation_of)]

    def stats(
        data_type: str,
        installation: Installation,
        after: Annotated[str | None, Query()] = None,
        up_to: Annotated[str | None, Query(alias="upTo")] = None,
    ) -> Response:
        """Row count and checksum (``docs/checksum.md``) of the rows with key in ``(after, upTo]``."""
        query = queries_of(data_type)
        lower, upper = parse_parameter("after", after, query.parse_key), parse_parameter("upTo", up_to, query.parse_key)
        return refusing_misfits(
            installation, lambda: json_response(range_stats(query, engine, installation, lower, upper).as_dict())
        )

    return stats


def range_stats(query: DataTypeQueries, engine: Engine, installation: str, after: Any, up_to: Any) -> ChunkStats:
    """Count and checksum of the installation's rows with key in ``(after, up_to]``.

    On PostgreSQL the database prints the canonical rows (and hashes and sums them when every
    column is printable); a bounded range of at most ``COPY_STATS_ROWS`` rows is read with one COPY
    into Arrow and hashed a column at a time; anything else streams through a server-side cursor.
    """
    postgres = engine.dialect.name == "postgresql"
    hashing = query.server_hashing if postgres else None
    if hashing is not None and (hashing.whole_row or up_to is None):
        return _range_stats_in_sql(query, hashing, engine, installation, after, up_to)
    if up_to is not None and postgres:
        # A validation chunk is small: read it at once, straight into Arrow, no Python object per
        # value. A range larger than COPY_STATS_ROWS goes the streaming way below, memory flat.
        with engine.connect() as conn:
            table = read_page(conn, query.key_range(installation, after, up_to, COPY_STATS_ROWS + 1), query.spec)
        if table.num_rows <= COPY_STATS_ROWS:
            return chunk_stats(query.hasher.hash_table(table))
        if hashing is not None:
            return _range_stats_in_sql(query, hashing, engine, installation, after, up_to)
    hash_rows = query.hasher.hash_rows
    with engine.connect() as conn:
        # Server-side cursor, fetched in batches: memory stays flat however big the range.
        streaming = conn.execution_options(stream_results=True, yield_per=STREAM_ROWS)
        result = streaming.execute(query.key_range(installation, after, up_to))
        return chunk_stats(h for batch in result.partitions() for h in hash_rows(batch))


def _range_stats_in_sql(
    query: DataTypeQueries, hashing: ServerSideHashing, engine: Engine, installation: str, after: Any, up_to: Any
) -> ChunkStats:
    """PostgreSQL prints (and, when it can, hashes and sums) the canonical rows itself."""
    rows = query.key_range(installation, after, up_to)
    with engine.connect() as conn:
        if hashing.whole_row:
            # The hex digits as a signed 64-bit integer: the sum modulo 2**64 is the same.
            signed = f"('x' || {hashing.expressions[0]})::bit(64)::bigint::numeric"
            total = rows.order_by(None).with_only_columns(func.count(), literal_column(f"coalesce(sum({signed}), 0)"))
            count, checksum = conn.execute(total).one()
            return ChunkStats(int(count), int(checksum) & MASK_64)
        streaming = conn.execution_options(stream_results=True, yield_per=STREAM_ROWS)
        result = streaming.execute(rows.with_only_columns(*(literal_column(e) for e in hashing.expressions)))
        return chunk_stats(h for batch in result.partitions() for h in hashing.hash_rows(batch, query.hasher))
