"""Run parameters given to a built DAG once, not copied into every task.

Airflow 3.3's task SDK deep-copies ``dag.params`` into every operator created inside the DAG
(``_get_parent_defaults`` in ``airflow/sdk/bases/operator.py``, once for each ``__init__`` of the
operator's class hierarchy: three times for a ``@task``), and a scheduled DAG validates every param
when its ``params`` are set (``DAG._validate_params``), where jsonschema meta-validates each schema
again (``Param.resolve`` -> ``jsonschema.validate`` -> ``check_schema``). Serializing the DAG then
resolves every task's copies several times more (``ParamsDict.__eq__`` / ``__repr__`` call
``dump``). With thousands of DAGs that was most of the parse time, and serialization took four
times longer than the import.

The copies are never needed: a task's run-time params are the DAG's params overlaid with the
task's own (``process_params`` in ``airflow/sdk/definitions/param.py``), the trigger form and the
validation of a triggered run's or a backfill's ``conf`` use the serialized DAG's params
(``SerializedDAG.params``), and a mapped task unmapped on the worker merges the DAG's params again.
So :func:`attach_params` gives a DAG built without params its params once its tasks exist: the
DAG's params are exactly what ``DAG(params=...)`` holds, the tasks keep only their own params
(the serialized tasks no longer repeat the DAG's), and the defaults are validated once per process
instead of once per DAG.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from airflow.sdk import DAG, Param
from airflow.sdk.definitions.param import ParamsDict
from airflow.sdk.exceptions import ParamValidationError

ParamsFactory = Callable[[], dict[str, Param]]
"""Returns the params as new Param objects on every call (no object shared between two calls)."""


@functools.cache
def check_defaults(make_params: ParamsFactory) -> None:
    """Validate the params' defaults against their schemas, once per process and factory.

    A scheduled DAG refuses params without valid defaults when they are set; the DAGs given these
    params are built without them, so the check is made here, on identical objects.
    """
    try:
        ParamsDict(make_params()).validate()
    except ParamValidationError as exc:
        raise ValueError(f"run parameters without valid defaults cannot be given to a scheduled DAG: {exc}") from exc


def attach_params(dag: DAG, make_params: ParamsFactory) -> None:
    """Give ``dag``, built without params, the params ``make_params`` returns (its tasks keep their own).

    Run-time behaviour is that of ``DAG(params=make_params())``: each task sees the DAG's params
    overlaid with its own, and a run's ``conf`` is validated against the DAG's params.
    """
    if dag.params:
        raise ValueError(f"DAG {dag.dag_id!r} already has params: build it without them")
    check_defaults(make_params)
    # ParamsDict.update stores Param objects as they are (no resolve, no validation).
    dag.params.update(make_params())
