"""Whole DAG runs in-process with dag.test(): every data type of two installations, row for row."""

from __future__ import annotations

from airflow.utils.state import DagRunState

from include.migration.orchestration.dag_factory import build_dags, dag_id_for
from include.migration.target.state import Status
from tests.conftest import ROWS_PER_TYPE
from tests.support import source_rows, state_rows, target_rows


def _task_states(run):
    return {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}


def test_dag_runs_copy_two_installations_and_a_second_run_is_quiet(airflow_db, remote, fresh_targets, config, source_url):
    dags = build_dags(config)
    for installation in ("acme", "globex"):
        run = dags[dag_id_for(installation)].test()
        assert run.state == DagRunState.SUCCESS, _task_states(run)
        states = _task_states(run)
        assert {states[("transfer", i)] for i in range(3)} == {"success"}
        assert states[("follow_up", -1)] == "skipped"  # everything finished: no follow-up run
        for spec in config.data_types:
            expected = source_rows(source_url, spec, installation)
            assert len(expected) == ROWS_PER_TYPE
            assert target_rows(installation, spec) == expected
        state = state_rows(installation)
        assert state["__DATA_MIGRATION__"]["status"] == Status.IN_PROGRESS.value
        assert {state[f"data_type:{s.name}"]["rows_copied"] for s in config.data_types} == {ROWS_PER_TYPE}

    # The next hourly run copies nothing new: every transfer reports 0 rows.
    again = dags[dag_id_for("acme")].test()
    assert again.state == DagRunState.SUCCESS
    summaries = [ti.xcom_pull(task_ids="summarize") for ti in again.get_task_instances() if ti.task_id == "summarize"]
    assert summaries and summaries[0]["rows_this_run"] == 0 and summaries[0]["quiet"] is True


def test_unfinished_transfer_triggers_a_follow_up_run(airflow_db, remote, fresh_targets, config):
    from airflow.models.dagrun import DagRun

    dag_id = dag_id_for("partial")
    run = build_dags(config)[dag_id].test()
    assert run.state == DagRunState.SUCCESS, _task_states(run)
    states = _task_states(run)
    assert states[("needs_follow_up", -1)] == "success" and states[("follow_up", -1)] == "success"
    summary = next(ti.xcom_pull(task_ids="summarize") for ti in run.get_task_instances() if ti.task_id == "summarize")
    assert summary["unfinished"] == ["comments"] and summary["rows_this_run"] == 1000
    # The checkpoint of the page that was committed is durable; the next run continues there.
    assert state_rows("partial")["data_type:comments"]["checkpoint"] == "1000"
    triggered = [r for r in DagRun.find(dag_id=dag_id) if r.run_id != run.run_id and (r.conf or {}).get("reason")]
    assert triggered, "no follow-up run was triggered"
    assert "follow-up" in triggered[-1].conf["reason"]
