"""The data page endpoint: one page of a data type's rows after a cursor, as JSON or as an Arrow stream.

Every data page names the token's installation (``"installation": "<id>"``) so
that a client can refuse another one's rows.
"""

# No ``from __future__ import annotations``: FastAPI must evaluate the endpoint
# annotations, which refer to values local to page_endpoint (max_limit, the auth dependency).
import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Query, Response
from sqlalchemy import Connection, Engine, Select

from include.reference_remote.arrow_source import read_page
from include.reference_remote.encoding import json_rows, timestamp_text
from include.reference_remote.queries import DataTypeQueries, UpdatedAtCursor, parse_timestamp
from include.reference_remote.responses import (
    arrow_response,
    json_response,
    parse_parameter,
    refusing_misfits,
    wire_key,
)
from include.reference_remote.value_fit import check_table

DEFAULT_LIMIT = 500


def page_endpoint(
    engine: Engine,
    queries_of: Callable[[str], DataTypeQueries],
    installation_of: Callable[..., str],
    *,
    max_limit: int,
    arrow_enabled: bool,
) -> Callable[..., Response]:
    """The ``GET /data-migration/{dataType}/`` endpoint; ``installation_of`` is the auth dependency.

    ``max_limit`` caps ``limit``; ``arrow_enabled`` says whether ``format=arrow`` answers with Arrow.
    """
    Installation = Annotated[str, Depends(installation_of)]
    default_limit = min(DEFAULT_LIMIT, max_limit)

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
        arrow = page_format == "arrow" and arrow_enabled
        if order == "updated_at" and not query.by_updated_at:
            raise HTTPException(422, f"data type {data_type!r} has no updated_at column to order by")
        if not query.by_updated_at or order == "key":
            if after_updated_at is not None or until is not None:
                raise HTTPException(422, f"paging {data_type!r} by key: afterUpdatedAt and until do not apply")
            key = parse_parameter("after", after, query.parse_key)
            return refusing_misfits(installation, lambda: _key_page(query, engine, installation, key, limit, arrow))
        cursor = _updated_at_cursor(query, after, after_updated_at)
        bound = parse_parameter("until", until, parse_timestamp)
        return refusing_misfits(
            installation, lambda: _updated_at_page(query, engine, installation, cursor, bound, limit, arrow)
        )

    return page


def _updated_at_cursor(
    query: DataTypeQueries, after: str | None, after_updated_at: str | None
) -> UpdatedAtCursor | None:
    if (after is None) != (after_updated_at is None):
        raise HTTPException(422, "after and afterUpdatedAt go together: give both or neither")
    if after is None:
        return None
    return UpdatedAtCursor(
        updated_at=parse_parameter("afterUpdatedAt", after_updated_at, parse_timestamp),
        key=parse_parameter("after", after, query.parse_key),
    )


def _checked_table(conn: Connection, statement: Select[Any], query: DataTypeQueries) -> Any:
    """The Arrow page of ``statement``; :class:`MisfitError` when a value does not fit its column."""
    table = read_page(conn, statement, query.spec)
    check_table(query.spec, table)
    return table


def _key_page(
    query: DataTypeQueries, engine: Engine, installation: str, after: Any, limit: int, arrow: bool
) -> Response:
    statement = query.key_range(installation, after, None, limit)
    with engine.connect() as conn:
        table = _checked_table(conn, statement, query)
    after_id = wire_key(query, _last_key(query, table)) if table.num_rows == limit else None
    return _answer(query, installation, table, {"afterId": after_id}, arrow)


def _last_key(query: DataTypeQueries, table: Any) -> Any:
    """The key of an Arrow page's last row."""
    return query.spec.key_of({i: table.column(i)[-1].as_py() for i in query.spec.key_indexes})


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
        table = _checked_table(conn, statement, query)
    if table.num_rows == limit:
        pagination = {
            "afterId": table.column(query.spec.key_index)[-1].as_py(),
            "afterUpdatedAt": timestamp_text(table.column(query.updated_at_index)[-1].as_py()),
        }
    return _answer(query, installation, table, pagination, arrow)


def _answer(
    query: DataTypeQueries, installation: str, table: Any, pagination: dict[str, Any], arrow: bool
) -> Response:
    """The checked page ``table`` as an Arrow stream, or as a JSON page with its values in wire form."""
    if arrow:
        return arrow_response(table, installation, pagination)
    return json_response(_page_body(query, installation, json_rows(table, query.spec), pagination))


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
