"""Validation on the real services: drift is found key by key, repaired, and proven green."""

from __future__ import annotations

import json

import pytest

from include.migration.configuration.config import MigrationConfig
from include.migration.orchestration import runtime
from include.migration.source.client import RemoteClient
from include.migration.steps.validation.validator import validate_data_type
from include.migration.target.connection import open_target
from include.migration.target.profiles import get_profile
from include.reference_remote.app import create_app
from include.reference_remote.server import serve_in_thread
from tests.conftest import mariadb_connection, target_database_name
from tests.support import source_rows, target_rows


@pytest.fixture
def copied(remote, fresh_targets, config):
    """acme fully copied into a fresh target."""
    runtime.prepare_target("acme")
    for spec in config.data_types:
        assert runtime.transfer("acme", spec.name, "copy")["done"]
    return config


def _corrupt_users() -> None:
    conn = mariadb_connection(target_database_name("acme"))
    cursor = conn.cursor()
    cursor.execute("UPDATE users SET display_name = 'tampered' WHERE id = 17")        # a changed value
    cursor.execute("UPDATE users SET balance = NULL WHERE id = 2500 AND balance IS NOT NULL")  # a changed NULL
    if cursor.rowcount == 0:
        cursor.execute("UPDATE users SET balance = 1.00 WHERE id = 2500")
    cursor.execute("DELETE FROM users WHERE id = 4321")                                  # a deleted row
    cursor.execute("INSERT INTO users (id, email, created_at, is_active) "
                   "VALUES (10000000, 'ghost@example.com', '2026-01-01', 1)")            # an extra row
    cursor.execute("UPDATE users SET is_active = 1 - is_active WHERE id = 9999")         # a flipped boolean
    conn.close()


def test_validation_finds_exactly_the_drifted_keys_and_repairs_them(copied, source_url):
    spec = copied.data_type("users")
    clean = runtime.validate("acme", "users", "v0", transfer_done=True)
    assert clean["green"] and not clean["changed"] and clean["mismatched_chunks"] == []
    assert clean["rows_source"] == clean["rows_target"] == 10_000
    assert clean["method"] == "RemoteStatsSource"

    _corrupt_users()
    result = runtime.validate("acme", "users", "v1", transfer_done=True)
    assert result["green"] and result["changed"]
    assert result["missing_keys"] == [4321]
    assert result["different_keys"] == [17, 2500, 9999]
    assert result["extra_keys"] == [10000000]
    assert (result["repaired_rows"], result["deleted_rows"]) == (4, 1)
    assert target_rows("acme", spec) == source_rows(source_url, spec, "acme")

    again = runtime.validate("acme", "users", "v2", transfer_done=True)
    assert again["green"] and not again["changed"] and again["mismatched_chunks"] == []

    conn = mariadb_connection(target_database_name("acme"))
    cursor = conn.cursor()
    cursor.execute("SELECT validation_id, green, repaired_rows, deleted_rows, mismatching_keys "
                   "FROM _migration_validation ORDER BY validated_at")
    records = cursor.fetchall()
    conn.close()
    assert [r[0] for r in records] == ["v0:users", "v1:users", "v2:users"]
    assert records[1][1:4] == (1, 4, 1)
    assert json.loads(records[1][4]) == {"missing": [4321], "different": [17, 2500, 9999], "extra": [10000000]}


def test_a_remote_without_statistics_still_validates(copied, source_url, tokens, config: MigrationConfig):
    """Only the status and data endpoints: the client re-reads pages and hashes them itself."""
    spec = config.data_type("issues")  # an updated_at-mode data type, read back in key order
    conn = mariadb_connection(target_database_name("acme"))
    conn.cursor().execute("UPDATE issues SET title = 'tampered' WHERE id = 42")
    conn.cursor().execute("DELETE FROM issues WHERE id = 7000")
    conn.close()
    app = create_app(source_url, config.data_types, {tokens["acme"]: "acme"}, capabilities=())
    with serve_in_thread(app) as basic:
        import requests

        session = requests.Session()
        client = RemoteClient(session, basic.base_url, tokens["acme"], "acme")
        capabilities = client.status()["capabilities"]
        assert capabilities == []
        profile = get_profile("mysql")
        db = open_target("migration_target_acme", profile)
        try:
            result = validate_data_type(
                installation_id="acme", spec=spec, client=client, capabilities=capabilities, db=db,
                profile=profile, grace_seconds=0,
            )
        finally:
            db.close()
    assert result.method == "PageScanSource"
    assert result.green and result.missing_keys == [7000] and result.different_keys == [42]
    assert result.repaired_rows == 2 and result.deleted_rows == 0
    assert target_rows("acme", spec) == source_rows(source_url, spec, "acme")


