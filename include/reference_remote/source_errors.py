"""What the remote answers when the source fails: a 503 that names the missing table or column, or says retry."""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Connection, Engine, Table
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from include.reference_remote.source_schema import missing_columns, missing_tables

log = logging.getLogger(__name__)

_RETRY_AFTER_SECONDS = "5"
INIT_COMMAND = "python -m include.reference_remote init --source-url URL --config YAML"


class SourceIncomplete(Exception):
    """The source lacks a table or column the remote reads; ``body`` is the 503 that says which."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body["detail"])
        self.body = body


def missing_tables_body(tables: Sequence[str]) -> dict[str, Any]:
    """The 503 body for source tables that do not exist, with the command that creates them."""
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
        "detail": f"{gaps}; add them to the table (`python -m include.reference_remote init` creates missing tables only)",
        "error": "source column missing",
        "missingColumns": {table: list(columns) for table, columns in lacking.items()},
    }


def source_gaps(conn: Connection, tables: Sequence[Table]) -> dict[str, Any] | None:
    """The body of the 503 for what of ``tables`` the source lacks; None when it has every table and column."""
    absent = missing_tables(conn, tables)
    if absent:
        return missing_tables_body(absent)
    lacking = {table.name: columns for table in tables if (columns := missing_columns(conn, table))}
    return _missing_columns_body(lacking) if lacking else None


def add_source_error_handlers(
    app: FastAPI, engine: Engine, tables: Mapping[str, Table], source_tables: Sequence[Table]
) -> None:
    """Answer :class:`SourceIncomplete` and database errors with a 503 (``tables``: each data type's table)."""

    def tables_needed(request: Request) -> Sequence[Table]:
        data_type = request.path_params.get("data_type")
        return [tables[data_type]] if data_type in tables else source_tables

    def diagnose(request: Request) -> dict[str, Any] | None:
        """What the source lacks of the tables the request reads, as a 503 body; None when nothing (or unknown)."""
        try:
            with engine.connect() as conn:
                return source_gaps(conn, tables_needed(request))
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
