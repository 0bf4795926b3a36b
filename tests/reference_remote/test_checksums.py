"""The reference remote's validation endpoints: range stats, row hashes and the capabilities that gate them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import event

import include.reference_remote.stats as remote_stats
from include.migration.configuration.config import DataTypeSpec
from include.migration.values.checksums import MASK_64, ChunkStats, chunk_stats
from include.reference_remote import create_app, seed_source, serve_in_thread
from include.reference_remote.queries import data_type_queries
from include.reference_remote.server import RunningServer
from include.reference_remote.source_schema import build_source_metadata, create_source_engine
from include.reference_remote.stats import STREAM_ROWS, range_stats
from tests.reference_remote.support import ACCOUNTS, CONFIG, ISSUES, TAGS, TOKENS, get, hash_rows, source_rows

ROWS = 120
SEED = 11
MAX_LIMIT = 500
INT_RANGES: list[tuple[int | None, int | None]] = [
    (None, None),
    (None, 50),
    (50, None),
    (10, 20),
    (-5, 3),
    (20, 20),
    (50, 10),
    (ROWS, None),
    (200, 300),
]
STR_RANGES: list[tuple[str | None, str | None]] = [
    (None, None),
    ("", "0000000007"),
    ("0000000010", "0000000020"),
    ("0000000100", None),
    ("0000000050", "0000000050"),
    ("zzz", None),
]


def seed(url: str) -> None:
    seed_source(url, CONFIG.data_types, list(TOKENS.values()), ROWS, seed=SEED)


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('checksums') / 'source.db'}"
    seed(url)
    return url


@pytest.fixture(scope="module")
def server(sqlite_url: str) -> Iterator[RunningServer]:
    with serve_in_thread(create_app(sqlite_url, CONFIG.data_types, TOKENS, max_limit=MAX_LIMIT)) as running:
        yield running


def in_range(key: Any, after: Any, up_to: Any) -> bool:
    return (after is None or key > after) and (up_to is None or key <= up_to)


def expected_stats(url: str, spec: DataTypeSpec, installation: str, after: Any, up_to: Any) -> ChunkStats:
    """Count and hash sum straight from the stored rows, filtered and summed here rather than in SQL."""
    rows = [r for r in source_rows(url, spec, installation) if in_range(r[spec.key_index], after, up_to)]
    hashes = hash_rows(spec, rows)
    return ChunkStats(len(hashes), sum(hashes) & MASK_64)


def range_params(after: Any, up_to: Any) -> dict[str, Any]:
    return {k: v for k, v in (("after", after), ("upTo", up_to)) if v is not None}


def stats(http: requests.Session, server: RunningServer, spec: DataTypeSpec, token: str, **params: Any) -> ChunkStats:
    response = get(http, server, f"{spec.name}/stats", token, **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"count", "checksum"} and isinstance(body["checksum"], str)
    return ChunkStats.from_dict(body)


def walk_hashes(
    http: requests.Session, server: RunningServer, spec: DataTypeSpec, limit: int, **bounds: Any
) -> tuple[list[Any], list[int], list[dict[str, Any]]]:
    """Every key and hash of a range, page by page; also the pages' pagination objects."""
    keys: list[Any] = []
    hashes: list[int] = []
    paginations: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit, **bounds}
    while True:
        response = get(http, server, f"{spec.name}/hashes", **params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["keys"]) == len(body["hashes"]) <= limit
        assert all(isinstance(h, str) for h in body["hashes"])
        keys += body["keys"]
        hashes += [int(h) for h in body["hashes"]]
        paginations.append(body["pagination"])
        if body["pagination"]["afterId"] is None:
            return keys, hashes, paginations
        assert len(paginations) < 1000, "pagination does not end"
        params["after"] = body["pagination"]["afterId"]


