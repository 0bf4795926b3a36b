"""Failed tasks as Airflow's metadata database records them, for the operators' views.

The target's state table holds each failure's message, but only when the
target was reachable; Airflow always records which task failed, when and on
which try. The dashboard and ``cli status`` show both, so a failure is visible
even when the target is down. Read in the api-server (the dashboard plugin) or
the CLI, never in a task (tasks cannot use the metadata database).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)


def failed_latest_runs(dag_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per DAG whose most recent run failed: that run and its failed tasks (task, data type, try, end time)."""
    if not dag_ids:
        return {}
    try:
        from airflow.models.dagrun import DagRun
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session
        from sqlalchemy import func, select

        with create_session() as session:
            newest = (
                select(DagRun.dag_id, func.max(DagRun.id).label("id"))
                .where(DagRun.dag_id.in_(list(dag_ids)))
                .group_by(DagRun.dag_id)
                .subquery()
            )
            runs = session.execute(
                select(DagRun.dag_id, DagRun.run_id, DagRun.end_date)
                .join(newest, DagRun.id == newest.c.id)
                .where(DagRun.state == "failed")
            ).all()
            failed: dict[str, dict[str, Any]] = {}
            for dag_id, run_id, ended in runs:
                tasks = session.execute(
                    select(TaskInstance.task_id, TaskInstance.rendered_map_index, TaskInstance.try_number,
                           TaskInstance.end_date, TaskInstance.hostname)
                    .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.state == "failed")
                    .order_by(TaskInstance.end_date)
                ).all()
                failed[dag_id] = {
                    "run_id": run_id,
                    "ended_at": ended.isoformat() if ended else None,
                    "tasks": [
                        {"task": task_id, "data_type": data_type, "try": tries,
                         "ended_at": end.isoformat() if end else None, "hostname": host}
                        for task_id, data_type, tries, end, host in tasks
                    ],
                }
            return failed
    except Exception as exc:  # noqa: BLE001 - a view must still show what the targets say
        log.warning("could not read failed task instances from Airflow's metadata database: %s", exc)
        return {}
