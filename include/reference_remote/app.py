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
  see ``include/migration/source/arrow_pages.py``)

Every request needs ``Authorization: Bearer <token>``; the token alone decides
the installation whose rows are read (``auth.py``). Every data page names that
installation (``"installation": "<id>"``) so that a client can refuse another
one's rows (``pages.py``; ``stats.py`` and ``hashes.py`` serve the validation
endpoints).

A source value that does not fit its configured column type is refused with a
422 naming the installation, data type, key and column (``value_fit.py``); a
source table (or column) the remote reads that does not exist is answered 503
naming it and the ``init`` command that creates the tables (``source_errors.py``).
"""

# No ``from __future__ import annotations``: FastAPI must evaluate the endpoint
# annotations, which refer to values local to create_app (the auth dependency).
import logging
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import select

from include.migration.configuration.config import DataTypeSpec
from include.migration.source.arrow_pages import ARROW_PAGES
from include.migration.source.capabilities import RANGE_STATS, ROW_HASHES
from include.reference_remote.arrow_source import warm_up
from include.reference_remote.auth import check_tokens, installation_dependency
from include.reference_remote.hashes import hashes_endpoint
from include.reference_remote.pages import page_endpoint
from include.reference_remote.queries import DataTypeQueries, data_type_queries
from include.reference_remote.remote_writes import REMOTE_WRITES, remote_writes_router
from include.reference_remote.source_errors import (
    SourceIncomplete,
    add_source_error_handlers,
    missing_tables_body,
)
from include.reference_remote.source_schema import (
    DEFAULT_STATUS,
    INSTALLATION_COLUMN,
    STATUSES,
    build_source_metadata,
    create_source_engine,
    missing_tables,
)
from include.reference_remote.stats import stats_endpoint
from include.reference_remote.status_updates import STATUS_UPDATES, status_update_router

log = logging.getLogger(__name__)

API_PREFIX = "/data-migration"
CAPABILITIES = (RANGE_STATS, ROW_HASHES, ARROW_PAGES, STATUS_UPDATES, REMOTE_WRITES)


def _check_capabilities(capabilities: Collection[str]) -> list[str]:
    if isinstance(capabilities, str):
        raise TypeError("capabilities must be a collection of names, not one string")
    unknown = sorted(set(capabilities) - set(CAPABILITIES))
    if unknown:
        raise ValueError(f"unknown capabilities {unknown}; known: {list(CAPABILITIES)}")
    return sorted(set(capabilities))


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
    installation_of = installation_dependency(check_tokens(tokens))
    schema = build_source_metadata(data_types)
    queries = {spec.name: data_type_queries(spec, schema.tables[spec.name]) for spec in data_types}
    engine = create_source_engine(source_url)
    status_table = schema.status_table
    source_tables = schema.metadata.sorted_tables

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
    add_source_error_handlers(app, engine, schema.tables, source_tables)

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
                raise SourceIncomplete(missing_tables_body(absent))
            value = conn.execute(
                select(status_table.c.status).where(status_table.c[INSTALLATION_COLUMN] == installation)
            ).scalar_one_or_none()
        value = DEFAULT_STATUS if value is None else value
        if value not in STATUSES:
            log.error("installation %s has an invalid status %r in the source", installation, value)
            raise HTTPException(500, "invalid migration status in the source")
        return {"status": value, "installation": installation, "dataTypes": names, "capabilities": enabled}

    # Unregistered, a disabled capability's path is a plain 404, as on a remote without it.
    if RANGE_STATS in enabled:
        stats = stats_endpoint(engine, queries_of, installation_of)
        app.add_api_route(f"{API_PREFIX}/{{data_type}}/stats", stats, methods=["GET"])
    if ROW_HASHES in enabled:
        hashes = hashes_endpoint(engine, queries_of, installation_of, max_limit=max_limit)
        app.add_api_route(f"{API_PREFIX}/{{data_type}}/hashes", hashes, methods=["GET"])
    page = page_endpoint(engine, queries_of, installation_of, max_limit=max_limit, arrow_enabled=ARROW_PAGES in enabled)
    app.add_api_route(f"{API_PREFIX}/{{data_type}}/", page, methods=["GET"])
    app.add_api_route(f"{API_PREFIX}/{{data_type}}", page, methods=["GET"], include_in_schema=False)
    return app
