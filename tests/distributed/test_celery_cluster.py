"""The DAGs run by a real scheduler on two Celery workers: spread, killed workers, backfills, concurrent runs.

Each test drives the cluster as a user would (``airflow dags trigger``,
``airflow backfill create``, SIGKILL of a worker) and asserts on the target
databases, the state tables and Airflow's metadata database.
"""

from __future__ import annotations

import collections
import time

from include.migration.configuration.config import MigrationConfig
from tests.conftest import mariadb_connection, target_database_name
from tests.distributed.cluster import Cluster
from tests.distributed.conftest import ROWS, SUMMARY
from tests.support import source_rows, state_rows, target_rows

INSTALLATION_DONE = "__DATA_MIGRATION__"


def assert_target_equals_source(installation: str, config: MigrationConfig, source_url: str) -> int:
    """Every data type's rows equal value by value; returns the source's row count."""
    spec_of = config.installation(installation)
    total = 0
    for spec in config.data_types_for(spec_of):
        expected = source_rows(source_url, spec, installation)
        assert target_rows(installation, spec) == expected, f"{installation}/{spec.name} differs from the source"
        total += len(expected)
    return total


def rows_written(installation: str) -> int:
    """Rows the transfers wrote to the target, as they recorded them (each page's rows, summed per data type)."""
    return sum(int(r["rows_copied"]) for job, r in state_rows(installation).items() if job != INSTALLATION_DONE)


def rows_written_by_transfers(cluster: Cluster, dag_id: str) -> int:
    """Rows every transfer task of every run wrote, as its writer counted them (the XComs), whatever the state table says."""
    return sum(
        int(cluster.xcom(dag_id, t["run_id"], "transfer", t["map_index"])["rows_written"])
        for t in cluster.task_instances(dag_id) if t["task_id"] == "transfer" and t["state"] == "success"
    )


def checkpoint_rows(installation: str, data_type: str) -> int:
    conn = mariadb_connection(target_database_name(installation))
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT rows_copied FROM _migration_state WHERE job_id = %s", (f"data_type:{data_type}",))
        row = cursor.fetchone()
        return int(row[0]) if row else 0
    except Exception:  # noqa: BLE001 - the state table may not exist yet
        return 0
    finally:
        conn.close()


def wait_for(predicate, what: str, timeout: float, cluster: Cluster) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        cluster.check_alive()
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f}s waiting for {what}"
        time.sleep(0.3)


def test_triggered_runs_complete_on_both_workers(cluster: Cluster, cluster_config: MigrationConfig, cluster_source: str):
    installations = ("north", "south", "east")
    for installation in installations:
        cluster.trigger(f"migrate_{installation}", "first")
    for installation in installations:
        assert cluster.wait_for_runs(f"migrate_{installation}", run_ids=["first"]) == {"first": "success"}
        assert assert_target_equals_source(installation, cluster_config, cluster_source) == 3 * ROWS
    # A second pass finds nothing new, validates green and marks the installations DONE.
    for installation in installations:
        cluster.trigger(f"migrate_{installation}", "second")
    for installation in installations:
        assert cluster.wait_for_runs(f"migrate_{installation}", run_ids=["second"]) == {"second": "success"}
        assert state_rows(installation)[INSTALLATION_DONE]["status"] == "DONE"
        assert rows_written(installation) == 3 * ROWS
    per_worker = collections.Counter(
        ti["hostname"] for i in installations for ti in cluster.task_instances(f"migrate_{i}") if ti["state"] == "success"
    )
    assert set(per_worker) == {"worker-a", "worker-b"}, per_worker
    assert "\nload_examples = False\n" in (cluster.home / "airflow.cfg").read_text()
    SUMMARY["tasks_per_worker"] = f"{per_worker['worker-a']}/{per_worker['worker-b']}"


