"""The reference remote over a real uvicorn server: auth, pagination, isolation, errors, encoding."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from include.migration.configuration.config import DataTypeSpec
from include.migration.configuration.config_parsing import parse_config
from include.reference_remote import build_source_metadata, create_app, seed_source, serve_in_thread
from include.reference_remote.__main__ import load_tokens
from include.reference_remote.encoding import (
    EncodingError,
    date_text,
    decimal_text,
    row_encoder,
    timestamp_text,
)
from include.reference_remote.server import RunningServer
from include.reference_remote.source_schema import create_source_engine

ROWS = 120
MAX_LIMIT = 500
TOKENS = {"tok-acme": "acme", "tok-globex": "globex", "tok-enc": "enc"}

CONFIG = parse_config(
    {
        "data_types": [
            {
                "name": "accounts",
                "primary_key": "id",
                "columns": [
                    {"name": "id", "type": "bigint"},
                    {"name": "name", "type": "varchar(40)", "nullable": False},
                    {"name": "note", "type": "text"},
                    {"name": "amount", "type": "decimal(12,2)"},
                    {"name": "big_amount", "type": "decimal(30,10)"},
                    {"name": "ratio", "type": "double"},
                    {"name": "visits", "type": "int"},
                    {"name": "active", "type": "boolean", "nullable": False},
                    {"name": "created_at", "type": "timestamp"},
                    {"name": "birthday", "type": "date"},
                    {"name": "payload", "type": "json"},
                ],
            },
            {
                "name": "tags",
                "primary_key": "code",
                "source_table": "src_tags",
                "columns": [
                    {"name": "code", "type": "varchar(16)"},
                    {"name": "label", "type": "varchar(50)"},
                ],
            },
        ],
        "installations": [
            {"id": i, "remote_conn_id": f"r_{i}", "target_conn_id": f"t_{i}"} for i in ("acme", "globex", "enc")
        ],
    }
)
ACCOUNTS = CONFIG.data_type("accounts")
TAGS = CONFIG.data_type("tags")

# One hand-written row per edge case, for installation "enc".
ENC_ROWS = [
    {
        "installation_id": "enc",
        "id": 1,
        "name": "Zoë 東京 🚀",
        "note": 'line1\nline2 "quoted" \\ back',
        "amount": Decimal("-1234.50"),
        "big_amount": Decimal("12345678901234567890.0123456789"),
        "ratio": 0.1,
        "visits": -(2**31),
        "active": True,
        "created_at": dt.datetime(2024, 3, 1, 1, 2, 3, 456789, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "birthday": dt.date(1999, 12, 31),
        "payload": {"a": [1, 2, {"b": None, "c": "naïve"}], "d": {"e": True}, "n": 1.5},
    },
    {
        "installation_id": "enc",
        "id": 2**62,
        "name": "x",
        "note": "",
        "amount": Decimal("0.00"),
        "big_amount": Decimal("-0.0000000001"),
        "ratio": -2.5e-12,
        "visits": 0,
        "active": False,
        "created_at": dt.datetime(2021, 1, 1, 0, 0, 0, tzinfo=dt.timezone.utc),
        "birthday": dt.date(2020, 2, 29),
        "payload": ["Ωmega", [], {}],
    },
    {
        "installation_id": "enc",
        "id": 2**62 + 1,
        "name": "all null",
        **{c: None for c in ("note", "amount", "big_amount", "ratio", "visits", "created_at", "birthday", "payload")},
        "active": False,
    },
]
ENC_EXPECTED = [
    [
        1,
        "Zoë 東京 🚀",
        'line1\nline2 "quoted" \\ back',
        "-1234.50",
        "12345678901234567890.0123456789",
        0.1,
        -(2**31),
        True,
        "2024-02-29T23:02:03.456789Z",
        "1999-12-31",
        {"a": [1, 2, {"b": None, "c": "naïve"}], "d": {"e": True}, "n": 1.5},
    ],
    [
        2**62,
        "x",
        "",
        "0.00",
        "-0.0000000001",
        -2.5e-12,
        0,
        False,
        "2021-01-01T00:00:00.000000Z",
        "2020-02-29",
        ["Ωmega", [], {}],
    ],
    [2**62 + 1, "all null", None, None, None, None, None, False, None, None, None],
]


def _seed_with_edge_rows(url: str) -> None:
    seed_source(url, CONFIG.data_types, ["acme", "globex"], ROWS, seed=7, statuses={"globex": "PENDING"})
    schema = build_source_metadata(CONFIG.data_types)
    engine = create_source_engine(url)
    with engine.begin() as conn:
        conn.execute(schema.tables["accounts"].insert(), ENC_ROWS)
    engine.dispose()


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('remote') / 'source.db'}"
    _seed_with_edge_rows(url)
    return url


@pytest.fixture(scope="module")
def server(sqlite_url: str) -> Iterator[RunningServer]:
    running = serve_in_thread(create_app(sqlite_url, CONFIG.data_types, TOKENS, max_limit=MAX_LIMIT))
    yield running
    running.stop()


def get(
    http: requests.Session, server: RunningServer, path: str, token: str | None = "tok-acme", **params: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(params.pop("headers", {}))
    return http.get(f"{server.base_url}/data-migration/{path}", params=params, headers=headers, timeout=10)


def walk(http: requests.Session, server: RunningServer, data_type: str, token: str, limit: int) -> list[dict[str, Any]]:
    """All pages of one data type, the last one included."""
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        response = get(http, server, f"{data_type}/", token, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        after = body["pagination"]["afterId"]
        if after is None:
            return pages
        assert len(pages) < 1000, "pagination does not end"
        params["after"] = after


def db_rows(url: str, spec: DataTypeSpec, installation: str) -> list[list[Any]]:
    """The installation's rows straight from the source, encoded, in key order."""
    schema = build_source_metadata(CONFIG.data_types)
    table = schema.tables[spec.name]
    engine = create_source_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(*(table.c[n] for n in spec.column_names))
            .where(table.c.installation_id == installation)
            .order_by(table.c[spec.primary_key])
        ).all()
    engine.dispose()
    encode = row_encoder(spec)
    # Through JSON, as a client sees them.
    return json.loads(json.dumps([encode(r) for r in rows]))


