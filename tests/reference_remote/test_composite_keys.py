"""The reference remote serves a data type with a composite key (a join table) on PostgreSQL.

Keys travel as JSON arrays (``after``, ``upTo``, ``afterId``, the keys of
``hashes``, ``deletes``); pages follow the key tuple in UTF-8 byte order. Every
expectation is computed here from the rows read straight from PostgreSQL.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from include.migration.configuration.config_parsing import parse_config
from include.migration.source.arrow_pages import decode_page
from include.reference_remote import create_app, seed_source, serve_in_thread
from tests.conftest import DB_PREFIX, fresh_postgres_database

CONFIG = parse_config({
    "data_types": [{
        "name": "issue_labels", "primary_key": ["issue_id", "label"],
        "columns": [{"name": "issue_id", "type": "bigint"}, {"name": "label", "type": "varchar(40)"},
                    {"name": "note", "type": "text"}, {"name": "added_at", "type": "timestamp"}],
    }],
    "installations": [],
})
SPEC = CONFIG.data_type("issue_labels")
ROWS = 60
# Labels that differ by a byte only, on one issue: each its own key, in byte order.
HOSTILE = ["a", "a ", "A", "é", "e\u0301", "😀", "ab"]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, str, str]]:
    """(base url, acme's token, source url)."""
    url = fresh_postgres_database(f"{DB_PREFIX}_composite_source")
    seed_source(url, [SPEC], ["acme", "globex"], ROWS)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for label in HOSTILE:
            conn.execute(sa.text("INSERT INTO issue_labels (installation_id, issue_id, label, note, added_at) "
                                 "VALUES ('acme', 3, :l, 'hostile', '2026-01-01T00:00:00Z')"), {"l": label})
    engine.dispose()
    token = secrets.token_urlsafe(12)
    with serve_in_thread(create_app(url, CONFIG.data_types, {token: "acme", "other": "globex"})) as server:
        yield server.base_url, token, url


def _keys_at_source(url: str) -> list[tuple[int, str]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT issue_id, label FROM issue_labels WHERE installation_id = 'acme'"))
            return sorted((int(i), str(label)) for i, label in rows)  # Python's str order is code-point order
    finally:
        engine.dispose()


def _get(served: tuple[str, str, str], path: str, **params: Any) -> requests.Response:
    return requests.get(f"{served[0]}/data-migration/issue_labels/{path}", params=params,
                        headers={"Authorization": f"Bearer {served[1]}"}, timeout=10)


def test_seeded_keys_are_unique_tuples() -> None:
    from include.reference_remote.seed import key_values

    keys = key_values(SPEC, 30)
    assert len(set(keys)) == 30 and keys[:2] == [(1, "0000000001"), (1, "0000000002")] and keys[9] == (2, "0000000001")


@pytest.mark.parametrize("page_format", ["json", "arrow"])
def test_pages_follow_the_key_tuple_in_byte_order(served, page_format: str) -> None:
    seen: list[tuple[int, str]] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 7, "format": page_format}
        if after is not None:
            params["after"] = json.dumps(after)
        answer = _get(served, "", **params)
        assert answer.status_code == 200, answer.text
        if page_format == "arrow":
            table, installation, pagination = decode_page(answer.content)
            keys = list(zip(table.column("issue_id").to_pylist(), table.column("label").to_pylist()))
        else:
            body = answer.json()
            installation, pagination = body["installation"], body["pagination"]
            keys = [(row[0], row[1]) for row in body["data"]]
        assert installation == "acme"
        seen += keys
        after = pagination["afterId"]
        if after is None:
            break
        assert after == list(keys[-1])  # the last row's key, as an array
    assert seen == _keys_at_source(served[2])
    assert [label for issue, label in seen if issue == 3 and label in HOSTILE] == sorted(HOSTILE)


def test_stats_and_hashes_take_array_bounds(served) -> None:
    keys = _keys_at_source(served[2])
    low, high = keys[4], keys[20]
    stats = _get(served, "stats", after=json.dumps(low), upTo=json.dumps(high))
    assert stats.status_code == 200, stats.text
    assert stats.json()["count"] == 16
    hashes = _get(served, "hashes", after=json.dumps(low), upTo=json.dumps(high), limit=10).json()
    assert [tuple(k) for k in hashes["keys"]] == keys[5:15]
    assert hashes["pagination"]["afterId"] == list(keys[14])


@pytest.mark.parametrize(
    ("after", "problem"),
    [("5", "must be a JSON array of 2 key values"), ("[1]", "must be a JSON array of 2 key values"),
     ("[1, 2, 3]", "must be a JSON array of 2 key values"), ("not json", "must be a JSON array of 2 key values"),
     ("[1, 2]", "key value 2 in '[1, 2]' must be a string"), ('["x", "y"]', "key value 'x' in '[\"x\", \"y\"]' must be an integer")],
)
def test_a_malformed_composite_cursor_is_a_422_naming_it(served, after: str, problem: str) -> None:
    answer = _get(served, "", after=after)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == f"after {problem}" or answer.json()["detail"].startswith(f"after {problem}")


def test_rows_written_back_and_deleted_by_composite_key(served) -> None:
    url = f"{served[0]}/data-migration/issue_labels/rows"
    headers = {"Authorization": f"Bearer {served[1]}"}
    body = {"headers": ["issue_id", "label", "note", "added_at"],
            "data": [[3, "a ", "changed", "2026-02-02T00:00:00.000000Z"], [99, "new", None, None]],
            "deletes": [[3, "A"]]}
    answer = requests.post(url, json=body, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["upserted"], answer.json()["deleted"]) == (2, 1)
    keys = _keys_at_source(served[2])
    assert (3, "A") not in keys and (3, "a") in keys and (3, "a ") in keys and (99, "new") in keys
    refused = requests.post(url, json={**body, "data": [], "deletes": [3]}, headers=headers, timeout=10)
    assert refused.status_code == 422 and "arrays of 2 key values" in refused.text
