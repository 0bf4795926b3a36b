"""The reference remote: a FastAPI app serving the migration API over a SQL source.

Endpoints (see "The remote (source) API contract" in the design notes and
``docs/checksum.md``):

- ``GET /data-migration/status``
- ``GET /data-migration/{dataType}/?limit=&after=`` (key-mode data types)
- ``GET /data-migration/{dataType}/?limit=&after=&afterUpdatedAt=&until=`` (updated_at-mode data types;
  ``order=key`` pages them by key instead)
- ``GET /data-migration/{dataType}/stats?after=&upTo=`` (capability ``range-stats``)
- ``GET /data-migration/{dataType}/hashes?after=&upTo=&limit=`` (capability ``row-hashes``)
- ``format=arrow`` on a data page: the page as an Arrow IPC stream (capability ``arrow-pages``,
  see ``include/migration/arrow_pages.py``)

Every request needs ``Authorization: Bearer <token>``; the token alone decides
the installation whose rows are read. Every data page names that installation
(``"installation": "<id>"``) so that a client can refuse another one's rows.
"""

# No ``from __future__ import annotations``: FastAPI must evaluate the endpoint
# annotations, which refer to values local to create_app (max_limit, the auth dependency).
import datetime as dt
import hmac
import logging
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import msgspec
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, func, literal_column, select
from sqlalchemy.exc import DBAPIError

from include.migration.arrow_pages import ARROW_MEDIA_TYPE, ARROW_PAGES, encode_page
from include.migration.canonical_sql import ServerSideHashing
from include.migration.checksum import MASK_64, ChunkStats, chunk_stats
from include.migration.config import DataTypeSpec
from include.migration.remote_service.arrow_source import read_page, warm_up
from include.migration.remote_service.encoding import timestamp_text
from include.migration.remote_service.queries import (
    DataTypeQueries,
    InvalidParameter,
    UpdatedAtCursor,
    data_type_queries,
    parse_timestamp,
)
from include.migration.remote_service.source_schema import (
    DEFAULT_STATUS,
    INSTALLATION_COLUMN,
    STATUSES,
    build_source_metadata,
    create_source_engine,
)

log = logging.getLogger(__name__)

API_PREFIX = "/data-migration"
DEFAULT_LIMIT = 500
DEFAULT_HASHES_LIMIT = 1000
RANGE_STATS = "range-stats"
ROW_HASHES = "row-hashes"
CAPABILITIES = (RANGE_STATS, ROW_HASHES, ARROW_PAGES)
STREAM_ROWS = 5000
# Ranges up to this many rows are hashed from one COPY into Arrow (validation chunks: 2,000 by default).
COPY_STATS_ROWS = 20_000
_RETRY_AFTER_SECONDS = "5"


def _arrow(table: Any, installation: str, pagination: dict[str, Any]) -> Response:
    return Response(content=encode_page(table, installation, pagination), media_type=ARROW_MEDIA_TYPE)


def _json(body: Any) -> Response:
    # msgspec keeps integer keys above 2**53 exact and is fast on big pages.
    return Response(content=msgspec.json.encode(body), media_type="application/json")


def _parse(name: str, text: str | None, parse: Callable[[str], Any]) -> Any:
    """``parse(text)``, None for a missing parameter; a parse error is a 422 naming the parameter."""
    if text is None:
        return None
    try:
        return parse(text)
    except InvalidParameter as exc:
        raise HTTPException(422, f"{name} {exc}") from None


def _updated_at_cursor(
    query: DataTypeQueries, after: str | None, after_updated_at: str | None
) -> UpdatedAtCursor | None:
    if (after is None) != (after_updated_at is None):
        raise HTTPException(422, "after and afterUpdatedAt go together: give both or neither")
    if after is None:
        return None
    return UpdatedAtCursor(
        updated_at=_parse("afterUpdatedAt", after_updated_at, parse_timestamp),
        key=_parse("after", after, query.parse_key),
    )


def _key_page(
    query: DataTypeQueries, engine: Engine, installation: str, after: Any, limit: int, arrow: bool
) -> Response:
    statement = query.key_range(installation, after, None, limit)
    with engine.connect() as conn:
        if arrow:
            table = read_page(conn, statement, query.spec)
            after_id = table.column(query.spec.key_index)[-1].as_py() if table.num_rows == limit else None
            return _arrow(table, installation, {"afterId": after_id})
        rows = conn.execute(statement).all()
    after_id = rows[-1][query.spec.key_index] if len(rows) == limit else None
    return _json(_page_body(query, installation, rows, {"afterId": after_id}))