# --- status ---------------------------------------------------------------------------------------


def test_status_defaults_to_ready_and_lists_data_types(http: requests.Session, server: RunningServer) -> None:
    response = get(http, server, "status")
    assert response.status_code == 200
    assert response.json() == {
        "status": "READY",
        "installation": "acme",
        "dataTypes": ["accounts", "tags"],
        "capabilities": ["arrow-pages", "range-stats", "remote-writes", "row-hashes", "status-updates"],
    }


def test_status_reports_the_stored_status(http: requests.Session, server: RunningServer) -> None:
    body = get(http, server, "status", "tok-globex").json()
    assert (body["status"], body["installation"]) == ("PENDING", "globex")


# --- pagination -----------------------------------------------------------------------------------


def test_full_last_page_is_followed_by_an_empty_page(
    http: requests.Session, server: RunningServer, sqlite_url: str
) -> None:
    pages = walk(http, server, "accounts", "tok-acme", limit=40)
    assert [len(p["data"]) for p in pages] == [40, 40, 40, 0]
    assert [p["pagination"]["afterId"] for p in pages] == [40, 80, 120, None]
    assert all(p["headers"] == list(ACCOUNTS.column_names) for p in pages)
    rows = [row for p in pages for row in p["data"]]
    keys = [row[0] for row in rows]
    assert keys == list(range(1, ROWS + 1))
    assert rows == db_rows(sqlite_url, ACCOUNTS, "acme")


def test_short_last_page_ends_pagination(http: requests.Session, server: RunningServer) -> None:
    pages = walk(http, server, "accounts", "tok-acme", limit=50)
    assert [len(p["data"]) for p in pages] == [50, 50, 20]
    assert [p["pagination"]["afterId"] for p in pages] == [50, 100, None]


def test_after_resumes_behind_the_cursor(http: requests.Session, server: RunningServer) -> None:
    body = get(http, server, "accounts", "tok-acme", limit=5, after=57).json()
    assert [row[0] for row in body["data"]] == [58, 59, 60, 61, 62]
    assert body["pagination"]["afterId"] == 62
    assert get(http, server, "accounts/", "tok-acme", after=-5, limit=1).json()["data"][0][0] == 1


