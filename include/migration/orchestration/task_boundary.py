"""The boundary between a task body and Airflow.

Every task body runs inside :func:`guarded`: an error is classified
(``failures.classify``), its message and the task, try and time are recorded
in the target's state table when the target is reachable (the dashboard and
``cli status`` show it), and a permanent error fails the task at once, without
retries (``AirflowFailException``); a transient one is retried as configured.
A data type another run holds (``LeaseHeldError``) skips the task.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from include.migration.orchestration.failures import Scope, classify, is_permanent
from include.migration.target.lease import LeaseHeldError

log = logging.getLogger(__name__)


def scope_for(installation_id: str, data_type: str | None = None) -> Scope:
    """The task's scope with its connection ids (only the installation when its configuration cannot be read)."""
    from include.migration.configuration.config_loading import load_config

    try:
        installation = load_config().installation(installation_id)
    except Exception:  # noqa: BLE001 - the configuration error itself is what the task reports
        return Scope(installation_id, data_type)
    return Scope(installation_id, data_type, installation.target_conn_id, installation.remote_conn_id)


def leave_trace(scope: Scope, task: str, try_number: int | None, error: BaseException) -> None:
    """Record the failure in the installation's state table; never raises (the target may be the problem)."""
    from include.migration.orchestration.task_resources import resolve
    from include.migration.target.connection import open_target
    from include.migration.target.state import StateStore

    try:
        _config, installation, profile = resolve(scope.installation_id)
        db = open_target(installation.target_conn_id, profile, attempts=1)
        try:
            StateStore(db).record_error(scope.data_type, task, try_number, f"{type(error).__name__}: {error}")
        finally:
            db.close()
    except Exception as exc:  # noqa: BLE001 - the task's own error matters more than its trace
        log.warning("%s: could not record the failure in the target's state table (%s: %s); it is in this log and "
                    "in Airflow's task instances", scope.where(), type(exc).__name__, exc)


def _airflow_control_flow(exc: BaseException) -> bool:
    """Skip, fail-now, reschedule, ...: Airflow's own signals pass through untouched."""
    return type(exc).__module__.startswith("airflow.")


@contextlib.contextmanager
def guarded(installation_id: str, task: str, data_type: str | None = None, try_number: int | None = None) -> Iterator[Scope]:
    """Run a task body: classified errors, a trace in the target, fail-now for permanent errors."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    scope = scope_for(installation_id, data_type)
    try:
        yield scope
    except LeaseHeldError as exc:
        raise AirflowSkipException(str(exc)) from exc
    except Exception as exc:
        if _airflow_control_flow(exc):
            raise
        error = classify(exc, scope)
        leave_trace(scope, task, try_number, error)
        if is_permanent(error):
            raise AirflowFailException(f"{type(error).__name__}: {error}") from exc
        if error is exc:
            raise
        raise error from exc