def test_a_transient_mismatch_is_rechecked_after_the_grace_delay(copied, source_url, config):
    """A row that settles during the grace delay is not counted as drift."""
    spec = config.data_type("comments")
    conn = mariadb_connection(target_database_name("acme"))
    conn.cursor().execute("DELETE FROM comments WHERE id = 55")
    slept = []

    def settle(seconds: float) -> None:
        slept.append(seconds)
        # Meanwhile the next transfer (here: a direct repair) brings the row back.
        cursor = conn.cursor()
        row = next(r for r in source_rows(source_url, spec, "acme") if r[0] == 55)
        cursor.execute("INSERT INTO comments (id, issue_id, author_id, body, created_at) VALUES (%s, %s, %s, %s, %s)", row)

    client = RemoteClient.from_conn_id("migration_remote_acme", "acme")
    profile = get_profile("mysql")
    db = open_target("migration_target_acme", profile)
    try:
        result = validate_data_type(
            installation_id="acme", spec=spec, client=client, capabilities=["range-stats", "row-hashes"], db=db,
            profile=profile, grace_seconds=5, sleep=settle,
        )
    finally:
        db.close()
        conn.close()
    assert slept == [5]
    assert result.green and result.mismatched_chunks and not result.changed
    assert result.missing_keys == [] and result.repaired_rows == 0


def test_remote_and_target_checksums_agree_for_every_column_type(copied):
    """The same rows hash the same on the remote (PostgreSQL values) and the target (MariaDB values)."""
    from include.migration.steps.validation.chunks import Chunk
    from include.migration.steps.validation.target_side import TargetReader

    client = RemoteClient.from_conn_id("migration_remote_acme", "acme")
    db = open_target("migration_target_acme", get_profile("mysql"))
    try:
        for spec in copied.data_types:  # bigint, int, varchar, text, decimal, double, boolean, timestamp, date, json
            remote_stats = client.range_stats(spec.name, None, None)
            target_stats = TargetReader(db, spec).stats(Chunk(None, None))
            assert int(remote_stats["count"]) == target_stats.count == 10_000
            assert int(remote_stats["checksum"]) == target_stats.checksum, spec.name
    finally:
        db.close()


def test_soft_delete_data_types_mark_rows_instead_of_deleting(remote, fresh_targets, config, source_url):
    from include.migration.steps.transfer import run_transfer
    from include.migration.target.schema import prepare_schema
    from include.migration.target.writer import UpsertWriter
    from include.migration.values.pages import PageConverter

    spec = config.data_type("comments").model_copy(update={"soft_delete_column": "deleted_at"})
    profile = get_profile("mysql")
    client = RemoteClient.from_conn_id("migration_remote_acme", "acme")
    db = open_target("migration_target_acme", profile)
    try:
        prepare_schema(db, [spec], profile, "acme")
        run_transfer(installation=config.installation("acme"), data_type=spec, client=client, db=db,
                     profile=profile, run_id="soft", budget_seconds=600)
        db.execute("INSERT INTO comments (id, issue_id, author_id, body, created_at) "
                   "VALUES (777777, 1, 1, 'gone at the source', '2026-01-01')")
        result = validate_data_type(installation_id="acme", spec=spec, client=client,
                                    capabilities=["range-stats", "row-hashes"], db=db, profile=profile, grace_seconds=0)
        assert result.green and result.extra_keys == [777777] and result.deleted_rows == 1
        marked = db.query("SELECT deleted_at IS NOT NULL FROM comments WHERE id = 777777")
        assert marked == [(1,)]  # kept, marked deleted
        again = validate_data_type(installation_id="acme", spec=spec, client=client,
                                   capabilities=["range-stats", "row-hashes"], db=db, profile=profile, grace_seconds=0)
        assert again.green and not again.changed
        # If the source has the row again, the upsert clears the mark.
        back = PageConverter("acme", spec).rows(list(spec.column_names), [[777777, 1, 1, "back", "2026-01-01T00:00:00Z"]])
        UpsertWriter(db, spec, profile, installation_id="acme").write(back)
        assert db.query("SELECT deleted_at FROM comments WHERE id = 777777") == [(None,)]
    finally:
        db.close()