def test_varchar_keys_page_in_string_order(http: requests.Session, server: RunningServer, sqlite_url: str) -> None:
    pages = walk(http, server, "tags", "tok-acme", limit=7)
    rows = [row for p in pages for row in p["data"]]
    keys = [row[0] for row in rows]
    assert keys == sorted(keys) and len(set(keys)) == ROWS
    assert all(isinstance(p["pagination"]["afterId"], str) for p in pages[:-1])
    assert pages[-1]["pagination"]["afterId"] is None
    assert rows == db_rows(sqlite_url, TAGS, "acme")
    # Any string is a valid cursor for a varchar key.
    body = get(http, server, "tags/", "tok-acme", after="0000000100", limit=100).json()
    assert [row[0] for row in body["data"]] == [f"{i:010d}" for i in range(101, ROWS + 1)]


def test_path_without_trailing_slash(http: requests.Session, server: RunningServer) -> None:
    response = get(http, server, "accounts", "tok-acme", limit=3)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert [row[0] for row in response.json()["data"]] == [1, 2, 3]


# --- isolation and auth ---------------------------------------------------------------------------


def test_token_reads_only_its_own_installation(http: requests.Session, server: RunningServer, sqlite_url: str) -> None:
    acme = [row for p in walk(http, server, "accounts", "tok-acme", limit=MAX_LIMIT) for row in p["data"]]
    globex = [row for p in walk(http, server, "accounts", "tok-globex", limit=MAX_LIMIT) for row in p["data"]]
    assert acme == db_rows(sqlite_url, ACCOUNTS, "acme")
    assert globex == db_rows(sqlite_url, ACCOUNTS, "globex")
    # Same keys, different installations: no row of one shows up in the other.
    assert [r[0] for r in acme] == [r[0] for r in globex]
    assert not any(a == g for a, g in zip(acme, globex))
    enc = walk(http, server, "accounts", "tok-enc", limit=MAX_LIMIT)
    assert [row[0] for p in enc for row in p["data"]] == [1, 2**62, 2**62 + 1]