def test_a_worker_killed_mid_transfer_is_retried_on_the_other_and_resumes(
    cluster: Cluster, cluster_config: MigrationConfig, cluster_source: str
):
    dag_id = "migrate_killed"
    cluster.trigger(dag_id, "kill")
    wait_for(lambda: checkpoint_rows("killed", "comments") >= 1_000, "the first committed page", 180, cluster)
    running = [t for t in cluster.task_instances(dag_id, "kill") if t["task_id"] == "transfer" and t["state"] == "running"]
    assert len(running) == 1, running
    victim = running[0]["hostname"]
    cluster.kill_worker(victim)
    try:
        # The killed try can write nothing more: what the state table holds now is where the retry must resume.
        state = state_rows("killed")["data_type:comments"]
        committed, checkpoint = int(state["rows_copied"]), state["checkpoint"]
        assert 1_000 <= committed < ROWS, "the transfer finished before the kill: slow it down"
        assert cluster.wait_for_runs(dag_id, run_ids=["kill"], timeout=300) == {"kill": "success"}
        tries = cluster.hostnames_of_tries(dag_id, "kill", "transfer")
        assert [t for t, _ in tries] == [1, 2] and tries[0][1] == victim and tries[1][1] != victim, tries
        retry_log = cluster.task_log(dag_id, "kill", "transfer", map_index=0, attempt=2)
        assert f"starting after checkpoint {checkpoint}" in retry_log, retry_log[-3000:]
        assert cluster.xcom(dag_id, "kill", "transfer", map_index=0)["rows"] == ROWS - committed
        assert assert_target_equals_source("killed", cluster_config, cluster_source) == ROWS
        assert rows_written("killed") == ROWS
    finally:
        cluster.start_worker(victim)
        wait_for(lambda: cluster.worker_ready(victim), f"{victim} to come back", 120, cluster)
    SUMMARY["worker_kill"] = "recovered"


def test_readme_backfill_over_three_hourly_intervals_writes_each_row_once_and_converges(
    cluster: Cluster, cluster_config: MigrationConfig, cluster_source: str
):
    dag_id = "migrate_backfilled"
    cluster.airflow(
        "backfill", "create", "--dag-id", dag_id, "--from-date", "2026-11-20T00:00:00", "--to-date", "2026-11-20T02:00:00",
        "--reprocess-behavior", "completed", "--max-active-runs", "1",
    )
    runs = cluster.wait_for_runs(dag_id, count=3, timeout=420)
    assert sorted(runs.values()) == ["success"] * 3, runs
    source = assert_target_equals_source("backfilled", cluster_config, cluster_source)
    written = rows_written_by_transfers(cluster, dag_id)
    assert written == source == 3 * ROWS
    assert rows_written("backfilled") == source
    assert state_rows("backfilled")[INSTALLATION_DONE]["status"] == "DONE"
    SUMMARY["backfill_rows_written"] = written
    SUMMARY["source_rows"] = source


def test_a_second_run_never_copies_a_data_type_another_run_is_copying(
    cluster: Cluster, cluster_config: MigrationConfig, cluster_source: str
):
    """A backfill without --max-active-runs (both intervals at once) and a manual trigger, all on one installation."""
    dag_id = "migrate_contended"
    cluster.airflow(
        "backfill", "create", "--dag-id", dag_id, "--from-date", "2026-11-21T00:00:00", "--to-date", "2026-11-21T01:00:00",
        "--reprocess-behavior", "completed",
    )
    wait_for(lambda: checkpoint_rows("contended", "comments") >= 1_000, "the first committed page", 180, cluster)
    cluster.trigger(dag_id, "manual")
    runs = cluster.wait_for_runs(dag_id, count=3, timeout=420)
    assert sorted(runs.values()) == ["success"] * 3, runs
    transfers = [t for t in cluster.task_instances(dag_id) if t["task_id"] == "transfer"]
    copied = [t for t in transfers if t["state"] == "success"]
    refused = [t for t in transfers if t["state"] == "skipped"]
    assert len(copied) + len(refused) == 3 and refused, transfers
    holder_runs = {t["run_id"] for t in copied}
    for t in refused:
        log = cluster.task_log(dag_id, t["run_id"], "transfer", map_index=0)
        assert "is working on it" in log and any(f"run '{r}'" in log for r in holder_runs), log[-2000:]
    assert assert_target_equals_source("contended", cluster_config, cluster_source) == ROWS
    # Every row written once, by the writers' own count: never two copies at the same time.
    assert rows_written_by_transfers(cluster, dag_id) == rows_written("contended") == ROWS
    SUMMARY["concurrent_transfer_refused"] = len(refused)
