"""Builds one migration DAG per enabled installation from the configuration.

Building reads only the configuration file: no connections, Variables or
network, so parsing stays fast with thousands of installations. In a worker
only the DAG being run is built (``get_parsing_context().dag_id``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, Param, PokeReturnValue, get_current_context, get_parsing_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from include.migration.configuration.config import InstallationProblem, InstallationSpec, MigrationConfig
from include.migration.configuration.config_loading import load_config
from include.migration.orchestration import runtime, task_resources
from include.migration.orchestration.dag_params import attach_params
from include.migration.orchestration.dag_shards import DAG_FILE_SHARDS, shard_of
from include.migration.orchestration.notifications import MigrationFailureNotifier
from include.migration.orchestration.task_boundary import guarded
from include.migration.target.lease import LeaseOwner

DAG_ID_PREFIX = "migrate_"
TRANSFER_TIMEOUT = dt.timedelta(seconds=900)
VALIDATE_TIMEOUT = dt.timedelta(minutes=30)
# The convergence sensor must give up well before the next hourly run.
CONVERGE_TIMEOUT = dt.timedelta(minutes=10)
START_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
MAX_PARALLEL_TRANSFERS = task_resources.MAX_PARALLEL_TASKS
# Worker slots shared by every installation's transfer and validate tasks (created from
# airflow_settings.yaml by `make settings`); per installation, at most MAX_PARALLEL_TRANSFERS.
TRANSFER_POOL = "migration_transfers"

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "data-engineering",
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": dt.timedelta(minutes=10),
}


def dag_id_for(installation_id: str) -> str:
    return f"{DAG_ID_PREFIX}{installation_id}"


def _doc(installation: InstallationSpec, config: MigrationConfig) -> str:
    names = ", ".join(d.name for d in config.data_types_for(installation))
    return (
        f"### Migration of installation `{installation.id}`\n\n"
        f"Copies {names} from the remote (`{installation.remote_conn_id}`) into the target "
        f"(`{installation.target_conn_id}`, profile `{installation.target_profile}`).\n\n"
        "`check_status` short-circuits DONE / PENDING installations; `prepare_target` applies DDL; "
        "`transfer` runs once per data type from its durable checkpoint; `summarize` reports, and "
        "`follow_up` triggers another run at once when a data type is unfinished; `validate` compares counts "
        "and chunk checksums with the source and repairs drift; `converge` marks the installation DONE after "
        "a quiet, validated pass.\n\n"
        "Params: `force` re-opens a DONE installation; `data_types` limits the run to some data types; "
        "`dry_run` runs the pre-flight checks only; `reset_checkpoint` / `set_checkpoints` move checkpoints."
    )


def _per_data_type(task_id: str, timeout: dt.timedelta, parallel: int) -> dict[str, Any]:
    """A task mapped over data types: named by its data type, in the shared pool, ``parallel`` at a time per run."""
    return {
        "task_id": task_id,
        "execution_timeout": timeout,
        "map_index_template": "{{ data_type_name }}",
        "max_active_tis_per_dagrun": parallel,
        "pool": TRANSFER_POOL,
    }


def _retrying(installation: InstallationSpec) -> dict[str, Any]:
    return {"retries": installation.retries, "retry_delay": dt.timedelta(seconds=installation.retry_delay_seconds)}


def _try_number(context: Any) -> int | None:
    return getattr(context["ti"], "try_number", None)


def _lease_owner(context: Any, task: str) -> LeaseOwner:
    """This task try as a lease owner: the run owns it, the holder names task, data type and try."""
    return LeaseOwner.for_task(context["run_id"], task, _try_number(context))


def _alerting(installation_id: str, config: MigrationConfig) -> dict[str, Any]:
    if config.alerts.email is None and config.alerts.webhook is None:
        return {}
    return {"on_failure_callback": [MigrationFailureNotifier(installation_id, config.alerts)]}


def run_params() -> dict[str, Param]:
    """The migration DAG's run parameters (the trigger form), new objects on every call.

    Airflow resolves a run's ``conf`` into the Param objects in place, so no two DAGs may share one.
    """
    return {
        "force": Param(False, type="boolean", description="Re-open a DONE installation and migrate again."),
        "data_types": Param(
            [], type="array", items={"type": "string"}, description="Only these data types (empty: all)."
        ),
        "dry_run": Param(
            False, type="boolean", description="Only run the pre-flight checks (quotas, row size, storage)."
        ),
        "reset_checkpoint": Param(
            False, type="boolean", description="Copy the selected data types (all if none) again from the start."
        ),
        "set_checkpoints": Param(
            {}, type="object", description='Set checkpoints explicitly, e.g. {"users": 5000}.'
        ),
        "final_check": Param(
            False, type="boolean",
            description="On a DONE installation: validate every data type again now (no grace, no repair, "
            "nothing copied) and record it as the final check before cut-over.",
        ),
    }


def build_dag(installation: InstallationSpec, config: MigrationConfig) -> DAG:
    """The DAG of one installation."""
    installation_id = installation.id
    dag_id = dag_id_for(installation_id)
    parallel = task_resources.parallel_tasks(config, installation)
    # No params here: given once the tasks exist, they are not deep-copied into every task (dag_params.py).
    with DAG(
        dag_id=dag_id,
        schedule="@hourly",
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args={**DEFAULT_ARGS, **_retrying(installation), **_alerting(installation_id, config)},
        tags=["migration", f"installation:{installation_id}", f"profile:{installation.target_profile}"],
        doc_md=_doc(installation, config),
        render_template_as_native_obj=False,
    ) as dag:

        @task.short_circuit(task_id="check_status")
        def check_status() -> bool:
            context = get_current_context()
            params = context["params"]
            with guarded(installation_id, "check_status", try_number=_try_number(context)):
                decision = runtime.check_status(
                    installation_id,
                    context["run_id"],
                    force=bool(params.get("force")),
                    dry_run=bool(params.get("dry_run")),
                    final_check=bool(params.get("final_check")),
                )
            return bool(decision["proceed"])

        @task(task_id="prepare_target")
        def prepare_target() -> list[str]:
            context = get_current_context()
            params = context["params"]
            with guarded(installation_id, "prepare_target", try_number=_try_number(context)):
                result = runtime.prepare_target(
                    installation_id,
                    params.get("data_types") or [],
                    dry_run=bool(params.get("dry_run")),
                    reset_checkpoint=bool(params.get("reset_checkpoint")),
                    set_checkpoints=dict(params.get("set_checkpoints") or {}),
                )
            context["ti"].xcom_push(key="preflight", value=result["preflight"])
            return result["data_types"]

        @task(**_per_data_type("transfer", TRANSFER_TIMEOUT, parallel))
        def transfer(data_type: str) -> dict[str, Any]:
            context = get_current_context()
            context["data_type_name"] = data_type  # type: ignore[typeddict-unknown-key]
            with guarded(installation_id, "transfer", data_type, _try_number(context)):
                return runtime.transfer(
                    installation_id, data_type, context["run_id"],
                    owner=_lease_owner(context, f"transfer[{data_type}]"),
                    final_check=bool(context["params"].get("final_check")),
                )

        @task(task_id="summarize")
        def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
            # Index instead of iterating: iteration probes one past the end and logs a spurious 404.
            with guarded(installation_id, "summarize", try_number=_try_number(get_current_context())):
                return runtime.summarize(installation_id, [results[i] for i in range(len(results))])

        @task(**_per_data_type("validate", VALIDATE_TIMEOUT, parallel))
        def validate(data_type: str, summary: dict[str, Any]) -> dict[str, Any]:
            context = get_current_context()
            context["data_type_name"] = data_type  # type: ignore[typeddict-unknown-key]
            done = bool(summary["data_types"].get(data_type, {}).get("done"))
            with guarded(installation_id, "validate", data_type, _try_number(context)):
                return runtime.validate(
                    installation_id, data_type, context["run_id"], transfer_done=done,
                    owner=_lease_owner(context, f"validate[{data_type}]"),
                    final_check=bool(context["params"].get("final_check")),
                )

        @task.sensor(
            task_id="converge",
            mode="reschedule",
            poke_interval=60,
            timeout=CONVERGE_TIMEOUT.total_seconds(),
            soft_fail=True,
        )
        def converge(transfers: list[dict[str, Any]], validations: list[dict[str, Any]]) -> PokeReturnValue:
            context = get_current_context()
            if context["params"].get("final_check"):
                raise AirflowSkipException("final check: the installation stays DONE; the result is in _migration_validation")
            with guarded(installation_id, "converge", try_number=_try_number(context)):
                decision = runtime.converge(
                    installation_id,
                    context["run_id"],
                    selected=context["params"].get("data_types") or [],
                    transfers=[transfers[i] for i in range(len(transfers))],
                    validations=[validations[i] for i in range(len(validations))],
                )
            if not decision["converged"]:
                # Waiting cannot change this pass's outcome: skip now, the next run tries again.
                raise AirflowSkipException(f"not converged: {decision['reason']}")
            return PokeReturnValue(is_done=True, xcom_value=decision)

        @task.short_circuit(task_id="needs_follow_up", ignore_downstream_trigger_rules=False)
        def needs_follow_up(summary: dict[str, Any]) -> bool:
            return bool(summary["unfinished"])

        follow_up = TriggerDagRunOperator(
            task_id="follow_up",
            trigger_dag_id=dag_id,
            conf={"reason": "follow-up: a data type did not finish within its budget"},
            wait_for_completion=False,
        )

        names = prepare_target()
        check_status() >> names
        transfers = transfer.expand(data_type=names)
        summary = summarize(transfers)
        needs_follow_up(summary) >> follow_up
        converge(transfers, validate.partial(summary=summary).expand(data_type=names))
    attach_params(dag, run_params)
    return dag


REVERSE_DAG_ID_PREFIX = "reverse_"


def build_reverse_dag(installation: InstallationSpec, config: MigrationConfig) -> DAG:
    """The rollback DAG of one installation: every data type's differences sent from the target to the remote."""
    installation_id = installation.id
    names = [d.name for d in config.data_types_for(installation)]
    parallel = min(MAX_PARALLEL_TRANSFERS, max(1, len(names)))
    with DAG(
        dag_id=f"{REVERSE_DAG_ID_PREFIX}{installation_id}",
        schedule="@hourly" if installation.reverse_sync else None,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args={**DEFAULT_ARGS, **_retrying(installation), **_alerting(installation_id, config)},
        tags=["migration", "reverse-sync", f"installation:{installation_id}"],
        doc_md=(f"### Rollback of installation `{installation_id}` by reverse sync\n\nMakes the remote equal to the "
                "target (the truth now): chunk checksums compared, differing rows sent back and rows the target no "
                "longer has deleted at the remote (capability `remote-writes`). Hourly while the configuration "
                "says `reverse_sync: true`, otherwise triggered by hand."),
    ) as dag:

        @task(**_per_data_type("reverse_sync", VALIDATE_TIMEOUT, parallel))
        def reverse_sync(data_type: str) -> dict[str, Any]:
            context = get_current_context()
            context["data_type_name"] = data_type  # type: ignore[typeddict-unknown-key]
            with guarded(installation_id, "reverse_sync", data_type, _try_number(context)):
                return runtime.reverse_sync(
                    installation_id, data_type, context["run_id"],
                    owner=_lease_owner(context, f"reverse_sync[{data_type}]"),
                )

        reverse_sync.expand(data_type=names)
    return dag


