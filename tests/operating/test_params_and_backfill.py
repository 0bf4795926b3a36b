"""Run parameters (dry run, checkpoints), stalled detection, pools, and backfills that copy nothing twice."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys

import pytest
from airflow.utils.state import DagRunState

from include.migration.orchestration import runtime, task_resources
from include.migration.orchestration.dag_factory import TRANSFER_POOL, build_dags, dag_id_for
from include.migration.source.client import RemoteClient
from include.migration.steps.preflight import run_preflight
from include.migration.target.connection import open_target
from include.migration.target.gate import QueryGate
from include.migration.target.profiles import get_profile
from include.migration.target.schema import QuotaError
from tests.conftest import ROOT, ROWS_PER_TYPE
from tests.support import state_rows, target_rows


def test_dry_run_checks_quotas_and_changes_nothing(remote, fresh_targets, config):
    result = runtime.prepare_target("acme", dry_run=True)
    assert result["dry_run"] is True and result["data_types"] == []
    report = result["preflight"]
    assert [d["rows_at_source"] for d in report["data_types"]] == [ROWS_PER_TYPE] * 3
    assert all(d["estimated_bytes"] > 0 for d in report["data_types"])
    assert "create_table:users" in report["schema_steps"]
    db = open_target("migration_target_acme", get_profile("mysql"))
    try:
        assert db.existing_columns("users") is None and db.existing_columns("_migration_state") is None
    finally:
        db.close()
    check = runtime.check_status("acme", "dry", dry_run=True)
    assert check["proceed"] is True and check["runs_without_progress"] is None


def test_storage_quota_fails_before_copying(remote, fresh_targets, config):
    profile = get_profile("forge_sql", {"max_stored_bytes": 1_000_000})
    client = RemoteClient.from_conn_id("migration_remote_acme", "acme")
    db = open_target("migration_target_acme", profile)
    try:
        with pytest.raises(QuotaError, match=r"installation 'acme': the copy needs about .* MiB \(users .*over the 'forge_sql' storage quota of 1.0 MiB; nothing was copied"):
            run_preflight(installation_id="acme", data_types=config.data_types, profile=profile, db=db, client=client)
        assert db.existing_columns("users") is None
    finally:
        db.close()
    tables = get_profile("forge_sql", {"max_tables": 3})
    with pytest.raises(QuotaError, match="6 tables are needed but the 'forge_sql' profile allows 3"):
        run_preflight(installation_id="acme", data_types=config.data_types, profile=tables, db=db, client=None)


def test_reset_and_set_checkpoints(remote, fresh_targets, config, source_url):
    runtime.prepare_target("acme", ["users", "comments"])
    assert runtime.transfer("acme", "users", "r1")["rows"] == ROWS_PER_TYPE
    runtime.prepare_target("acme", ["users"], reset_checkpoint=True)
    assert state_rows("acme")["data_type:users"]["checkpoint"] is None
    again = runtime.transfer("acme", "users", "r2")
    assert again["rows"] == ROWS_PER_TYPE  # copied again from the start, as upserts
    assert len(target_rows("acme", config.data_type("users"))) == ROWS_PER_TYPE
    runtime.prepare_target("acme", set_checkpoints={"comments": 9_000})
    assert runtime.transfer("acme", "comments", "r3")["rows"] == 1_000
    with pytest.raises(Exception, match=r"unknown data types \['nope'\]"):
        runtime.prepare_target("acme", set_checkpoints={"nope": 1})


def test_runs_without_progress_raise_the_stalled_alert(remote, fresh_targets, config, caplog):
    runtime.prepare_target("acme", ["comments"])
    counts = [runtime.check_status("acme", f"run-{i}")["runs_without_progress"] for i in range(4)]
    assert counts == [0, 1, 2, 3]
    assert runtime.check_status("acme", "run-3")["runs_without_progress"] == 3  # a retry does not count twice
    assert "no checkpoint moved in the last 3 runs" in caplog.text
    runtime.transfer("acme", "comments", "run-4")
    assert runtime.check_status("acme", "run-5")["runs_without_progress"] == 0  # progress resets the count


def test_transfers_use_the_pool_and_share_the_statement_rate(config):
    dag = build_dags(config)[dag_id_for("acme")]
    for task_id in ("transfer", "validate"):
        task = dag.get_task(task_id)
        assert task.pool == TRANSFER_POOL and task.max_active_tis_per_dagrun == 3
    settings = __import__("yaml").safe_load((ROOT / "airflow_settings.yaml").read_text())
    assert TRANSFER_POOL in {p["pool_name"] for p in settings["airflow"]["pools"]}
    profile = get_profile("forge_sql")
    share = task_resources.parallel_tasks(config, config.installation("acme"))
    assert share == 3
    # Each task's connection paces every statement it sends (writes, checkpoints, reads) within its share.
    gates = [QueryGate(profile, share) for _ in range(share)]
    assert sum(g.rate_limiter.rate for g in gates) == pytest.approx(150.0)
    assert sum(g.query_budget.seconds_per_minute for g in gates) == pytest.approx(62.5)


def test_settings_file_loads_into_plain_airflow(airflow_db):
    from include.migration.commands.settings import load_settings

    loaded = load_settings(ROOT / "airflow_settings.yaml")
    assert loaded == {"pools": 1, "connections": 2, "variables": 0}
    pools = subprocess.run([sys.executable, "-m", "airflow", "pools", "get", TRANSFER_POOL, "-o", "json"],
                           capture_output=True, text=True, check=True)
    assert json.loads(pools.stdout)[0]["slots"] == "8"


def test_backfill_over_hourly_intervals_copies_nothing_twice(airflow_db, remote, fresh_targets, config):
    dag_id = dag_id_for("globex")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "airflow", "dags", "reserialize"], env=env, capture_output=True, check=True)
    plan = subprocess.run(
        [sys.executable, "-m", "airflow", "backfill", "create", "--dag-id", dag_id, "--from-date", "2026-11-20T00:00:00",
         "--to-date", "2026-11-20T03:00:00", "--reprocess-behavior", "completed", "--dry-run"],
        env=env, capture_output=True, text=True, check=True,
    )
    dates = re.findall(r"^\| 2026-11-20 0(\d):00:00\+00:00", plan.stdout, flags=re.MULTILINE)
    assert dates == ["0", "1", "2", "3"]
    dag = build_dags(config)[dag_id]
    copied = []
    for hour in range(4):
        run = dag.test(logical_date=dt.datetime(2026, 11, 20, hour, tzinfo=dt.timezone.utc))
        assert run.state == DagRunState.SUCCESS
        summaries = [ti.xcom_pull(task_ids="summarize") for ti in run.get_task_instances() if ti.task_id == "summarize"]
        copied.append(summaries[0]["rows_this_run"] if summaries and summaries[0] else 0)
    # The first interval copies everything, the second finds it quiet and converges, the rest short-circuit.
    assert copied == [3 * ROWS_PER_TYPE, 0, 0, 0]
    assert state_rows("globex")["__DATA_MIGRATION__"]["status"] == "DONE"
    assert {len(target_rows("globex", spec)) for spec in config.data_types} == {ROWS_PER_TYPE}