@pytest.mark.parametrize("path", ["status", "accounts/"])
def test_installation_header_must_match_the_token(http: requests.Session, server: RunningServer, path: str) -> None:
    forbidden = get(http, server, path, "tok-globex", headers={"X-Installation-Id": "acme"})
    assert forbidden.status_code == 403
    assert "detail" in forbidden.json() and "data" not in forbidden.json()
    assert get(http, server, path, "tok-globex", headers={"X-Installation-Id": "globex"}).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Basic dG9rLWFjbWU=",
        "Bearer",
        "Bearer ",
        "Bearer wrong",
        "Bearer tok-acmeX",
        "Bearer tok-acm",
        "tok-acme",
        "Bearer ünïcode",
    ],
)
@pytest.mark.parametrize("path", ["status", "accounts/", "no_such_type/"])
def test_missing_or_invalid_token_is_unauthorized(
    http: requests.Session, server: RunningServer, authorization: str | None, path: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization.encode("utf-8")}
    response = http.get(f"{server.base_url}/data-migration/{path}", headers=headers, timeout=10)
    assert response.status_code == 401
    assert set(response.json()) == {"detail"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_bearer_scheme_is_case_insensitive(http: requests.Session, server: RunningServer) -> None:
    headers = {"Authorization": "bearer tok-acme"}
    response = http.get(f"{server.base_url}/data-migration/status", headers=headers, timeout=10)
    assert response.status_code == 200


# --- request errors -------------------------------------------------------------------------------


def test_unknown_data_type_is_not_found(http: requests.Session, server: RunningServer) -> None:
    for path in ("no_such_type/", "no_such_type", "Accounts/"):
        response = get(http, server, path)
        assert response.status_code == 404, path
        assert "detail" in response.json()


@pytest.mark.parametrize("limit", ["0", "-1", str(MAX_LIMIT + 1), "abc", "1.5", ""])
def test_limit_out_of_range_is_rejected(http: requests.Session, server: RunningServer, limit: str) -> None:
    assert get(http, server, "accounts/", limit=limit).status_code == 422


def test_limit_bounds_are_inclusive(http: requests.Session, server: RunningServer) -> None:
    assert len(get(http, server, "accounts/", limit=1).json()["data"]) == 1
    assert len(get(http, server, "accounts/", limit=MAX_LIMIT).json()["data"]) == ROWS


@pytest.mark.parametrize(
    "after", ["abc", "1.5", "", " 1", "1e3", "0x10", "99999999999999999999", "1; DROP TABLE accounts"]
)
def test_unparsable_integer_cursor_is_rejected(http: requests.Session, server: RunningServer, after: str) -> None:
    response = get(http, server, "accounts/", after=after)
    assert response.status_code == 422
    assert "after" in json.dumps(response.json())


# --- encoding -------------------------------------------------------------------------------------


def test_values_are_encoded_exactly(http: requests.Session, server: RunningServer) -> None:
    response = get(http, server, "accounts/", "tok-enc", limit=10)
    body = response.json()
    assert body["data"] == ENC_EXPECTED
    assert body["pagination"]["afterId"] is None
    raw = response.content.decode("utf-8")
    # Decimals are JSON strings, huge keys exact integers, JSON columns nested values, not strings.
    assert '"-1234.50"' in raw and '"12345678901234567890.0123456789"' in raw and '"-0.0000000001"' in raw
    assert f"[{2**62}," in raw
    assert '{"a":[1,2,{"b":null,"c":"naïve"}]' in raw
    assert isinstance(body["data"][0][5], float) and isinstance(body["data"][0][7], bool)


def test_encoding_helpers() -> None:
    assert decimal_text(Decimal("1E+3")) == "1000"
    assert decimal_text(Decimal("0E-10")) == "0.0000000000"
    assert decimal_text(Decimal("1234.50")) == "1234.50"
    assert decimal_text(Decimal("-1.23E-7")) == "-0.000000123"
    with pytest.raises(ValueError):
        decimal_text(Decimal("NaN"))
    assert timestamp_text(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05.000000Z"
    aware = dt.datetime(2024, 1, 1, 0, 30, 0, 7, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
    assert timestamp_text(aware) == "2023-12-31T19:00:00.000007Z"
    assert timestamp_text(dt.datetime(9, 1, 1)) == "0009-01-01T00:00:00.000000Z"
    assert date_text(dt.date(2024, 2, 29)) == "2024-02-29"
    encode = row_encoder(ACCOUNTS)
    with pytest.raises(EncodingError, match=r"key 5: column 'created_at'"):
        encode([5, "n", None, None, None, None, None, True, "2024-01-01", None, None])


def test_tokens_file_is_inverted_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"acme": "t1", "globex": "t2"}))
    assert load_tokens(path) == {"t1": "acme", "t2": "globex"}
    path.write_text(json.dumps({"acme": "same", "globex": "same"}))
    with pytest.raises(ValueError, match="share a token"):
        load_tokens(path)


def test_app_rejects_unusable_settings(sqlite_url: str) -> None:
    with pytest.raises(ValueError):
        create_app(sqlite_url, CONFIG.data_types, {"": "acme"})
    with pytest.raises(ValueError):
        create_app(sqlite_url, CONFIG.data_types, TOKENS, max_limit=0)


# --- PostgreSQL source ----------------------------------------------------------------------------


def test_postgres_source_serves_the_same_pages_as_sqlite(
    http: requests.Session, server: RunningServer, postgres_url: str
) -> None:
    _seed_with_edge_rows(postgres_url)
    with serve_in_thread(create_app(postgres_url, CONFIG.data_types, TOKENS, max_limit=MAX_LIMIT)) as pg_server:
        assert get(http, pg_server, "status", "tok-globex").json()["status"] == "PENDING"
        for spec in CONFIG.data_types:
            for token in ("tok-acme", "tok-globex"):
                pg_pages = walk(http, pg_server, spec.name, token, limit=33)
                sqlite_pages = walk(http, server, spec.name, token, limit=33)
                assert pg_pages == sqlite_pages, (spec.name, token)
                installation = TOKENS[token]
                assert [r for p in pg_pages for r in p["data"]] == db_rows(postgres_url, spec, installation)
        assert get(http, pg_server, "accounts/", "tok-enc").json()["data"] == ENC_EXPECTED
        assert get(http, pg_server, "accounts/", "tok-acme", after="x").status_code == 422
        assert get(http, pg_server, "accounts/", "tok-acme", headers={"X-Installation-Id": "globex"}).status_code == 403