# --- stats ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("after", "up_to"), INT_RANGES)
def test_stats_equal_the_hash_sum_of_the_stored_rows(
    http: requests.Session, server: RunningServer, sqlite_url: str, after: int | None, up_to: int | None
) -> None:
    for spec in (ACCOUNTS, ISSUES):
        got = stats(http, server, spec, "tok-acme", **range_params(after, up_to))
        assert got == expected_stats(sqlite_url, spec, "acme", after, up_to), spec.name
    if (after, up_to) in ((20, 20), (50, 10), (ROWS, None), (200, 300)):
        assert got == ChunkStats(0, 0)


@pytest.mark.parametrize(("after", "up_to"), STR_RANGES)
def test_stats_over_varchar_keys(
    http: requests.Session, server: RunningServer, sqlite_url: str, after: str | None, up_to: str | None
) -> None:
    got = stats(http, server, TAGS, "tok-acme", **range_params(after, up_to))
    assert got == expected_stats(sqlite_url, TAGS, "acme", after, up_to)


def test_stats_match_the_pages_hashed_on_the_client(http: requests.Session, server: RunningServer) -> None:
    # The fallback for remotes without range-stats: hash the JSON page values instead.
    body = get(http, server, "accounts/", limit=MAX_LIMIT, after=30).json()
    rows = [row for row in body["data"] if row[0] <= 90]
    assert stats(http, server, ACCOUNTS, "tok-acme", after=30, upTo=90) == chunk_stats(hash_rows(ACCOUNTS, rows))


def test_stats_are_per_installation(http: requests.Session, server: RunningServer, sqlite_url: str) -> None:
    acme = stats(http, server, ACCOUNTS, "tok-acme")
    globex = stats(http, server, ACCOUNTS, "tok-globex")
    assert acme.count == globex.count == ROWS and acme.checksum != globex.checksum
    assert globex == expected_stats(sqlite_url, ACCOUNTS, "globex", None, None)


def test_stats_stream_the_rows(sqlite_url: str) -> None:
    engine = create_source_engine(sqlite_url)
    seen: list[dict[str, Any]] = []
    event.listen(engine, "before_execute", lambda conn, *args: seen.append(dict(conn.get_execution_options())))
    query = data_type_queries(ACCOUNTS, build_source_metadata(CONFIG.data_types).tables["accounts"])
    try:
        assert range_stats(query, engine, "acme", None, None).count == ROWS
    finally:
        engine.dispose()
    assert seen == [{"stream_results": True, "yield_per": STREAM_ROWS}]


# --- hashes ---------------------------------------------------------------------------------------


def test_hashes_paginate_in_key_order_and_match_the_stored_rows(
    http: requests.Session, server: RunningServer, sqlite_url: str
) -> None:
    keys, hashes, paginations = walk_hashes(http, server, ACCOUNTS, 7, after=3, upTo=100)
    assert keys == list(range(4, 101))
    assert [p["afterId"] for p in paginations] == [*range(10, 101, 7), None]
    rows = source_rows(sqlite_url, ACCOUNTS, "acme")
    stored = dict(zip((row[0] for row in rows), hash_rows(ACCOUNTS, rows)))
    assert hashes == [stored[k] for k in keys]
    assert chunk_stats(hashes) == stats(http, server, ACCOUNTS, "tok-acme", after=3, upTo=100)


def test_full_last_hashes_page_is_followed_by_an_empty_one(http: requests.Session, server: RunningServer) -> None:
    keys, _, paginations = walk_hashes(http, server, TAGS, 40)
    assert [p["afterId"] for p in paginations] == ["0000000040", "0000000080", "0000000120", None]
    assert keys == sorted(keys) and len(keys) == ROWS


def test_hashes_default_limit_and_open_range(http: requests.Session, server: RunningServer) -> None:
    body = get(http, server, "issues/hashes").json()
    assert body["keys"] == list(range(1, ROWS + 1)) and body["pagination"] == {"afterId": None}


