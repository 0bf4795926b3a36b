"""Capability ``remote-writes``: rows sent back to the remote, for a rollback by reverse sync.

``POST /data-migration/{dataType}/rows`` takes a batch in the data pages' own
form, ``{"headers": [...], "data": [[...], ...], "deletes": [<key>, ...]}``:
every row is checked against its declared column types exactly as the client
checks pages (422 naming installation, data type, key and column otherwise)
and upserted by primary key into the token's installation; every key in
``deletes`` is deleted there. A batch is bounded (``MAX_WRITE_ROWS`` rows and
keys, ``MAX_WRITE_BYTES`` bytes: 413 beyond) and written in one transaction,
so a retried batch changes nothing twice. A body that names another
installation is refused (403) and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Table, delete, tuple_
from sqlalchemy.engine import Connection, Engine

from include.migration.configuration.config import DataTypeSpec
from include.migration.source.capabilities import REMOTE_WRITES  # noqa: F401 - the name app.py announces
from include.migration.values.errors import ConversionError, HeaderMismatchError
from include.migration.values.pages import PageConverter, table_rows
from include.reference_remote.source_schema import INSTALLATION_COLUMN

MAX_WRITE_ROWS = 5_000
MAX_WRITE_BYTES = 8 * 1024 * 1024


class RowsWrite(msgspec.Struct, forbid_unknown_fields=True):
    """The body of ``POST /data-migration/{dataType}/rows``."""

    headers: list[str]
    data: list[list[Any]] = []
    deletes: list[Any] = []
    installation: str | None = None


def _upsert(conn: Connection, table: Table, spec: DataTypeSpec, installation: str, rows: list[tuple[Any, ...]]) -> int:
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    json_columns = {c.name for c in spec.columns if c.type.base == "json"}
    records = [
        {INSTALLATION_COLUMN: installation,
         **{name: (json.loads(value) if name in json_columns and value is not None else value)
            for name, value in zip(spec.column_names, row)}}
        for row in rows
    ]
    statement = insert(table)
    updates = {c: statement.excluded[c] for c in spec.column_names if c not in spec.key_names}
    statement = statement.on_conflict_do_update(index_elements=[INSTALLATION_COLUMN, *spec.key_names], set_=updates)
    conn.execute(statement, records)
    return len(records)


def remote_writes_router(
    engine: Engine,
    specs: dict[str, DataTypeSpec],
    tables: dict[str, Table],
    installation_of: Callable[..., str],
    api_prefix: str,
) -> APIRouter:
    """The write endpoint of every data type, scoped by the token like every read."""
    router = APIRouter()

    @router.post(f"{api_prefix}/{{data_type}}/rows")
    async def write_rows(data_type: str, request: Request, installation: str = Depends(installation_of)) -> dict[str, Any]:
        """Upsert ``data`` and delete ``deletes`` in the token's installation, all or nothing."""
        spec = specs.get(data_type)
        if spec is None:
            raise HTTPException(404, f"unknown data type {data_type!r}")
        declared = int(request.headers.get("content-length") or 0)
        if declared > MAX_WRITE_BYTES:
            raise HTTPException(413, f"a batch is at most {MAX_WRITE_BYTES} bytes; send smaller batches")
        raw = await request.body()
        if len(raw) > MAX_WRITE_BYTES:
            raise HTTPException(413, f"a batch is at most {MAX_WRITE_BYTES} bytes; send smaller batches")
        try:
            body = msgspec.json.decode(raw, type=RowsWrite)
        except msgspec.DecodeError as exc:
            raise HTTPException(422, f"malformed batch: {exc}") from None
        if body.installation is not None and body.installation != installation:
            raise HTTPException(403, "the batch names another installation than the token's; nothing was written")
        if len(body.data) + len(body.deletes) > MAX_WRITE_ROWS:
            raise HTTPException(413, f"a batch holds at most {MAX_WRITE_ROWS} rows and deletes; send smaller batches")
        width = len(spec.key_names)
        if spec.composite_key and any(not isinstance(k, list) or len(k) != width for k in body.deletes):
            raise HTTPException(422, f"deletes of {data_type!r} are arrays of {width} key values {list(spec.key_names)}")
        try:
            rows = table_rows(PageConverter(installation, spec).rows(body.headers, body.data)) if body.data else []
        except (ConversionError, HeaderMismatchError) as exc:
            raise HTTPException(422, str(exc)) from None
        return await run_in_threadpool(_write, engine, tables[data_type], spec, installation, rows, body.deletes)

    return router


def _write(
    engine: Engine, table: Table, spec: DataTypeSpec, installation: str, rows: list[tuple[Any, ...]], deletes: list[Any]
) -> dict[str, Any]:
    deleted = 0
    with engine.begin() as conn:  # one transaction: a batch is written whole or not at all
        upserted = _upsert(conn, table, spec, installation, rows)
        if deletes:
            if spec.composite_key:
                key, wanted = tuple_(*(table.c[name] for name in spec.key_names)), [tuple(k) for k in deletes]
            else:
                key, wanted = table.c[spec.primary_key], deletes
            deleted = conn.execute(
                delete(table).where(table.c[INSTALLATION_COLUMN] == installation, key.in_(wanted))
            ).rowcount
    return {"installation": installation, "dataType": spec.name, "upserted": upserted, "deleted": deleted}
