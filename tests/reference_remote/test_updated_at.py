"""Pages by (updated_at, key): cursor walk, ties, the until bound, changed rows and request errors."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import inspect

from include.migration.configuration.config_parsing import parse_config
from include.reference_remote import (
    create_app,
    generate_rows,
    insert_rows,
    seed_source,
    serve_in_thread,
    update_rows,
)
from include.reference_remote.encoding import row_encoder
from include.reference_remote.queries import InvalidParameter, parse_timestamp
from include.reference_remote.server import RunningServer
from include.reference_remote.source_schema import create_source_engine
from tests.reference_remote.support import CONFIG, ISSUES, TOKENS, UTC, get, source_rows

ROWS = 150
SEED = 5
WIRE_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
TIE = dt.datetime(2024, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
UPDATED = ISSUES.column_names.index("updated_at")


def seed_with_ties(url: str) -> None:
    """The seed, plus rows sharing one updated_at (1001-1006) and one sharing a seeded row's (1007)."""
    seed_source(url, CONFIG.data_types, list(TOKENS.values()), ROWS, seed=SEED)
    seeded_fifth = next(r for r in generate_rows(ISSUES, "acme", 5, seed=SEED) if r["id"] == 5)
    ties = [{"id": i, "title": f"tie {i}", "updated_at": TIE} for i in range(1006, 1000, -1)]
    ties.append(
        {"id": 1007, "title": "same as 5", "estimate": Decimal("1.50"), "updated_at": seeded_fifth["updated_at"]}
    )
    assert insert_rows(url, ISSUES, "acme", ties) == 7


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('updated_at') / 'source.db'}"
    seed_with_ties(url)
    return url


@pytest.fixture(scope="module")
def server(sqlite_url: str) -> Iterator[RunningServer]:
    with serve_in_thread(create_app(sqlite_url, CONFIG.data_types, TOKENS)) as running:
        yield running


def expected_rows(url: str, installation: str = "acme", until: dt.datetime | None = None) -> list[list[Any]]:
    """The installation's issues in (updated_at, id) order, encoded as the page sends them."""
    rows = sorted(source_rows(url, ISSUES, installation), key=lambda r: (r[UPDATED], r[0]))
    encode = row_encoder(ISSUES)
    return [encode(r) for r in rows if until is None or r[UPDATED] <= until]


