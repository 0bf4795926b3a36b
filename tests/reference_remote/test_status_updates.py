"""Capability status-updates on the reference remote over PostgreSQL: stored, scoped by token, bounded."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
import sqlalchemy as sa

from include.reference_remote.app import CAPABILITIES, create_app
from include.reference_remote.seed import seed_source
from include.reference_remote.server import RunningServer, serve_in_thread
from include.reference_remote.status_updates import MAX_EVIDENCE_BYTES, STATUS_UPDATES
from tests.reference_remote.support import CONFIG, TOKENS


@pytest.fixture(scope="module")
def seeded(postgres_url: str) -> str:
    seed_source(postgres_url, CONFIG.data_types, list(TOKENS.values()), 10, statuses={"globex": "PENDING"})
    return postgres_url


@pytest.fixture(scope="module")
def server(seeded: str) -> Iterator[RunningServer]:
    with serve_in_thread(create_app(seeded, CONFIG.data_types, TOKENS)) as running:
        yield running


def put(http: requests.Session, server: RunningServer, token: str, body: object, **headers: str) -> requests.Response:
    return http.put(f"{server.base_url}/data-migration/status", json=body, timeout=30,
                    headers={"Authorization": f"Bearer {token}", **headers})


def stored(url: str) -> dict[str, tuple[str, dict]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT installation_id, status, evidence FROM migration_status")).all()
    finally:
        engine.dispose()
    return {i: (s, json.loads(e) if e else {}) for i, s, e in rows}


def test_a_put_stores_status_and_evidence_for_the_tokens_installation_only(http, server, seeded) -> None:
    evidence = {"dataTypes": {"accounts": {"rowsSource": 10, "checksum": "123", "green": True}}}
    answer = put(http, server, "tok-acme", {"status": "DONE", "evidence": evidence})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["installation"], body["status"], body["evidence"]) == ("acme", "DONE", evidence) and body["updatedAt"]
    again = put(http, server, "tok-acme", {"status": "DONE", "evidence": evidence})  # idempotent
    assert again.status_code == 200 and again.json()["evidence"] == evidence
    assert stored(seeded) == {"acme": ("DONE", evidence), "globex": ("PENDING", {})}
    assert http.get(f"{server.base_url}/data-migration/status", headers={"Authorization": "Bearer tok-acme"},
                    timeout=30).json()["status"] == "DONE"


def test_a_put_is_refused_without_a_valid_token_or_for_another_installation(http, server, seeded) -> None:
    before = stored(seeded)
    assert put(http, server, "nope", {"status": "DONE"}).status_code == 401
    assert put(http, server, "tok-acme", {"status": "DONE"}, **{"X-Installation-Id": "globex"}).status_code == 403
    assert put(http, server, "tok-acme", {"status": "FINISHED"}).status_code == 422
    assert put(http, server, "tok-acme", {"status": "DONE", "extra": 1}).status_code == 422
    big = {"status": "DONE", "evidence": {"blob": "x" * (MAX_EVIDENCE_BYTES + 1)}}
    assert put(http, server, "tok-acme", big).status_code == 413
    assert stored(seeded) == before


def test_without_the_capability_there_is_no_write_endpoint(http, seeded) -> None:
    capabilities = [c for c in CAPABILITIES if c != STATUS_UPDATES]
    with serve_in_thread(create_app(seeded, CONFIG.data_types, TOKENS, capabilities=capabilities)) as server:
        assert put(http, server, "tok-acme", {"status": "DONE"}).status_code == 405
        status = http.get(f"{server.base_url}/data-migration/status", headers={"Authorization": "Bearer tok-acme"},
                          timeout=30).json()
    assert STATUS_UPDATES not in status["capabilities"]
