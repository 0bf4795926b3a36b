"""Capability remote-writes on the reference remote over PostgreSQL: batches upserted and deleted by key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from include.migration.source.client import RemoteClient, RemoteFatalError
from include.reference_remote.app import create_app
from include.reference_remote.remote_writes import MAX_WRITE_ROWS
from include.reference_remote.seed import seed_source
from include.reference_remote.server import RunningServer, serve_in_thread
from tests.reference_remote.support import ACCOUNTS, CONFIG, TOKENS


@pytest.fixture(scope="module")
def seeded(postgres_url: str) -> str:
    seed_source(postgres_url, CONFIG.data_types, list(TOKENS.values()), 20)
    return postgres_url


@pytest.fixture(scope="module")
def server(seeded: str) -> Iterator[RunningServer]:
    with serve_in_thread(create_app(seeded, CONFIG.data_types, TOKENS)) as running:
        yield running


def client(server: RunningServer, installation: str) -> RemoteClient:
    token = next(t for t, i in TOKENS.items() if i == installation)
    return RemoteClient(requests.Session(), server.base_url, token, installation)


def all_rows(server: RunningServer, installation: str) -> dict[object, list[object]]:
    page = client(server, installation).fetch_page("accounts", None, 1000)
    return {row[0]: row for row in page.data}


def test_a_batch_upserts_and_deletes_by_key_in_the_tokens_installation_only(server) -> None:
    before, others = all_rows(server, "acme"), all_rows(server, "globex")
    changed = list(before[3])
    changed[ACCOUNTS.column_names.index("name")] = "written back"
    new = list(before[4])
    new[0] = 1_000_001
    answer = client(server, "acme").write_rows("accounts", list(ACCOUNTS.column_names), [changed, new], deletes=[5, 6])
    assert (answer["upserted"], answer["deleted"]) == (2, 2)
    after = all_rows(server, "acme")
    assert after[3] == changed and after[1_000_001] == new and 5 not in after and 6 not in after
    assert {k: v for k, v in after.items() if k not in (3, 1_000_001)} == {k: v for k, v in before.items() if k not in (3, 5, 6)}
    again = client(server, "acme").write_rows("accounts", list(ACCOUNTS.column_names), [changed, new], deletes=[5, 6])
    assert (again["upserted"], again["deleted"]) == (2, 0) and all_rows(server, "acme") == after  # a retry changes nothing
    assert all_rows(server, "globex") == others


def test_bad_batches_are_refused_and_write_nothing(server, http) -> None:
    before = all_rows(server, "acme")
    row = list(before[1])
    url = f"{server.base_url}/data-migration/accounts/rows"
    auth = {"Authorization": "Bearer tok-acme"}
    other = http.post(url, json={"headers": list(ACCOUNTS.column_names), "data": [row], "installation": "globex"},
                      headers=auth, timeout=30)
    assert other.status_code == 403
    too_many = http.post(url, json={"headers": list(ACCOUNTS.column_names), "deletes": list(range(MAX_WRITE_ROWS + 1))},
                         headers=auth, timeout=30)
    assert too_many.status_code == 413
    bad = list(row)
    bad[ACCOUNTS.column_names.index("name")] = 12345
    refused = http.post(url, json={"headers": list(ACCOUNTS.column_names), "data": [row, bad], "deletes": [2]},
                        headers=auth, timeout=30)
    assert refused.status_code == 422 and "column 'name'" in refused.text and "installation 'acme'" in refused.text
    assert http.post(url, json={"headers": [], "data": []}, timeout=30).status_code == 401
    assert all_rows(server, "acme") == before
    with pytest.raises(RemoteFatalError, match="HTTP 413"):
        client(server, "acme").write_rows("accounts", list(ACCOUNTS.column_names), [], deletes=list(range(MAX_WRITE_ROWS + 1)))
