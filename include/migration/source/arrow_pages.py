"""The Arrow page format: a data page as one Arrow IPC stream (capability ``arrow-pages``).

A remote that announces ``arrow-pages`` answers ``GET /data-migration/{dataType}/?format=arrow``
with ``application/vnd.apache.arrow.stream``: one record batch stream whose
columns are the page's headers, typed per the configured column type, and whose
schema metadata carries what the JSON page has around its rows:
``installation`` and ``pagination`` (JSON text, the same object as in a JSON page).

Typed columns spare both sides the per-value text round trip of JSON: the
remote streams what its database hands out, the client checks and renders whole
columns at once. JSON stays the default; a remote without the capability (or a
client that asks for JSON) gets JSON pages.

Column types (``ColumnType.base`` -> Arrow, ``values/types.py``): bigint -> int64, int -> int32,
varchar/text/json -> utf8 (json as its JSON text), decimal(p,s) -> decimal128(p,s)
(decimal256 above 38 digits), double -> float64, boolean -> bool, timestamp ->
timestamp[us, UTC], date -> date32.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow is imported inside the functions that use it: the constants and the error below import
# without it (DAG parsing loads the client and the transfer, never pyarrow).
ARROW_PAGES = "arrow-pages"
ARROW_MEDIA_TYPE = "application/vnd.apache.arrow.stream"
_INSTALLATION = b"installation"
_PAGINATION = b"pagination"


class ArrowPageError(ValueError):
    """A body is not an Arrow page (truncated stream, missing metadata)."""


def encode_page(table: pa.Table, installation: str, pagination: dict[str, Any]) -> bytes:
    """One page as an Arrow IPC stream with its installation and pagination in the schema metadata."""
    import pyarrow as pa

    metadata = {_INSTALLATION: installation.encode(), _PAGINATION: json.dumps(pagination).encode()}
    table = table.replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def decode_page(body: bytes) -> tuple[pa.Table, str | None, dict[str, Any]]:
    """``(table, installation, pagination)`` of an Arrow page; :class:`ArrowPageError` when it is not one."""
    import pyarrow as pa

    try:
        table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise ArrowPageError(f"not a complete Arrow IPC stream ({exc})") from None
    metadata = table.schema.metadata or {}
    try:
        pagination = json.loads(metadata[_PAGINATION])
    except (KeyError, ValueError):
        raise ArrowPageError("the Arrow page has no pagination metadata") from None
    if not isinstance(pagination, dict):
        raise ArrowPageError("the Arrow page's pagination metadata is not an object")
    installation = metadata.get(_INSTALLATION)
    return table.replace_schema_metadata(None), (installation.decode() if installation else None), pagination
