"""The reference remote: a FastAPI app serving the migration API over a SQL source.

Endpoints (see "The remote (source) API contract" in the design notes):

- ``GET /data-migration/status``
- ``GET /data-migration/{dataType}/?limit=&after=``

Every request needs ``Authorization: Bearer <token>``; the token alone decides
the installation whose rows are read.
"""

# No ``from __future__ import annotations``: FastAPI must evaluate the endpoint
# annotations, which refer to values local to create_app (max_limit, the auth dependency).
import hmac
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Select, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement

from include.migration.config import DataTypeSpec
from include.migration.remote_service.encoding import RowEncoder, row_encoder
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
_INT64 = (-(2**63), 2**63 - 1)
_INTEGER = re.compile(r"-?[0-9]{1,19}")
_RETRY_AFTER_SECONDS = "5"


class InvalidCursor(ValueError):
    """The ``after`` parameter does not parse as the data type's key."""


def _int_cursor(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise InvalidCursor(f"after must be an integer key, got {text!r}")
    value = int(text)
    if not _INT64[0] <= value <= _INT64[1]:
        raise InvalidCursor(f"after {text!r} is outside the 64-bit key range")
    return value


def _str_cursor(text: str) -> str:
    return text


@dataclass(frozen=True)
class _PageQuery:
    """Everything precomputed for one data type's page endpoint."""

    spec: DataTypeSpec
    base: Select[Any]
    installation_column: ColumnElement[Any]
    key: ColumnElement[Any]
    parse_cursor: Callable[[str], Any]
    encode_row: RowEncoder

    def statement(self, installation: str, after: Any, limit: int) -> Select[Any]:
        stmt = self.base.where(self.installation_column == installation)
        if after is not None:
            stmt = stmt.where(self.key > after)
        return stmt.order_by(self.key).limit(limit)


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
) -> FastAPI:
    """Build the reference remote over the source database at ``source_url``.

    ``tokens`` maps each bearer token to the one installation it may read.
    ``max_limit`` caps the ``limit`` query parameter.
    """
    if max_limit < 1:
        raise ValueError("max_limit must be at least 1")
    names = [d.name for d in data_types]
    if "status" in names:
        raise ValueError("data type name 'status' collides with the status endpoint")
    token_items = _check_tokens(tokens)
    schema = build_source_metadata(data_types)
    engine = create_source_engine(source_url)
    status_table = schema.status_table
    default_limit = min(DEFAULT_LIMIT, max_limit)

    queries: dict[str, _PageQuery] = {}
    for spec in data_types:
        table = schema.tables[spec.name]
        key_base = spec.key_column.type.base
        queries[spec.name] = _PageQuery(
            spec=spec,
            base=select(*(table.c[name] for name in spec.column_names)),
            installation_column=table.c[INSTALLATION_COLUMN],
            key=table.c[spec.primary_key],
            parse_cursor=_int_cursor if key_base in ("bigint", "int") else _str_cursor,
            encode_row=row_encoder(spec),
        )

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

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
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
        """The installation's migration status and the data types it can fetch."""
        with engine.connect() as conn:
            value = conn.execute(
                select(status_table.c.status).where(status_table.c[INSTALLATION_COLUMN] == installation)
            ).scalar_one_or_none()
        value = DEFAULT_STATUS if value is None else value
        if value not in STATUSES:
            log.error("installation %s has an invalid status %r in the source", installation, value)
            raise HTTPException(500, "invalid migration status in the source")
        return {"status": value, "installation": installation, "dataTypes": names, "capabilities": []}

    def page(
        data_type: str,
        installation: Installation,
        limit: Annotated[int, Query(ge=1, le=max_limit)] = default_limit,
        after: Annotated[str | None, Query()] = None,
    ) -> Response:
        """One page of ``data_type`` rows of the installation, in key order, after the cursor."""
        query = queries.get(data_type)
        if query is None:
            raise HTTPException(404, f"unknown data type {data_type!r}")
        try:
            cursor = None if after is None else query.parse_cursor(after)
        except InvalidCursor as exc:
            raise HTTPException(422, str(exc)) from None
        with engine.connect() as conn:
            rows = conn.execute(query.statement(installation, cursor, limit)).all()
        encode = query.encode_row
        data = [encode(row) for row in rows]
        after_id = rows[-1][query.spec.key_index] if len(rows) == limit else None
        body = {"headers": query.spec.column_names, "data": data, "pagination": {"afterId": after_id}}
        return Response(content=msgspec.json.encode(body), media_type="application/json")

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
