"""The overview against real migrations in MariaDB: every number is the one the databases hold."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest

from include.migration.configuration.config import InstallationSpec, MigrationConfig
from include.migration.steps.validation.records import record_validation
from include.migration.steps.validation.validator import ValidationResult
from include.migration.target.connection import open_target
from include.migration.target.profiles import get_profile
from include.migration.target.schema import prepare_schema
from include.migration.target.state import StateStore
from include.migration.views.dashboard.chart import PALETTE
from include.migration.views.dashboard.page import render_page
from include.migration.views.error_redaction import sanitize_error
from include.migration.views.overview import installation_overview, overview_document
from include.migration.views.progress import THROUGHPUT_WINDOW, recent_throughput
from tests.conftest import MARIADB, ROWS_PER_TYPE, mariadb_connection, target_database_name
from tests.views.dashboard.conftest import GLOBEX_KEPT_USERS, real_counts, state_table, validation_table


def _by_id(entries: list[dict]) -> dict[str, dict]:
    return {e["id"]: e for e in entries}


def _utc(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="microseconds") + "Z"


def _parse(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso.removesuffix("Z"))


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
        # Throughput: the transfers that copied rows (run-1's), not the quiet run-2 or the time between runs.
        recent = json.loads(row["recent_transfers"])
        assert [(t["run_id"], t["rows"]) for t in recent] == [("run-1", ROWS_PER_TYPE), ("run-2", 0)]
        window = item["throughput_window"]
        assert (window["transfers"], window["rows"], window["seconds"]) == (1, ROWS_PER_TYPE, recent[0]["seconds"])
        assert window["last_finished_at"] == window["first_finished_at"] == _utc(_parse(recent[0]["finished_at"]))
        assert item["throughput_rows_per_second"] == pytest.approx(ROWS_PER_TYPE / recent[0]["seconds"])
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
    (transfer,) = json.loads(row["recent_transfers"])
    assert transfer["run_id"] == "g-1" and transfer["rows"] == ROWS_PER_TYPE
    throughput = ROWS_PER_TYPE / transfer["seconds"]
    assert users["throughput_rows_per_second"] == pytest.approx(throughput)
    assert users["eta_seconds"] == pytest.approx((ROWS_PER_TYPE - GLOBEX_KEPT_USERS) / throughput)
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


SPEEDY = "speedy"


@pytest.fixture
def speedy(config: MigrationConfig, monkeypatch: pytest.MonkeyPatch) -> Iterator[MigrationConfig]:
    """An installation migrating users for two days: 30,000 rows copied, 6,000 of 9,000 in the target now.

    Its recent transfers: one slow one long ago (500 rows in 50 s), then five of 3,000 rows in 1 s each,
    with two that copied nothing in between.
    """
    database = target_database_name(SPEEDY)
    conn = mariadb_connection()
    conn.query(f"DROP DATABASE IF EXISTS `{database}`")
    conn.query(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    conn.close()
    monkeypatch.setenv(
        f"AIRFLOW_CONN_MIGRATION_TARGET_{SPEEDY.upper()}",
        json.dumps({"conn_type": "mysql", "host": MARIADB["host"], "port": MARIADB["port"],
                    "login": MARIADB["user"], "schema": database}),
    )
    installation = InstallationSpec(
        id=SPEEDY, remote_conn_id=f"migration_remote_{SPEEDY}", target_conn_id=f"migration_target_{SPEEDY}",
        data_types=("users",),
    )
    speedy_config = MigrationConfig(data_types=config.data_types, installations=(installation,))
    profile = get_profile("mysql", {})
    db = open_target(installation.target_conn_id, profile)
    try:
        prepare_schema(db, speedy_config.data_types_for(installation), profile, SPEEDY)
        db.execute(
            "INSERT INTO users (id, email, created_at, is_active) "
            "SELECT seq, CONCAT('u', seq, '@example.com'), NOW(), 1 FROM seq_1_to_6000"
        )
        state = StateStore(db)
        state.start_data_type("users", "s-0")
        for index, (rows, seconds) in enumerate([(500, 50.0), (3_000, 1.0), (3_000, 1.0), (0, 2.0), (3_000, 1.0),
                                                 (3_000, 1.0), (0, 0.5), (3_000, 1.0)]):
            state.record_transfer("users", f"s-{index}", rows, seconds)
        state.save_checkpoint("users", 6_000, 30_000, 60)
        two_days_ago = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(days=2)
        db.execute("UPDATE _migration_state SET created_at = %s WHERE job_id = 'data_type:users'", (two_days_ago,))
        record_validation(db, "s-7", ValidationResult(
            installation=SPEEDY, data_type="users", green=False, rows_source=9_000, rows_target=6_000, chunks=5,
            mismatched_chunks=[], missing_keys=[], different_keys=[], extra_keys=[], repaired_rows=0,
            deleted_rows=0, method="test", seconds=0.1,
        ))
    finally:
        db.close()
    yield speedy_config


def test_throughput_is_the_recent_transfers_not_the_lifetime_average(speedy: MigrationConfig) -> None:
    document = overview_document(speedy)
    (users,) = document["installations"][0]["data_types"]
    row = state_table(SPEEDY)["data_type:users"]
    lifetime = row["rows_copied"] / (row["updated_at"] - row["created_at"]).total_seconds()
    assert lifetime < 1  # what the dashboard showed before: 30,000 rows over two days
    assert users["throughput_rows_per_second"] == pytest.approx(3_000.0)
    assert users["throughput_window"]["transfers"] == 5  # the five newest that copied rows: not the slow one
    assert (users["throughput_window"]["rows"], users["throughput_window"]["seconds"]) == (15_000, 5.0)
    assert (users["rows_source"], users["rows_target"]) == (9_000, 6_000)
    assert users["eta_seconds"] == pytest.approx(1.0)  # 3,000 rows left at 3,000 rows/s
    assert document["throughput_window"] == THROUGHPUT_WINDOW == "the last 5 transfers that copied rows"
    json.dumps(document)

    page = render_page(document)
    assert "Throughput: rows per second over the last 5 transfers that copied rows" in page
    assert re.search(r'title="15,000 rows in 5 s over 5 transfers, the last [^"]+ UTC">3,000 rows/s</td>', page)
    assert 'data-throughput-transfers="5"' in page


def test_a_target_without_recent_transfers_has_no_throughput(speedy: MigrationConfig) -> None:
    """A state table from before ``recent_transfers`` (its target not prepared since): no rate, no error."""
    conn = mariadb_connection(target_database_name(SPEEDY))
    conn.query("ALTER TABLE _migration_state DROP COLUMN recent_transfers")
    conn.close()
    (entry,) = installation_overview(speedy)
    assert entry["error"] is None
    (users,) = entry["data_types"]
    assert (users["throughput_rows_per_second"], users["throughput_window"], users["eta_seconds"]) == (None, None, None)
    assert users["rows_target"] == 6_000 and users["progress_percent"] == pytest.approx(200 / 3)


def test_recent_throughput_window() -> None:
    def transfer(rows: object, seconds: object) -> dict:
        return {"run_id": "r", "rows": rows, "seconds": seconds, "finished_at": "2026-05-01T12:00:00Z"}

    assert recent_throughput([]) is None
    assert recent_throughput([transfer(0, 3.0), transfer(0, 1.0)]) is None  # quiet passes only
    window = recent_throughput([transfer(100, 100.0)] + [transfer(2_000, 2.0)] * 5 + [transfer(0, 9.0)])
    assert window is not None and window.rows_per_second == 1_000.0 and window.transfers == 5
    assert window.last_finished_at == "2026-05-01T12:00:00.000000Z"
    assert recent_throughput([transfer(10, 0)]).rows_per_second is None  # no time measured: no rate
    assert recent_throughput(["junk", transfer(None, 1.0), transfer(True, 1.0), transfer(5, 0.5)]).rows == 5


class _Colors(HTMLParser):
    """Per installation section: data type -> every colour it is drawn in (chart points, legend, table swatch)."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.section: str | None = None
        self.colors: dict[str, dict[str, set[str]]] = {}
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section" and "data-installation" in a:
            self.section = a["data-installation"]
        elif self.section and tag in ("circle", "rect") and "data-data-type" in a:
            self._add(a["data-data-type"], a["fill"])
        elif self.section and tag == "tr" and a.get("data-color"):
            self._add(a["data-data-type"], a["data-color"])

    def _add(self, name: str, color: str) -> None:
        assert self.section
        self.colors.setdefault(self.section, {}).setdefault(name, set()).add(color)