def broken_dag_id(problem: InstallationProblem) -> str:
    """The DAG id of a wrong installation entry: its own when the id is usable, else one naming the entry."""
    if problem.id and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", problem.id):
        return dag_id_for(problem.id)
    return f"{DAG_ID_PREFIX}invalid_entry_{problem.index}"


def build_broken_dag(problem: InstallationProblem, config: MigrationConfig) -> DAG:
    """A DAG that fails at once with the configuration error of one installation entry (and alerts)."""
    with DAG(
        dag_id=broken_dag_id(problem),
        schedule="@hourly",
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args={**DEFAULT_ARGS, "retries": 0, **_alerting(problem.id or "?", config)},
        tags=["migration", "config-error", f"installation:{problem.id or '?'}"],
        doc_md=f"### Configuration error\n\n```\n{problem.message}\n```\n\nFix the entry; the other installations are unaffected.",
    ) as dag:

        @task(task_id="configuration_error")
        def configuration_error() -> None:
            raise AirflowFailException(problem.message)

        configuration_error()
    return dag


def build_dags(config: MigrationConfig | None = None, *, shard: int | None = None) -> dict[str, DAG]:
    """All enabled installations' DAGs (those of one DAG-file ``shard``), or only the one a worker is running.

    A wrong installation entry gets a DAG that fails at once naming the file, installation and field,
    so one typo never hides the other installations' DAGs. ``shard`` (0 .. ``DAG_FILE_SHARDS`` - 1)
    keeps the installations whose migration DAG id hashes to it (see ``dag_shards.py``); an
    installation's reverse-sync DAG and its configuration-error DAG go with it.
    """
    if shard is not None and not 0 <= shard < DAG_FILE_SHARDS:
        raise ValueError(f"shard must be in 0..{DAG_FILE_SHARDS - 1}, got {shard}")
    config = config or load_config()
    wanted = get_parsing_context().dag_id

    def mine(dag_id: str) -> bool:
        return shard is None or shard_of(dag_id) == shard

    dags = {}
    for installation in config.enabled_installations:
        dag_id = dag_id_for(installation.id)
        if not mine(dag_id):
            continue
        if wanted is None or wanted == dag_id:
            dags[dag_id] = build_dag(installation, config)
        reverse_id = f"{REVERSE_DAG_ID_PREFIX}{installation.id}"
        if wanted is None or wanted == reverse_id:
            dags[reverse_id] = build_reverse_dag(installation, config)
    for problem in config.problems:
        dag_id = broken_dag_id(problem)
        if problem.enabled and mine(dag_id) and (wanted is None or wanted == dag_id):
            dags[dag_id] = build_broken_dag(problem, config)
    return dags
