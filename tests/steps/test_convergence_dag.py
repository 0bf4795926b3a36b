"""Convergence through whole DAG runs while the source keeps changing, then DONE, short-circuit, re-open."""

from __future__ import annotations

from airflow.utils.state import DagRunState

from include.migration.orchestration.dag_factory import build_dags, dag_id_for
from include.migration.target.state import Status
from include.reference_remote.mutations import delete_rows, insert_rows, update_rows
from include.reference_remote.seed import generate_rows
from tests.support import source_rows, state_rows, target_rows


def _xcom(run, task_id):
    values = [ti.xcom_pull(task_ids=task_id, map_indexes=ti.map_index) for ti in run.get_task_instances() if ti.task_id == task_id]
    return values


def _states(run):
    return {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}


def test_source_changes_are_picked_up_and_the_installation_converges(airflow_db, remote, fresh_targets, config, source_url):
    dag = build_dags(config)[dag_id_for("mutable")]
    users, issues, comments = (config.data_type(n) for n in ("users", "issues", "comments"))

    first = dag.test()
    assert first.state == DagRunState.SUCCESS, _states(first)
    assert _states(first)[("converge", -1)] == "skipped"  # everything was new: not a quiet pass
    assert state_rows("mutable")["__DATA_MIGRATION__"]["status"] == Status.IN_PROGRESS.value

    # Customers keep writing: new users, edited issues, deleted comments.
    new_users = [dict(row, id=20_000 + i) for i, row in enumerate(generate_rows(users, "mutable", 25, seed=7))]
    assert insert_rows(source_url, users, "mutable", new_users) == 25
    assert update_rows(source_url, issues, "mutable", [3, 500, 9_999], {"title": "edited after copy"}) == 3
    assert delete_rows(source_url, comments, "mutable", [10, 11, 5_000]) == 3

    second = dag.test()
    assert second.state == DagRunState.SUCCESS, _states(second)
    transfers = {x["data_type"]: x for x in _xcom(second, "transfer")}
    assert transfers["users"]["rows"] == 25 and transfers["issues"]["rows"] == 3 and transfers["comments"]["rows"] == 0
    validations = {x["data_type"]: x for x in _xcom(second, "validate")}
    assert validations["comments"]["extra_keys"] == [10, 11, 5_000] and validations["comments"]["deleted_rows"] == 3
    assert all(v["green"] for v in validations.values())
    assert _states(second)[("converge", -1)] == "skipped"  # changes were found: still not DONE
    for spec in (users, issues, comments):
        assert target_rows("mutable", spec) == source_rows(source_url, spec, "mutable")

    third = dag.test()
    assert third.state == DagRunState.SUCCESS, _states(third)
    assert _states(third)[("converge", -1)] == "success"
    state = state_rows("mutable")
    assert state["__DATA_MIGRATION__"]["status"] == Status.DONE.value
    assert state["__DATA_MIGRATION__"]["finished_at"] is not None
    assert {state[f"data_type:{s.name}"]["status"] for s in config.data_types} == {Status.DONE.value}

    # DONE short-circuits: nothing after check_status runs.
    fourth = dag.test()
    states = _states(fourth)
    assert states[("check_status", -1)] == "success" and states[("prepare_target", -1)] == "skipped"

    # A forced run re-opens it, finds nothing new, validates and marks it DONE again.
    forced = dag.test(run_conf={"force": True})
    states = _states(forced)
    assert states[("prepare_target", -1)] == "success" and states[("converge", -1)] == "success"
    assert state_rows("mutable")["__DATA_MIGRATION__"]["status"] == Status.DONE.value
