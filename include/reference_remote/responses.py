"""How the read endpoints answer: JSON or Arrow bodies, keys as JSON carries them, and the 422s.

A 422 refuses a query parameter that does not parse, or a source value that
does not fit its configured column type (naming installation, data type, key
and column, see ``value_fit.py``).
"""

import logging
from collections.abc import Callable
from typing import Any

import msgspec
from fastapi import HTTPException, Response

from include.migration.source.arrow_pages import ARROW_MEDIA_TYPE, encode_page
from include.reference_remote.queries import DataTypeQueries, InvalidParameter
from include.reference_remote.value_fit import MisfitError, refusal_body

log = logging.getLogger(__name__)


def arrow_response(table: Any, installation: str, pagination: dict[str, Any]) -> Response:
    """An Arrow page (IPC stream) of ``table`` with the installation and the pagination in its metadata."""
    return Response(content=encode_page(table, installation, pagination), media_type=ARROW_MEDIA_TYPE)


def json_response(body: Any) -> Response:
    """``body`` as JSON."""
    # msgspec keeps integer keys above 2**53 exact and is fast on big pages.
    return Response(content=msgspec.json.encode(body), media_type="application/json")


def parse_parameter(name: str, text: str | None, parse: Callable[[str], Any]) -> Any:
    """``parse(text)``, None for a missing parameter; a parse error is a 422 naming the parameter."""
    if text is None:
        return None
    try:
        return parse(text)
    except InvalidParameter as exc:
        raise HTTPException(422, f"{name} {exc}") from None


def wire_key(query: DataTypeQueries, key: Any) -> Any:
    """A key as JSON carries it: the value, or for a composite key an array of its values."""
    return list(key) if query.spec.composite_key else key


def refusing_misfits(installation: str, answer: Callable[[], Response]) -> Response:
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
