"""A composite-key data type (a join table) copied from PostgreSQL through the reference remote into MariaDB.

Pages followed by the key tuple (JSON and Arrow), a checkpoint stored as a JSON
array and resumed, keys that differ by one byte in their varchar part kept
apart; then validation (with the remote's range statistics and by re-reading
pages) finds and repairs a missing, a changed and an extra row by their key
tuples. Rows are compared value by value with both databases read by their own
drivers.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import secrets
from collections.abc import Iterator
from typing import Any

import MySQLdb
import pytest
import requests
import sqlalchemy as sa

from include.migration.configuration.config_parsing import parse_config
from include.migration.source.client import RemoteClient
from include.migration.steps.transfer import run_transfer
from include.migration.steps.validation.validator import validate_data_type
from include.migration.target.connection import MySqlTarget
from include.migration.target.profiles import get_profile
from include.migration.target.schema import prepare_schema
from include.migration.target.state import StateStore
from include.reference_remote import create_app, seed_source, serve_in_thread
from tests.conftest import DB_PREFIX, MARIADB, fresh_mariadb_database, fresh_postgres_database

INSTALLATION = "joins"
DATABASE = f"{DB_PREFIX}_composite_target"
CONFIG = parse_config({
    "data_types": [{
        "name": "issue_labels", "primary_key": ["issue_id", "label"], "page_size": 25,
        "columns": [{"name": "issue_id", "type": "bigint"}, {"name": "label", "type": "varchar(40)"},
                    {"name": "note", "type": "text"}, {"name": "added_at", "type": "timestamp"}],
    }],
    "installations": [{"id": INSTALLATION, "remote_conn_id": "r", "target_conn_id": "t"}],
})
SPEC = CONFIG.data_type("issue_labels")
HOSTILE = ["a", "a ", "A", "é", "e\u0301", "😀", "ab"]
ROWS = 200


@pytest.fixture(scope="module")
def remote() -> Iterator[tuple[str, str, str]]:
    url = fresh_postgres_database(f"{DB_PREFIX}_composite_transfer_source")
    seed_source(url, [SPEC], [INSTALLATION], ROWS)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for label in HOSTILE:
            conn.execute(sa.text("INSERT INTO issue_labels (installation_id, issue_id, label, note, added_at) "
                                 "VALUES (:i, 3, :l, 'hostile', '2026-01-01T00:00:00.5Z')"), {"i": INSTALLATION, "l": label})
    engine.dispose()
    token = secrets.token_urlsafe(12)
    with serve_in_thread(create_app(url, CONFIG.data_types, {token: INSTALLATION})) as server:
        yield server.base_url, token, url


@pytest.fixture
def target() -> Iterator[MySqlTarget]:
    fresh_mariadb_database(DATABASE, "utf8mb4_general_ci")
    db = MySqlTarget(MySQLdb.connect(**MARIADB, db=DATABASE, charset="utf8mb4"), get_profile("mysql"))
    prepare_schema(db, [SPEC], get_profile("mysql"), INSTALLATION)
    yield db
    db.close()


def _source(url: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT issue_id, label, note, added_at FROM issue_labels "
                                        "WHERE installation_id = :i"), {"i": INSTALLATION}).all()
    finally:
        engine.dispose()
    utc = dt.timezone.utc
    return sorted((int(a), b, c, d.astimezone(utc).replace(tzinfo=None) if d else None) for a, b, c, d in rows)


def _target(db: MySqlTarget) -> list[tuple[Any, ...]]:
    return sorted(tuple(r) for r in db.query("SELECT issue_id, label, note, added_at FROM issue_labels"))


class _Clock:
    """Monotonic time that jumps past the budget after ``pages`` readings: the transfer stops early."""

    def __init__(self, stop_after: int) -> None:
        self._ticks = itertools.count()
        self.stop_after = stop_after

    def __call__(self) -> float:
        return 0.0 if next(self._ticks) < self.stop_after else 10_000.0


@pytest.mark.parametrize("page_format", ["json", "arrow"])
def test_a_join_table_is_copied_and_resumed_by_its_key_tuple(remote, target, page_format: str) -> None:
    spec = SPEC.model_copy(update={"page_format": page_format})
    client = RemoteClient(requests.Session(), remote[0], remote[1], INSTALLATION)
    installation = CONFIG.installation(INSTALLATION)
    try:
        first = run_transfer(installation=installation, data_type=spec, client=client, db=target,
                             profile=get_profile("mysql"), run_id="first", budget_seconds=60, clock=_Clock(3))
        assert not first.done and 0 < first.rows < ROWS
        stored = StateStore(target).get("data_type:issue_labels")
        assert stored is not None and isinstance(stored.checkpoint, list) and len(stored.checkpoint) == 2
        assert tuple(stored.checkpoint) == max(k[:2] for k in _target(target))  # the last key copied, as an array
        rest = run_transfer(installation=installation, data_type=spec, client=client, db=target,
                            profile=get_profile("mysql"), run_id="rest", budget_seconds=60)
    finally:
        client.close()
    assert rest.done and first.rows + rest.rows == ROWS + len(HOSTILE)  # resumed after the checkpoint: nothing twice
    assert _target(target) == _source(remote[2])
    labels = [r[1] for r in _target(target) if r[0] == 3 and r[2] == "hostile"]
    assert sorted(labels) == sorted(HOSTILE)  # seven keys, not merged by case, accents or trailing spaces
    ddl = target.query("SHOW CREATE TABLE issue_labels")[0][1]
    assert "PRIMARY KEY (`issue_id`,`label`)" in ddl and "utf8mb4_nopad_bin" in ddl, ddl
    assert json.loads(json.dumps(stored.checkpoint)) == stored.checkpoint


@pytest.mark.parametrize("capabilities", [["range-stats", "row-hashes"], []], ids=["range-stats", "page-scan"])
def test_validation_repairs_a_join_table_by_key_tuple(remote, target, capabilities: list[str]) -> None:
    spec = SPEC.model_copy(update={"validation_chunk_rows": 10})
    client = RemoteClient(requests.Session(), remote[0], remote[1], INSTALLATION)
    try:
        copied = run_transfer(installation=CONFIG.installation(INSTALLATION), data_type=spec, client=client,
                              db=target, profile=get_profile("mysql"), run_id="copy", budget_seconds=60)
        assert copied.done
        target.execute("DELETE FROM issue_labels WHERE issue_id = 3 AND label = %s", ("a ",))
        target.execute("UPDATE issue_labels SET note = 'changed' WHERE issue_id = 3 AND label = %s", ("A",))
        target.execute("INSERT INTO issue_labels (issue_id, label, note) VALUES (3, %s, 'extra')", ("a   ",))
        result = validate_data_type(installation_id=INSTALLATION, spec=spec, client=client, capabilities=capabilities,
                                    db=target, profile=get_profile("mysql"), grace_seconds=0, repair=True)
    finally:
        client.close()
    assert result.green, result.as_dict()
    assert (result.missing_keys, result.different_keys, result.extra_keys) == ([(3, "a ")], [(3, "A")], [(3, "a   ")])
    assert (result.repaired_rows, result.deleted_rows) == (2, 1)
    assert _target(target) == _source(remote[2])