def _updated_at_page(
    query: DataTypeQueries,
    engine: Engine,
    installation: str,
    cursor: UpdatedAtCursor | None,
    until: dt.datetime | None,
    limit: int,
    arrow: bool,
) -> Response:
    statement = query.updated_at_page(installation, cursor, until, limit)
    pagination: dict[str, Any] = {"afterId": None, "afterUpdatedAt": None}
    with engine.connect() as conn:
        if arrow:
            table = read_page(conn, statement, query.spec)
            if table.num_rows == limit:
                pagination = {
                    "afterId": table.column(query.spec.key_index)[-1].as_py(),
                    "afterUpdatedAt": timestamp_text(table.column(query.updated_at_index)[-1].as_py()),
                }
            return _arrow(table, installation, pagination)
        rows = conn.execute(statement).all()
    if len(rows) == limit:
        last = rows[-1]
        pagination = {
            "afterId": last[query.spec.key_index],
            "afterUpdatedAt": timestamp_text(last[query.updated_at_index]),
        }
    return _json(_page_body(query, installation, rows, pagination))


def _page_body(
    query: DataTypeQueries, installation: str, rows: Sequence[Any], pagination: dict[str, Any]
) -> dict[str, Any]:
    encode = query.encode_row
    # ``installation`` lets the client refuse a page that belongs to someone else.
    return {
        "installation": installation,
        "headers": query.spec.column_names,
        "data": [encode(row) for row in rows],
        "pagination": pagination,
    }


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


def row_hashes(
    query: DataTypeQueries, engine: Engine, installation: str, after: Any, up_to: Any, limit: int
) -> dict[str, Any]:
    """Up to ``limit`` keys and row hashes in ``(after, up_to]``, in key order, with the next cursor."""
    with engine.connect() as conn:
        rows = conn.execute(query.key_range(installation, after, up_to, limit)).all()
    key_index = query.spec.key_index
    keys = [row[key_index] for row in rows]
    hashes = [str(h) for h in query.hasher.hash_rows(rows)]
    return {
        "keys": keys,
        "hashes": hashes,
        "pagination": {"afterId": keys[-1] if len(rows) == limit else None},
    }


def _check_capabilities(capabilities: Collection[str]) -> list[str]:
    if isinstance(capabilities, str):
        raise TypeError("capabilities must be a collection of names, not one string")
    unknown = sorted(set(capabilities) - set(CAPABILITIES))
    if unknown:
        raise ValueError(f"unknown capabilities {unknown}; known: {list(CAPABILITIES)}")
    return sorted(set(capabilities))


def _check_tokens(tokens: Mapping[str, str]) -> tuple[tuple[bytes, str], ...]:
    checked = []
    for token, installation in tokens.items():
        if not isinstance(token, str) or not token.strip():
            raise ValueError("tokens: every token must be a non-empty string")
        if not isinstance(installation, str) or not installation:
            raise ValueError("tokens: every token must map to an installation id")
        checked.append((token.encode("utf-8"), installation))
    return tuple(checked)


