"""Cut-over readiness: final checks of DONE installations (whole DAG runs) and the fleet report."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import sqlalchemy as sa
from airflow.utils.state import DagRunState

from include.migration.orchestration.dag_factory import build_dags, dag_id_for
from include.migration.views.fleet import fleet_csv, fleet_report
from tests.conftest import ROOT, mariadb_connection, target_database_name
from tests.support import state_rows


def _final_checks(installation: str) -> list[tuple[str, int]]:
    conn = mariadb_connection(target_database_name(installation))
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT data_type, green FROM _migration_validation WHERE final_check = 1 ORDER BY data_type")
        return list(cursor.fetchall())
    finally:
        conn.close()


def _only(config, installation: str):  # type: ignore[no-untyped-def]
    return config.model_copy(update={"installations": (config.installation(installation),), "problems": ()})


def test_final_check_green_then_ready_then_blocked_by_age_drift_and_source_change(airflow_db, remote, fresh_targets, config, source_url):
    dag = build_dags(config)[dag_id_for("acme")]
    assert dag.test().state == DagRunState.SUCCESS
    assert dag.test().state == DagRunState.SUCCESS
    assert state_rows("acme")["__DATA_MIGRATION__"]["status"] == "DONE"
    report = fleet_report(_only(config, "acme"))
    assert report["ready_to_decommission"] is False and report["blockers"] == [
        "acme: no final check of ['users', 'issues', 'comments']: trigger with final_check=true"]

    checked = dag.test(run_conf={"final_check": True})
    assert checked.state == DagRunState.SUCCESS
    states = {(ti.task_id, ti.map_index): ti.state for ti in checked.get_task_instances()}
    assert states[("converge", -1)] == "skipped" and {states[("validate", i)] for i in range(3)} == {"success"}
    assert sorted(_final_checks("acme")) == [("comments", 1), ("issues", 1), ("users", 1)]
    assert state_rows("acme")["__DATA_MIGRATION__"]["status"] == "DONE"  # not re-opened
    summaries = [ti.xcom_pull(task_ids="summarize") for ti in checked.get_task_instances() if ti.task_id == "summarize"]
    assert summaries[0]["rows_this_run"] == 0  # nothing copied

    report = fleet_report(_only(config, "acme"))
    (entry,) = report["installations"]
    assert report["ready_to_decommission"] is True and report["blockers"] == []
    assert entry["final_check"]["green"] is True and entry["source_changed_since"] is False
    assert entry["final_check"]["age_hours"] < 1 and entry["last_green_validation_age_hours"] < 1
    later = fleet_report(_only(config, "acme"), now=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(hours=25))
    assert later["ready_to_decommission"] is False and "over 24 h" in later["blockers"][0]
    # The whole configured fleet is not ready: the other installations are not DONE.
    assert fleet_report(config, check_source=False)["ready_to_decommission"] is False

    engine = sa.create_engine(source_url)
    try:
        with engine.begin() as conn:
            original = conn.execute(sa.text("SELECT email FROM users WHERE installation_id = 'acme' AND id = 7")).scalar_one()
            conn.execute(sa.text("UPDATE users SET email = 'changed@example.com' WHERE installation_id = 'acme' AND id = 7"))
        changed = fleet_report(_only(config, "acme"))
        assert changed["ready_to_decommission"] is False
        assert changed["installations"][0]["source_changed_since"] is True
        assert changed["blockers"] == ["acme: the source changed since the final check (range-stats: users changed)"]
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE users SET email = :e WHERE installation_id = 'acme' AND id = 7"), {"e": original})
        engine.dispose()

    csv_text = fleet_csv(fleet_report(_only(config, "acme")))
    header, line = csv_text.splitlines()
    assert header.startswith("installation,status,final_check_green") and line.startswith("acme,DONE,True,")


def test_a_red_final_check_repairs_nothing_and_blocks_the_cut_over(airflow_db, remote, fresh_targets, config):
    dag = build_dags(config)[dag_id_for("globex")]
    assert dag.test().state == DagRunState.SUCCESS and dag.test().state == DagRunState.SUCCESS
    conn = mariadb_connection(target_database_name("globex"))
    conn.query("DELETE FROM comments WHERE id = 42")
    conn.close()
    checked = dag.test(run_conf={"final_check": True})
    assert checked.state == DagRunState.FAILED
    assert _final_checks("globex") == [("comments", 0), ("issues", 1), ("users", 1)]
    conn = mariadb_connection(target_database_name("globex"))
    cursor = conn.cursor()
    cursor.execute("SELECT COUNT(*) FROM comments WHERE id = 42")
    assert cursor.fetchone()[0] == 0  # reported, not repaired
    conn.close()
    report = fleet_report(_only(config, "globex"), check_source=False)
    assert report["blockers"] == ["globex: final check red for ['comments']"]


def test_cli_fleet_prints_the_verdict_and_exits_3_when_not_ready(remote, fresh_targets):
    import os

    done = subprocess.run([sys.executable, "-m", "include.migration.views.cli", "fleet", "--no-source-check"],
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="100"),
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 3, done.stderr[-2000:]
    assert done.stdout.startswith("not ready to decommission: ")
    assert "  acme: not started, no final check, source not checked" in done.stdout