def walk(
    http: requests.Session, server: RunningServer, limit: int, token: str = "tok-acme", **params: Any
) -> tuple[list[list[Any]], list[dict[str, Any]]]:
    """Every row after the starting cursor (if any), following afterId/afterUpdatedAt; also the paginations."""
    rows: list[list[Any]] = []
    paginations: list[dict[str, Any]] = []
    params = {"limit": limit, **params}
    while True:
        response = get(http, server, "issues/", token, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        rows += body["data"]
        paginations.append(body["pagination"])
        if body["pagination"]["afterId"] is None:
            return rows, paginations
        assert len(paginations) < 1000, "pagination does not end"
        params.update(after=body["pagination"]["afterId"], afterUpdatedAt=body["pagination"]["afterUpdatedAt"])


# --- walking --------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [4, 7])
def test_walk_returns_every_row_once_in_updated_at_then_key_order(
    http: requests.Session, server: RunningServer, sqlite_url: str, limit: int
) -> None:
    rows, paginations = walk(http, server, limit)
    expected = expected_rows(sqlite_url)
    assert rows == expected and len(rows) == ROWS + 7
    assert len({r[0] for r in rows}) == len(rows)
    # The tie group straddles page boundaries and still comes out in key order.
    assert [r[0] for r in rows if r[UPDATED] == "2024-06-01T12:00:00.123456Z"] == list(range(1001, 1007))
    for index, pagination in enumerate(paginations[:-1]):
        last = rows[(index + 1) * limit - 1]
        assert pagination == {"afterId": last[0], "afterUpdatedAt": last[UPDATED]}
        assert WIRE_TIMESTAMP.fullmatch(pagination["afterUpdatedAt"])
    assert paginations[-1] == {"afterId": None, "afterUpdatedAt": None}


def test_full_last_page_is_followed_by_an_empty_page(http: requests.Session, server: RunningServer) -> None:
    rows, paginations = walk(http, server, ROWS + 7)
    assert len(rows) == ROWS + 7
    assert [p["afterId"] is None for p in paginations] == [False, True]


def test_rows_of_another_installation_stay_apart(
    http: requests.Session, server: RunningServer, sqlite_url: str
) -> None:
    rows, _ = walk(http, server, 50, token="tok-globex")
    assert rows == expected_rows(sqlite_url, "globex") and len(rows) == ROWS


def test_cursor_timestamp_formats_are_equivalent(http: requests.Session, server: RunningServer) -> None:
    # 2024-06-01T12:00:00.123456Z, id 1003: the next rows are ties 1004-1006.
    spellings = ["2024-06-01T12:00:00.123456Z", "2024-06-01T14:00:00.123456+02:00", "2024-06-01 12:00:00.123456"]
    for spelling in spellings:
        body = get(http, server, "issues/", after=1003, afterUpdatedAt=spelling, limit=3).json()
        assert [r[0] for r in body["data"]] == [1004, 1005, 1006], spelling


# --- until ----------------------------------------------------------------------------------------


def test_until_is_an_inclusive_upper_bound(http: requests.Session, server: RunningServer, sqlite_url: str) -> None:
    everything = expected_rows(sqlite_url)
    bound_text = everything[60][UPDATED]
    bound = parse_timestamp(bound_text)
    rows, paginations = walk(http, server, 8, until=bound_text)
    assert rows == expected_rows(sqlite_url, until=bound)
    assert rows[-1][UPDATED] == bound_text and len(rows) >= 61
    assert paginations[-1] == {"afterId": None, "afterUpdatedAt": None}
    just_before = bound - dt.timedelta(microseconds=1)
    earlier, _ = walk(http, server, 500, until=just_before.isoformat())
    assert earlier == expected_rows(sqlite_url, until=just_before) and len(earlier) < len(rows)


def test_until_with_the_tie_group_and_a_cursor(http: requests.Session, server: RunningServer) -> None:
    rows, _ = walk(http, server, 2, after=1002, afterUpdatedAt="2024-06-01T12:00:00.123456Z", until=TIE.isoformat())
    assert [r[0] for r in rows] == [1003, 1004, 1005, 1006]
    assert walk(http, server, 2, until="2000-01-01T00:00:00Z")[0] == []


# --- changes after the cursor ---------------------------------------------------------------------


def test_an_updated_row_comes_again_after_the_cursor(http: requests.Session, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'changing.db'}"
    seed_with_ties(url)
    with serve_in_thread(create_app(url, CONFIG.data_types, TOKENS)) as running:
        rows, _ = walk(http, running, 50)
        # The last page is short, so the client keeps the last row it saw as its cursor.
        cursor = {"after": rows[-1][0], "afterUpdatedAt": rows[-1][UPDATED]}
        assert walk(http, running, 50, **cursor)[0] == []
        before = dt.datetime.now(UTC)
        assert update_rows(url, ISSUES, "acme", [77, 3], {"title": "edited"}) == 2
        assert update_rows(url, ISSUES, "acme", [5], {"title": "silent"}, touch_updated_at=False) == 1
        changed, _ = walk(http, running, 50, **cursor)
        assert [(r[0], r[1]) for r in changed] == [(3, "edited"), (77, "edited")]
        assert all(parse_timestamp(r[UPDATED]) >= before for r in changed)
        assert walk(http, running, 50, **cursor, until=before.isoformat())[0] == []
        again, _ = walk(http, running, 9)
        assert [r[0] for r in again[-2:]] == [3, 77] and len(again) == len(rows)
        assert next(r for r in again if r[0] == 5)[1] == "silent"


# --- key order on request -------------------------------------------------------------------------


def test_order_key_pages_an_updated_at_data_type_by_key(http: requests.Session, server: RunningServer) -> None:
    body = get(http, server, "issues/", order="key", after=148, limit=4).json()
    assert [r[0] for r in body["data"]] == [149, 150, 1001, 1002]
    assert body["pagination"] == {"afterId": 1002}


# --- errors ---------------------------------------------------------------------------------------

STAMP = "2024-06-01T12:00:00.123456Z"


@pytest.mark.parametrize(
    ("path", "params", "word"),
    [
        ("issues/", {"afterUpdatedAt": STAMP}, "afterUpdatedAt"),
        ("issues/", {"after": 5}, "afterUpdatedAt"),
        ("issues/", {"after": 5, "afterUpdatedAt": "yesterday"}, "afterUpdatedAt"),
        ("issues/", {"after": 5, "afterUpdatedAt": "2024-06-01T12:00:00+25:00"}, "afterUpdatedAt"),
        ("issues/", {"after": "x", "afterUpdatedAt": STAMP}, "after"),
        ("issues/", {"until": "2024-13-01"}, "until"),
        ("issues/", {"until": ""}, "until"),
        ("issues/", {"order": "sideways"}, "order"),
        ("issues/", {"order": "key", "until": STAMP}, "until"),
        ("accounts/", {"after": 1, "afterUpdatedAt": STAMP}, "afterUpdatedAt"),
        ("accounts/", {"until": STAMP}, "until"),
        ("accounts/", {"order": "updated_at"}, "updated_at"),
    ],
)
def test_bad_cursor_parameters_are_rejected(
    http: requests.Session, server: RunningServer, path: str, params: dict[str, Any], word: str
) -> None:
    response = get(http, server, path, **params)
    assert response.status_code == 422, response.text
    assert word in response.text


def test_parse_timestamp() -> None:
    expected = dt.datetime(2024, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    for text in ("2024-01-02T03:04:05.6Z", "2024-01-02T03:04:05.600000z", "2024-01-02T05:04:05.6+02:00"):
        assert parse_timestamp(text) == expected and parse_timestamp(text).tzinfo is UTC
    assert parse_timestamp("2024-01-02T03:04:05.6") == expected
    assert parse_timestamp("2024-01-02") == dt.datetime(2024, 1, 2, tzinfo=UTC)
    for text in ("", "now", "2024-01-02T25:00:00", "0001-01-01T00:00:00+01:00", "1714000000"):
        with pytest.raises(InvalidParameter):
            parse_timestamp(text)


# --- schema and seed ------------------------------------------------------------------------------


def test_updated_at_data_types_have_a_cursor_index(sqlite_url: str) -> None:
    engine = create_source_engine(sqlite_url)
    try:
        inspector = inspect(engine)
        indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("issues")}
        assert indexes == {"ix_issues_updated_at": ["installation_id", "updated_at", "id"]}
        assert inspector.get_indexes("accounts") == []
    finally:
        engine.dispose()


def test_a_nullable_updated_at_column_is_refused(sqlite_url: str) -> None:
    raw = {
        "data_types": [
            {
                "name": "loose",
                "primary_key": "id",
                "cursor_mode": "updated_at",
                "updated_at_column": "touched",
                "columns": [{"name": "id", "type": "bigint"}, {"name": "touched", "type": "timestamp"}],
            }
        ],
        "installations": [],
    }
    with pytest.raises(ValueError, match="nullable: false"):
        create_app(sqlite_url, parse_config(raw).data_types, TOKENS)


def test_seeded_updated_at_values_lie_in_the_past() -> None:
    values = [r["updated_at"] for r in generate_rows(ISSUES, "acme", 2000)]
    assert all(dt.datetime(2020, 1, 1, tzinfo=UTC) <= v < dt.datetime(2026, 1, 1, tzinfo=UTC) for v in values)


# --- PostgreSQL source ----------------------------------------------------------------------------


def test_postgres_walks_the_same_pages_as_sqlite(
    http: requests.Session, server: RunningServer, postgres_url: str
) -> None:
    seed_with_ties(postgres_url)
    with serve_in_thread(create_app(postgres_url, CONFIG.data_types, TOKENS)) as pg_server:
        assert walk(http, pg_server, 7) == walk(http, server, 7)
        bound = "2023-01-01T00:00:00Z"
        assert walk(http, pg_server, 9, until=bound) == walk(http, server, 9, until=bound)
        cursor = {"after": 1002, "afterUpdatedAt": STAMP}
        assert walk(http, pg_server, 5, **cursor) == walk(http, server, 5, **cursor)