def create_app(
    source_url: str,
    data_types: Sequence[DataTypeSpec],
    tokens: Mapping[str, str],
    *,
    max_limit: int = 10_000,
    capabilities: Collection[str] = CAPABILITIES,
) -> FastAPI:
    """Build the reference remote over the source database at ``source_url``.

    ``tokens`` maps each bearer token to the one installation it may read.
    ``max_limit`` caps the ``limit`` query parameters. ``capabilities`` picks
    the optional endpoints (``range-stats``, ``row-hashes``); a disabled one
    answers 404, as on a remote that never had it.
    """
    if max_limit < 1:
        raise ValueError("max_limit must be at least 1")
    names = [d.name for d in data_types]
    if "status" in names:
        raise ValueError("data type name 'status' collides with the status endpoint")
    enabled = _check_capabilities(capabilities)
    token_items = _check_tokens(tokens)
    schema = build_source_metadata(data_types)
    queries = {spec.name: data_type_queries(spec, schema.tables[spec.name]) for spec in data_types}
    engine = create_source_engine(source_url)
    status_table = schema.status_table
    default_limit = min(DEFAULT_LIMIT, max_limit)
    default_hashes_limit = min(DEFAULT_HASHES_LIMIT, max_limit)

    def installation_of(
        authorization: Annotated[str | None, Header()] = None,
        x_installation_id: Annotated[str | None, Header()] = None,
    ) -> str:
        presented = _bearer_token(authorization)
        if presented is None:
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        presented_bytes = presented.encode("utf-8")
        installation: str | None = None
        # Compare against every token, without stopping at a match, so timing
        # says nothing about which or how many tokens exist.
        for token, owner in token_items:
            if hmac.compare_digest(token, presented_bytes):
                installation = owner
        if installation is None:
            raise HTTPException(401, "invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
        if x_installation_id is not None and x_installation_id != installation:
            raise HTTPException(403, "X-Installation-Id does not match the installation of the token")
        return installation

    Installation = Annotated[str, Depends(installation_of)]

    def queries_of(data_type: str) -> DataTypeQueries:
        query = queries.get(data_type)
        if query is None:
            raise HTTPException(404, f"unknown data type {data_type!r}")
        return query

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if ARROW_PAGES in enabled:
            warm_up()  # pyarrow's first conversion imports pandas (~1 s): at start-up, not in the first request
        yield
        engine.dispose()

    app = FastAPI(title="Data migration reference remote", lifespan=lifespan)
    app.state.engine = engine
    app.state.source_schema = schema

    @app.exception_handler(DBAPIError)
    def _database_unavailable(request: Request, exc: DBAPIError) -> JSONResponse:
        # The driver message may hold SQL and data: log it, do not send it.
        log.error("source database error on %s: %s", request.url.path, exc)
        return JSONResponse(
            {"detail": "source database error"}, status_code=503, headers={"Retry-After": _RETRY_AFTER_SECONDS}
        )

    @app.get(f"{API_PREFIX}/status")
    def status(installation: Installation) -> dict[str, Any]:
        """The installation's migration status, the data types it can fetch and the optional endpoints."""
        with engine.connect() as conn:
            value = conn.execute(
                select(status_table.c.status).where(status_table.c[INSTALLATION_COLUMN] == installation)
            ).scalar_one_or_none()
        value = DEFAULT_STATUS if value is None else value
        if value not in STATUSES:
            log.error("installation %s has an invalid status %r in the source", installation, value)
            raise HTTPException(500, "invalid migration status in the source")
        return {"status": value, "installation": installation, "dataTypes": names, "capabilities": enabled}

    def page(
        data_type: str,
        installation: Installation,
        limit: Annotated[int, Query(ge=1, le=max_limit)] = default_limit,
        after: Annotated[str | None, Query()] = None,
        after_updated_at: Annotated[str | None, Query(alias="afterUpdatedAt")] = None,
        until: Annotated[str | None, Query()] = None,
        order: Annotated[Literal["key", "updated_at"] | None, Query()] = None,
        page_format: Annotated[Literal["json", "arrow"], Query(alias="format")] = "json",
    ) -> Response:
        """One page of the installation's ``data_type`` rows after the cursor.

        Key-mode data types page in key order; updated_at-mode ones in
        ``(updated_at, key)`` order, optionally only up to ``until``, or in key
        order with ``order=key`` (validation re-reads them by key range).
        ``format=arrow`` answers with an Arrow page when the ``arrow-pages``
        capability is on, and with a JSON page otherwise.
        """
        query = queries_of(data_type)
        arrow = page_format == "arrow" and ARROW_PAGES in enabled
        if order == "updated_at" and not query.by_updated_at:
            raise HTTPException(422, f"data type {data_type!r} has no updated_at column to order by")
        if not query.by_updated_at or order == "key":
            if after_updated_at is not None or until is not None:
                raise HTTPException(422, f"paging {data_type!r} by key: afterUpdatedAt and until do not apply")
            return _key_page(query, engine, installation, _parse("after", after, query.parse_key), limit, arrow)
        cursor = _updated_at_cursor(query, after, after_updated_at)
        bound = _parse("until", until, parse_timestamp)
        return _updated_at_page(query, engine, installation, cursor, bound, limit, arrow)

    def stats(
        data_type: str,
        installation: Installation,
        after: Annotated[str | None, Query()] = None,
        up_to: Annotated[str | None, Query(alias="upTo")] = None,
    ) -> dict[str, Any]:
        """Row count and checksum (``docs/checksum.md``) of the rows with key in ``(after, upTo]``."""
        query = queries_of(data_type)
        lower, upper = _parse("after", after, query.parse_key), _parse("upTo", up_to, query.parse_key)
        return range_stats(query, engine, installation, lower, upper).as_dict()

    def hashes(
        data_type: str,
        installation: Installation,
        after: Annotated[str | None, Query()] = None,
        up_to: Annotated[str | None, Query(alias="upTo")] = None,
        limit: Annotated[int, Query(ge=1, le=max_limit)] = default_hashes_limit,
    ) -> Response:
        """Keys and row hashes of up to ``limit`` rows with key in ``(after, upTo]``, in key order."""
        query = queries_of(data_type)
        lower, upper = _parse("after", after, query.parse_key), _parse("upTo", up_to, query.parse_key)
        return _json(row_hashes(query, engine, installation, lower, upper, limit))

    # Unregistered, a disabled capability's path is a plain 404, as on a remote without it.
    if RANGE_STATS in enabled:
        app.add_api_route(f"{API_PREFIX}/{{data_type}}/stats", stats, methods=["GET"])
    if ROW_HASHES in enabled:
        app.add_api_route(f"{API_PREFIX}/{{data_type}}/hashes", hashes, methods=["GET"])
    app.add_api_route(f"{API_PREFIX}/{{data_type}}/", page, methods=["GET"])
    app.add_api_route(f"{API_PREFIX}/{{data_type}}", page, methods=["GET"], include_in_schema=False)
    return app


def _bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
