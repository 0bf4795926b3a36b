"""The overview against real migrations in MariaDB: every number is the one the databases hold."""

from __future__ import annotations

import datetime as dt
import json

from include.migration.config import MigrationConfig
from include.migration.overview import installation_overview, overview_document, sanitize_error
from tests.conftest import ROWS_PER_TYPE
from tests.dashboard.conftest import GLOBEX_KEPT_USERS, real_counts, state_table, validation_table


def _by_id(entries: list[dict]) -> dict[str, dict]:
    return {e["id"]: e for e in entries}


def _utc(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="microseconds") + "Z"


def test_overview_numbers_are_the_real_ones(migrated: MigrationConfig) -> None:
    entries = installation_overview(migrated)
    assert [e["id"] for e in entries] == [i.id for i in migrated.installations]
    counts = real_counts(migrated)
    for entry in entries:
        assert entry["error"] is None, entry["error"]
        for item in entry["data_types"]:
            assert item["rows_target"] == counts[(entry["id"], item["name"])], (entry["id"], item["name"])
    json.dumps(entries)  # JSON-able as it is

    acme = _by_id(entries)["acme"]
    state = state_table("acme")
    assert acme["status"] == "DONE" == state["__DATA_MIGRATION__"]["status"]
    assert acme["finished_at"] == _utc(state["__DATA_MIGRATION__"]["finished_at"])
    assert acme["quiet_passes"] == state["__DATA_MIGRATION__"]["quiet_passes"] == 1
    assert acme["rows_target"] == acme["rows_source"] == 3 * ROWS_PER_TYPE
    assert acme["progress_percent"] == 100.0
    assert acme["enabled"] is True and acme["dag_id"] == "migrate_acme" and acme["last_error"] is None
    records = validation_table("acme")
    assert len(records) == 6  # three data types, two runs
    for item in acme["data_types"]:
        row = state[f"data_type:{item['name']}"]
        assert item["status"] == row["status"] == "DONE"
        assert item["rows_target"] == item["rows_source"] == ROWS_PER_TYPE
        assert item["progress_percent"] == 100.0
        assert item["rows_copied"] == row["rows_copied"] == ROWS_PER_TYPE  # the quiet pass copied nothing
        assert item["pages_copied"] == row["pages_copied"]
        assert item["checkpoint"] == json.loads(row["checkpoint"])
        assert item["updated_at"] == _utc(row["updated_at"]) and item["created_at"] == _utc(row["created_at"])
        seconds = (row["updated_at"] - row["created_at"]).total_seconds()
        assert item["throughput_rows_per_second"] == row["rows_copied"] / seconds
        assert item["eta_seconds"] == 0.0
        newest = [r for r in records if r["data_type"] == item["name"]][-1]
        last = item["last_validation"]
        assert last["run_id"] == newest["run_id"] == "run-2"
        assert last["green"] is True and last["validated_at"] == _utc(newest["validated_at"])
        assert (last["rows_source"], last["rows_target"], last["chunks"]) == (
            newest["rows_source"], newest["rows_target"], newest["chunks"],
        )
        assert (last["repaired_rows"], last["deleted_rows"], last["mismatched_chunks"]) == (0, 0, 0)
    assert [(h["run_id"], h["data_type"], h["rows_target"], h["validated_at"]) for h in acme["history"]] == [
        (r["run_id"], r["data_type"], r["rows_target"], _utc(r["validated_at"])) for r in records
    ]


def test_a_target_behind_its_source_has_progress_throughput_and_eta(migrated: MigrationConfig) -> None:
    globex = _by_id(installation_overview(migrated))["globex"]
    users = next(d for d in globex["data_types"] if d["name"] == "users")
    row = state_table("globex")["data_type:users"]
    assert globex["status"] == "IN_PROGRESS"
    assert users["rows_target"] == GLOBEX_KEPT_USERS and users["rows_source"] == ROWS_PER_TYPE
    assert users["progress_percent"] == 75.0
    throughput = row["rows_copied"] / (row["updated_at"] - row["created_at"]).total_seconds()
    assert users["throughput_rows_per_second"] == throughput > 0
    assert users["eta_seconds"] == (ROWS_PER_TYPE - GLOBEX_KEPT_USERS) / throughput
    others = [d for d in globex["data_types"] if d["name"] != "users"]
    assert [(d["status"], d["rows_target"], d["rows_source"], d["last_validation"]) for d in others] == [
        (None, 0, None, None), (None, 0, None, None),
    ]
    assert globex["rows_source"] is None and globex["progress_percent"] is None  # not every source is known


def test_an_unfinished_never_validated_installation(migrated: MigrationConfig) -> None:
    partial = _by_id(installation_overview(migrated))["partial"]
    (comments,) = partial["data_types"]
    row = state_table("partial")["data_type:comments"]
    assert partial["status"] == comments["status"] == "IN_PROGRESS"
    assert 0 < comments["rows_target"] == row["rows_copied"] < ROWS_PER_TYPE
    assert comments["checkpoint"] == json.loads(row["checkpoint"])
    assert comments["rows_source"] is None and comments["progress_percent"] is None and comments["eta_seconds"] is None
    assert partial["history"] == []


def test_untouched_and_disabled_installations(migrated: MigrationConfig) -> None:
    entries = _by_id(installation_overview(migrated))
    for ident in ("tiny", "mutable", "dormant"):
        entry = entries[ident]
        assert entry["error"] is None and entry["status"] is None and entry["history"] == []
        assert all(d["rows_target"] is None and d["status"] is None for d in entry["data_types"])
    assert entries["dormant"]["enabled"] is False
    assert [d["name"] for d in entries["tiny"]["data_types"]] == ["issues"]


def test_an_unreachable_target_is_an_error_entry_without_its_password(migrated, tiny_unreachable) -> None:
    started = dt.datetime.now()
    document = overview_document(migrated)
    elapsed = (dt.datetime.now() - started).total_seconds()
    entries = _by_id(document["installations"])
    tiny = entries["tiny"]
    assert tiny["error"] and "OperationalError" in tiny["error"], tiny["error"]
    assert tiny["data_types"] == [] and tiny["status"] is None and tiny["id"] == "tiny"
    assert tiny_unreachable not in json.dumps(document)
    assert entries["acme"]["status"] == "DONE" and entries["acme"]["error"] is None  # the others still read
    assert elapsed < 10, f"one target down slowed the overview to {elapsed:.1f}s"


def test_error_text_is_sanitized() -> None:
    text = sanitize_error(
        "connect mysql://app:hunter2@db.example.com:3306/x failed; headers {'Authorization': 'Bearer abc.def-123'}; "
        "password=pa55 token: tok-9 {\"password\": \"two words\"} pwd='q q' secret=\"a,b\""
    )
    for secret in ("hunter2", "abc.def-123", "pa55", "tok-9", "two words", "q q", "a,b"):
        assert secret not in text, text
    assert "mysql://app:***@db.example.com" in text and '{"password": "***"}' in text
    mysql = "OperationalError: (1045, \"Access denied for user 'x'@'127.0.0.1' (using password: YES)\")"
    assert sanitize_error(mysql) == mysql  # says only that one was sent