@pytest.mark.parametrize(
    ("path", "params", "word"),
    [
        ("accounts/hashes", {"limit": 0}, "limit"),
        ("accounts/hashes", {"limit": MAX_LIMIT + 1}, "limit"),
        ("accounts/hashes", {"after": "x"}, "after"),
        ("accounts/hashes", {"upTo": "1.5"}, "upTo"),
        ("accounts/stats", {"after": "1; DROP TABLE accounts"}, "after"),
        ("accounts/stats", {"upTo": "99999999999999999999"}, "upTo"),
    ],
)
def test_bad_parameters_are_rejected(
    http: requests.Session, server: RunningServer, path: str, params: dict[str, Any], word: str
) -> None:
    response = get(http, server, path, **params)
    assert response.status_code == 422
    assert word in response.text


@pytest.mark.parametrize("path", ["accounts/stats", "accounts/hashes"])
def test_validation_endpoints_need_a_token_and_a_known_data_type(
    http: requests.Session, server: RunningServer, path: str
) -> None:
    assert get(http, server, path, token=None).status_code == 401
    assert get(http, server, path, token="wrong").status_code == 401
    assert get(http, server, path.replace("accounts", "nope")).status_code == 404


# --- capabilities ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("capabilities", "announced"),
    [((), []), (("row-hashes",), ["row-hashes"]), (("row-hashes", "range-stats"), ["range-stats", "row-hashes"])],
)
def test_capabilities_are_announced_and_gate_their_endpoints(
    http: requests.Session, sqlite_url: str, capabilities: tuple[str, ...], announced: list[str]
) -> None:
    app = create_app(sqlite_url, CONFIG.data_types, TOKENS, capabilities=capabilities)
    with serve_in_thread(app) as running:
        assert get(http, running, "status").json()["capabilities"] == announced
        assert get(http, running, "accounts/stats").status_code == (200 if "range-stats" in announced else 404)
        assert get(http, running, "accounts/hashes").status_code == (200 if "row-hashes" in announced else 404)
        assert get(http, running, "accounts/", limit=1).status_code == 200


def test_unknown_capabilities_are_refused(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="unknown capabilities"):
        create_app(sqlite_url, CONFIG.data_types, TOKENS, capabilities=("range-stats", "everything"))
    with pytest.raises(TypeError, match="capabilities"):
        create_app(sqlite_url, CONFIG.data_types, TOKENS, capabilities="range-stats")


# --- PostgreSQL source ----------------------------------------------------------------------------


def test_postgres_and_sqlite_sources_give_the_same_checksums(
    http: requests.Session, server: RunningServer, postgres_url: str, tmp_path: Path
) -> None:
    seed(postgres_url)
    with serve_in_thread(create_app(postgres_url, CONFIG.data_types, TOKENS, max_limit=MAX_LIMIT)) as pg_server:
        for token in TOKENS:
            for spec in (ACCOUNTS, ISSUES):
                for after, up_to in INT_RANGES:
                    params = range_params(after, up_to)
                    assert stats(http, pg_server, spec, token, **params) == stats(http, server, spec, token, **params)
            for after, up_to in STR_RANGES:
                params = range_params(after, up_to)
                assert stats(http, pg_server, TAGS, token, **params) == stats(http, server, TAGS, token, **params)
        assert walk_hashes(http, pg_server, ACCOUNTS, 50) == walk_hashes(http, server, ACCOUNTS, 50)
        assert stats(http, pg_server, ACCOUNTS, "tok-acme") == expected_stats(
            postgres_url, ACCOUNTS, "acme", None, None
        )
        # A bounded range too large to read at once is streamed instead, to the same figures.
        whole = stats(http, pg_server, ACCOUNTS, "tok-acme", after=0, upTo=10**9)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(remote_stats, "COPY_STATS_ROWS", 5)
            assert stats(http, pg_server, ACCOUNTS, "tok-acme", after=0, upTo=10**9) == whole
            assert stats(http, pg_server, ISSUES, "tok-acme", after=0, upTo=10**9) == stats(
                http, server, ISSUES, "tok-acme", after=0, upTo=10**9
            )
        assert whole.count > 5
