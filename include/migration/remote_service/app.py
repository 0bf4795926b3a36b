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

A source value that does not fit its configured column type is refused with a
422 naming the installation, data type, key and column (``value_fit.py``); a
source table (or column) the remote reads that does not exist is answered 503
naming it and the ``init`` command that creates the tables.
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
from sqlalchemy import Connection, Engine, Select, Table, func, literal_column, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from include.migration.source.capabilities import RANGE_STATS, ROW_HASHES
from include.migration.arrow_pages import ARROW_MEDIA_TYPE, ARROW_PAGES, encode_page
from include.migration.values.canonical_sql import ServerSideHashing
from include.migration.values.checksums import MASK_64, ChunkStats, chunk_stats
from include.migration.config import DataTypeSpec
from include.migration.remote_service.arrow_source import read_page, warm_up
from include.migration.remote_service.encoding import EncodingError, timestamp_text
from include.migration.remote_service.queries import (
    DataTypeQueries,
    InvalidParameter,
    UpdatedAtCursor,
    data_type_queries,
    parse_timestamp,
)
from include.migration.remote_service.remote_writes import REMOTE_WRITES, remote_writes_router
from include.migration.remote_service.status_updates import STATUS_UPDATES, status_update_router
from include.migration.remote_service.source_schema import (
    DEFAULT_STATUS,
    INSTALLATION_COLUMN,
    STATUSES,
    build_source_metadata,
    create_source_engine,
    missing_columns,
    missing_tables,
)
from include.migration.remote_service.value_fit import (
    MisfitError,
    check_encoded,
    check_table,
    find_misfit,
    refusal_body,
)

log = logging.getLogger(__name__)

API_PREFIX = "/data-migration"
DEFAULT_LIMIT = 500
DEFAULT_HASHES_LIMIT = 1000
CAPABILITIES = (RANGE_STATS, ROW_HASHES, ARROW_PAGES, STATUS_UPDATES, REMOTE_WRITES)
STREAM_ROWS = 5000
# Ranges up to this many rows are hashed from one COPY into Arrow (validation chunks: 2,000 by default).
COPY_STATS_ROWS = 20_000
_RETRY_AFTER_SECONDS = "5"
INIT_COMMAND = "python -m include.migration.remote_service init --source-url URL --config YAML"


class SourceIncomplete(Exception):
    """The source lacks a table or column the remote reads; ``body`` is the 503 that says which."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body["detail"])
        self.body = body


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


def _checked_table(conn: Connection, statement: Select[Any], query: DataTypeQueries) -> Any:
    """The Arrow page of ``statement``; :class:`MisfitError` when a value does not fit its column."""
    table = read_page(conn, statement, query.spec)
    check_table(query.spec, table)
    return table


def _checked_rows(conn: Connection, statement: Select[Any], query: DataTypeQueries) -> tuple[Sequence[Any], list[Any]]:
    """The driver's rows of ``statement`` and their JSON page form; :class:`MisfitError` when a value does not fit."""
    rows = conn.execute(statement).all()
    data = _encoded(query, rows)
    check_encoded(query.spec, data)
    return rows, data


def _key_page(
    query: DataTypeQueries, engine: Engine, installation: str, after: Any, limit: int, arrow: bool
) -> Response:
    statement = query.key_range(installation, after, None, limit)
    with engine.connect() as conn:
        if arrow:
            table = _checked_table(conn, statement, query)
            after_id = _wire_key(query, _last_key(query, table)) if table.num_rows == limit else None
            return _arrow(table, installation, {"afterId": after_id})
        rows, data = _checked_rows(conn, statement, query)
    after_id = _wire_key(query, query.spec.key_of(rows[-1])) if len(rows) == limit else None
    return _json(_page_body(query, installation, data, {"afterId": after_id}))


def _last_key(query: DataTypeQueries, table: Any) -> Any:
    """The key of an Arrow page's last row."""
    return query.spec.key_of({i: table.column(i)[-1].as_py() for i in query.spec.key_indexes})


def _wire_key(query: DataTypeQueries, key: Any) -> Any:
    """A key as JSON carries it: the value, or for a composite key an array of its values."""
    return list(key) if query.spec.composite_key else key


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
            table = _checked_table(conn, statement, query)
            if table.num_rows == limit:
                pagination = {
                    "afterId": table.column(query.spec.key_index)[-1].as_py(),
                    "afterUpdatedAt": timestamp_text(table.column(query.updated_at_index)[-1].as_py()),
                }
            return _arrow(table, installation, pagination)
        rows, data = _checked_rows(conn, statement, query)
    if len(rows) == limit:
        last = rows[-1]
        pagination = {
            "afterId": last[query.spec.key_index],
            "afterUpdatedAt": timestamp_text(last[query.updated_at_index]),
        }
    return _json(_page_body(query, installation, data, pagination))


def _page_body(
    query: DataTypeQueries, installation: str, data: list[Any], pagination: dict[str, Any]
) -> dict[str, Any]:
    # ``installation`` lets the client refuse a page that belongs to someone else.
    return {
        "installation": installation,
        "headers": query.spec.column_names,
        "data": data,
        "pagination": pagination,
    }


def _encoded(query: DataTypeQueries, rows: Sequence[Any]) -> list[list[Any]]:
    encode = query.encode_row
    try:
        return [encode(row) for row in rows]
    except EncodingError:
        misfit = find_misfit(query.spec, rows)
        if misfit is None:
            raise
        raise MisfitError(query.spec.name, misfit) from None


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
    keys = [_wire_key(query, query.spec.key_of(row)) for row in rows]
    hashes = [str(h) for h in query.hasher.hash_rows(rows)]
    return {
        "keys": keys,
        "hashes": hashes,
        "pagination": {"afterId": keys[-1] if len(rows) == limit else None},
    }


