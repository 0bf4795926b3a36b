"""Arrow pages (capability ``arrow-pages``) carry exactly the rows and pagination of the JSON pages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from include.migration.source.arrow_pages import ARROW_MEDIA_TYPE, ARROW_PAGES, decode_page
from include.migration.values.pages import table_rows
from include.reference_remote import create_app, serve_in_thread
from include.reference_remote.app import CAPABILITIES
from include.reference_remote.encoding import row_encoder
from include.reference_remote.server import RunningServer
from tests.reference_remote.test_app import CONFIG, ENC_EXPECTED, MAX_LIMIT, TOKENS, _seed_with_edge_rows, get

TOKEN_OF = {installation: token for token, installation in TOKENS.items()}


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    url = f"sqlite:///{tmp_path_factory.mktemp('arrow') / 'source.db'}"
    _seed_with_edge_rows(url)
    with serve_in_thread(create_app(url, CONFIG.data_types, TOKENS, max_limit=MAX_LIMIT)) as running:
        yield running


@pytest.fixture(scope="module")
def postgres_server(postgres_url: str) -> Iterator[RunningServer]:
    _seed_with_edge_rows(postgres_url)
    with serve_in_thread(create_app(postgres_url, CONFIG.data_types, TOKENS, max_limit=MAX_LIMIT)) as running:
        yield running


def _comparable(spec_name: str, rows: list[list[Any]]) -> list[list[Any]]:
    """JSON-page rows with JSON documents parsed (Arrow carries them as text, spacing aside)."""
    spec = CONFIG.data_type(spec_name)
    json_columns = [i for i, c in enumerate(spec.columns) if c.type.base == "json"]
    out = []
    for row in rows:
        row = list(row)
        for i in json_columns:
            if isinstance(row[i], str):
                row[i] = json.loads(row[i])
        out.append(row)
    return out


def _walk(http: requests.Session, server: RunningServer, data_type: str, installation: str, limit: int, fmt: str):
    """Every page as (rows in JSON-page form, pagination)."""
    spec = CONFIG.data_type(data_type)
    encode = row_encoder(spec)
    pages = []
    params: dict[str, Any] = {"limit": limit, "format": fmt}
    while True:
        response = get(http, server, f"{data_type}/", TOKEN_OF[installation], **params)
        assert response.status_code == 200, response.text
        if fmt == "arrow":
            assert response.headers["content-type"] == ARROW_MEDIA_TYPE
            table, owner, pagination = decode_page(response.content)
            assert owner == installation and table.column_names == list(spec.column_names)
            rows = [json.loads(json.dumps(encode(r))) for r in table_rows(table)]
        else:
            body = response.json()
            rows, pagination = body["data"], body["pagination"]
        pages.append((_comparable(data_type, rows), pagination))
        if pagination["afterId"] is None:
            return pages
        params["after"] = pagination["afterId"]


@pytest.mark.parametrize("source", ["sqlite_server", "postgres_server"])
@pytest.mark.parametrize(("data_type", "installation", "limit"), [("accounts", "acme", 50), ("accounts", "enc", 2), ("tags", "globex", 7)])
def test_arrow_pages_hold_the_json_pages_rows(http, request, source, data_type, installation, limit):
    server = request.getfixturevalue(source)
    as_json = _walk(http, server, data_type, installation, limit, "json")
    as_arrow = _walk(http, server, data_type, installation, limit, "arrow")
    assert len(as_arrow) == len(as_json) > 1
    assert as_arrow == as_json
    if installation == "enc":
        assert [r for rows, _ in as_arrow for r in rows] == _comparable("accounts", ENC_EXPECTED)


def test_the_capability_is_announced_and_can_be_turned_off(http, sqlite_server, postgres_url):
    status = get(http, sqlite_server, "status").json()
    assert ARROW_PAGES in status["capabilities"]
    others = [c for c in CAPABILITIES if c != ARROW_PAGES]
    with serve_in_thread(create_app(postgres_url, CONFIG.data_types, TOKENS, capabilities=others)) as plain:
        assert ARROW_PAGES not in get(http, plain, "status").json()["capabilities"]
        response = get(http, plain, "accounts/", limit=5, format="arrow")
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        assert len(response.json()["data"]) == 5


def test_an_unknown_format_is_refused(http, sqlite_server):
    assert get(http, sqlite_server, "accounts/", format="xml").status_code == 422