def _point(data_type: str, minute: int) -> dict:
    return {"validated_at": f"2026-05-01T12:{minute:02d}:00.000000Z", "run_id": "r", "data_type": data_type,
            "rows_target": 10, "rows_source": 10, "green": True}


def _installation(ident: str, names: list[str], history: list[dict]) -> dict:
    return {"id": ident, "enabled": True, "dag_id": f"migrate_{ident}", "target_profile": "mysql", "error": None,
            "status": "IN_PROGRESS", "history": history, "data_types": [{"name": n, "status": None} for n in names]}


def test_a_data_type_has_one_colour_across_the_page() -> None:
    """Colours follow the configuration's data types, not the order a chart happens to meet them in."""
    document = {
        "generated_at": "2026-05-01T12:30:00.000000Z",
        "data_types": ["users", "issues", "comments"],
        "installations": [
            # issues is the first (and only) line of a's chart; b's chart starts with comments.
            _installation("a", ["issues"], [_point("issues", 1), _point("issues", 2)]),
            _installation("b", ["users", "issues", "comments"],
                          [_point("comments", 1), _point("issues", 2), _point("users", 3), _point("legacy", 4)]),
        ],
    }
    colors = _Colors(render_page(document)).colors
    assert colors["a"] == {"issues": {PALETTE[1]}}
    assert colors["b"] == {"users": {PALETTE[0]}, "issues": {PALETTE[1]}, "comments": {PALETTE[2]},
                           "legacy": {PALETTE[3]}}  # not configured: the next colour, still one for the page


def test_the_real_page_colours_each_data_type_alike_in_every_installation(migrated: MigrationConfig) -> None:
    document = overview_document(migrated)
    assert document["data_types"] == [d.name for d in migrated.data_types]
    colors = _Colors(render_page(document)).colors
    expected = {name: {PALETTE[index]} for index, name in enumerate(document["data_types"])}
    seen = 0
    for ident, by_name in colors.items():
        for name, used in by_name.items():
            assert used == expected[name], (ident, name, used)
            seen += 1
    assert colors["globex"]["users"] == colors["acme"]["users"] and colors["tiny"]["issues"] == expected["issues"]
    assert seen >= 9


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