def _refusing_misfits(installation: str, answer: Callable[[], Response]) -> Response:
    """``answer()``, or the 422 that refuses the value it found not to fit its column."""
    try:
        return answer()
    except MisfitError as exc:
        return _refused(installation, exc)


def _refused(installation: str, error: MisfitError) -> Response:
    """The 422 that refuses a value that does not fit its column, naming installation, data type, key and column."""
    body = refusal_body(installation, error)
    # Key and column, not the value: the log is no place for source data.
    log.warning(
        "installation %s, data type %s, key %r, column %s (%s): a value that does not fit its type, refused",
        installation, body["dataType"], body["key"], body["column"], body["columnType"],
    )
    return Response(content=msgspec.json.encode(body), status_code=422, media_type="application/json")


def _missing_tables_body(tables: Sequence[str]) -> dict[str, Any]:
    # Names unquoted: the client quotes the body in its error, where quotes would come back escaped.
    names = ", ".join(tables)
    noun = f"source tables {names} do not exist" if len(tables) > 1 else f"source table {names} does not exist"
    return {
        "detail": f"{noun}; create the source tables with `{INIT_COMMAND}`",
        "error": "source table missing",
        "missingTables": list(tables),
    }


def _missing_columns_body(lacking: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    gaps = "; ".join(f"source table {table} lacks column(s) {', '.join(columns)}" for table, columns in lacking.items())
    return {
        "detail": f"{gaps}; add them to the table (`remote_service init` creates missing tables only)",
        "error": "source column missing",
        "missingColumns": {table: list(columns) for table, columns in lacking.items()},
    }


def _source_gaps(conn: Connection, tables: Sequence[Table]) -> dict[str, Any] | None:
    """The body of the 503 for what of ``tables`` the source lacks; None when it has every table and column."""
    absent = missing_tables(conn, tables)
    if absent:
        return _missing_tables_body(absent)
    lacking = {table.name: columns for table in tables if (columns := missing_columns(conn, table))}
    return _missing_columns_body(lacking) if lacking else None


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
    source_tables = schema.metadata.sorted_tables
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

    def tables_needed(request: Request) -> Sequence[Table]:
        data_type = request.path_params.get("data_type")
        return [schema.tables[data_type]] if data_type in schema.tables else source_tables

    def diagnose(request: Request) -> dict[str, Any] | None:
        """What the source lacks of the tables the request reads, as a 503 body; None when nothing (or unknown)."""
        try:
            with engine.connect() as conn:
                return _source_gaps(conn, tables_needed(request))
        except SQLAlchemyError:
            return None  # the source itself is out of reach: the plain 503 says as much

    @app.exception_handler(SourceIncomplete)
    def _source_incomplete(request: Request, exc: SourceIncomplete) -> JSONResponse:
        log.error("source incomplete on %s: %s", request.url.path, exc)
        # No Retry-After: a missing table is not a moment's trouble; the client's own backoff is enough.
        return JSONResponse(exc.body, status_code=503)

    @app.exception_handler(DBAPIError)
    def _database_unavailable(request: Request, exc: DBAPIError) -> JSONResponse:
        # The driver message may hold SQL and data: log it, do not send it.
        log.error("source database error on %s: %s", request.url.path, exc)
        # A lost connection says nothing about tables; anything else may be one that is missing.
        gaps = None if exc.connection_invalidated else diagnose(request)
        if gaps is not None:
            return _source_incomplete(request, SourceIncomplete(gaps))
        return JSONResponse(
            {"detail": "source database error"}, status_code=503, headers={"Retry-After": _RETRY_AFTER_SECONDS}
        )

    if STATUS_UPDATES in enabled:
        app.include_router(status_update_router(engine, status_table, installation_of, API_PREFIX))
    if REMOTE_WRITES in enabled:
        specs = {spec.name: spec for spec in data_types}
        app.include_router(remote_writes_router(engine, specs, schema.tables, installation_of, API_PREFIX))

    @app.get(f"{API_PREFIX}/status")
    def status(installation: Installation) -> dict[str, Any]:
        """The installation's migration status, the data types it can fetch and the optional endpoints.

        503 naming the tables when the source lacks any table the remote reads.
        """
        with engine.connect() as conn:
            absent = missing_tables(conn, source_tables)
            if absent:
                raise SourceIncomplete(_missing_tables_body(absent))
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
            key = _parse("after", after, query.parse_key)
            return _refusing_misfits(installation, lambda: _key_page(query, engine, installation, key, limit, arrow))
        cursor = _updated_at_cursor(query, after, after_updated_at)
        bound = _parse("until", until, parse_timestamp)
        return _refusing_misfits(
            installation, lambda: _updated_at_page(query, engine, installation, cursor, bound, limit, arrow)
        )

    def stats(
        data_type: str,
        installation: Installation,
        after: Annotated[str | None, Query()] = None,
        up_to: Annotated[str | None, Query(alias="upTo")] = None,
    ) -> Response:
        """Row count and checksum (``docs/checksum.md``) of the rows with key in ``(after, upTo]``."""
        query = queries_of(data_type)
        lower, upper = _parse("after", after, query.parse_key), _parse("upTo", up_to, query.parse_key)
        return _refusing_misfits(
            installation, lambda: _json(range_stats(query, engine, installation, lower, upper).as_dict())
        )

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
        return _refusing_misfits(
            installation, lambda: _json(row_hashes(query, engine, installation, lower, upper, limit))
        )

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
