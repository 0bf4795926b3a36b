"""Capability ``row-hashes``: the keys and row hashes of a key range, in key order, a page at a time."""

# No ``from __future__ import annotations``: FastAPI must evaluate the endpoint
# annotations, which refer to values local to hashes_endpoint (max_limit, the auth dependency).
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Response
from sqlalchemy import Engine

from include.reference_remote.queries import DataTypeQueries
from include.reference_remote.responses import json_response, parse_parameter, refusing_misfits, wire_key

DEFAULT_HASHES_LIMIT = 1000


def hashes_endpoint(
    engine: Engine,
    queries_of: Callable[[str], DataTypeQueries],
    installation_of: Callable[..., str],
    *,
    max_limit: int,
) -> Callable[..., Response]:
    """The ``GET /data-migration/{dataType}/hashes`` endpoint; ``installation_of`` is the auth dependency."""
    Installation = Annotated[str, Depends(installation_of)]
    default_hashes_limit = min(DEFAULT_HASHES_LIMIT, max_limit)

    def hashes(
        data_type: str,
        installation: Installation,
        after: Annotated[str | None, Query()] = None,
        up_to: Annotated[str | None, Query(alias="upTo")] = None,
        limit: Annotated[int, Query(ge=1, le=max_limit)] = default_hashes_limit,
    ) -> Response:
        """Keys and row hashes of up to ``limit`` rows with key in ``(after, upTo]``, in key order."""
        query = queries_of(data_type)
        lower, upper = parse_parameter("after", after, query.parse_key), parse_parameter("upTo", up_to, query.parse_key)
        return refusing_misfits(
            installation, lambda: json_response(row_hashes(query, engine, installation, lower, upper, limit))
        )

    return hashes


def row_hashes(
    query: DataTypeQueries, engine: Engine, installation: str, after: Any, up_to: Any, limit: int
) -> dict[str, Any]:
    """Up to ``limit`` keys and row hashes in ``(after, up_to]``, in key order, with the next cursor."""
    with engine.connect() as conn:
        rows = conn.execute(query.key_range(installation, after, up_to, limit)).all()
    keys = [wire_key(query, query.spec.key_of(row)) for row in rows]
    hashes = [str(h) for h in query.hasher.hash_rows(rows)]
    return {
        "keys": keys,
        "hashes": hashes,
        "pagination": {"afterId": keys[-1] if len(rows) == limit else None},
    }
