"""Run parameters given once to the built DAG behave as ``DAG(params=...)`` did: form, validation, run time."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk import DAG, Param
from airflow.sdk.definitions.param import process_params
from airflow.sdk.exceptions import ParamValidationError
from airflow.serialization.serialized_objects import DagSerialization

from include.migration.orchestration import dag_factory, dag_params
from include.migration.orchestration.dag_factory import build_dag, run_params

CONFS: list[dict[str, Any] | None] = [
    None,
    {"force": True, "data_types": ["users"], "set_checkpoints": {"users": 5}},
    {"final_check": True, "reason": "not a param: passed through"},
]


@pytest.fixture
def built(config):  # type: ignore[no-untyped-def]
    return build_dag(config.installation("acme"), config)


@pytest.fixture
def reference(built, config, monkeypatch):  # type: ignore[no-untyped-def]
    """The same DAG built the plain Airflow way (after `built`): params passed to DAG(), copied into every task."""
    monkeypatch.setattr(dag_factory, "attach_params", lambda dag, make: None)
    monkeypatch.setattr(dag_factory, "DAG", lambda **kwargs: DAG(**kwargs, params=run_params()))
    return build_dag(config.installation("acme"), config)


def _serialized(dag: DAG) -> dict[str, Any]:
    data = DagSerialization.to_dict(dag)["dag"]
    data.pop("fileloc", None)
    data.pop("relative_fileloc", None)
    return data


def test_the_dag_holds_the_same_params_and_the_tasks_no_copies(built, reference):
    ours, plain = _serialized(built), _serialized(reference)
    assert ours["params"] == plain["params"] and [name for name, _ in ours["params"]] == list(run_params())
    assert all("params" not in task["__var"] for task in ours["tasks"])
    # Airflow's copies in every task are the DAG's params marked source="dag": nothing else is lost.
    for task in plain["tasks"]:
        copies = task["__var"].pop("params")
        assert [(name, {**param, "source": None}) for name, param in copies] == plain["params"]
    assert ours == plain


@pytest.mark.parametrize("conf", CONFS)
def test_every_task_sees_the_same_params_at_run_time(built, reference, conf):
    assert sorted(built.task_ids) == sorted(reference.task_ids)
    for task_id in built.task_ids:
        ours = process_params(built, built.get_task(task_id), conf, suppress_exception=False)
        plain = process_params(reference, reference.get_task(task_id), conf, suppress_exception=False)
        assert ours == plain, task_id
    assert ours["data_types"] == (conf or {}).get("data_types", [])


def test_a_wrong_conf_is_refused_at_run_time_and_at_trigger_time(built):
    with pytest.raises(ParamValidationError, match="force"):
        process_params(built, built.get_task("check_status"), {"force": "yes"}, suppress_exception=False)
    # What the API server does when a run is triggered or backfilled: the serialized DAG's params.
    server_side = DagSerialization.from_dict(DagSerialization.to_dict(built))
    assert server_side.params.deep_merge({"data_types": ["users"]}).validate()["data_types"] == ["users"]
    with pytest.raises(ParamValidationError, match="data_types"):
        server_side.params.deep_merge({"data_types": "users"}).validate()


def test_no_two_dags_share_a_param_object(config):
    first = build_dag(config.installation("acme"), config)
    second = build_dag(config.installation("globex"), config)
    for name in run_params():
        assert first.params.get_param(name) is not second.params.get_param(name)
    assert first.params.get_param("data_types").value is not second.params.get_param("data_types").value


def test_defaults_are_checked_once_and_a_wrong_one_is_refused():
    calls = []

    def make() -> dict[str, Param]:
        calls.append(1)
        return {"n": Param(1, type="integer")}

    for dag_id in ("a", "b"):
        with DAG(dag_id, schedule="@hourly") as dag:
            pass
        dag_params.attach_params(dag, make)
        assert dag.params["n"] == 1
    assert len(calls) == 3  # one validation, then one set of params per DAG

    def wrong() -> dict[str, Param]:
        return {"n": Param("one", type="integer")}

    with DAG("c", schedule="@hourly") as dag:
        pass
    with pytest.raises(ValueError, match="valid defaults"):
        dag_params.attach_params(dag, wrong)


def test_a_dag_built_with_params_is_refused():
    with DAG("d", schedule=None, params={"x": 1}) as dag:
        pass
    with pytest.raises(ValueError, match="already has params"):
        dag_params.attach_params(dag, run_params)
