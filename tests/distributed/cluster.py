"""A real distributed Airflow on loopback: CeleryExecutor, Redis broker, PostgreSQL metadata database.

Every component is its own process, started the way the README tells a user
to start them without Docker: ``airflow api-server``, ``scheduler``,
``dag-processor``, ``triggerer`` and two ``airflow celery worker`` processes.
Logs go to ``.test-artifacts/distributed/``; the metadata database is read
directly for assertions (task instances, runs, XComs).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil
import psycopg2
import redis

from tests.conftest import DB_PREFIX, ROOT, fresh_postgres_database

ARTIFACTS = ROOT / ".test-artifacts" / "distributed"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
REDIS_URL = os.environ.get("MIGRATION_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
FINISHED = ("success", "failed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """The processes of one distributed Airflow, their shared environment and the metadata database."""

    def __init__(self, *, config_paths: Sequence[Path], connections: Mapping[str, str]) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.home = ARTIFACTS / "airflow-home"
        self.home.mkdir(exist_ok=True)
        self.metadata_db = f"{DB_PREFIX}_airflow"
        self.api_port = free_port()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MIGRATION_"))}
        metadata_url = f"postgresql+psycopg2://root@127.0.0.1:5432/{self.metadata_db}"
        self.env = {
            **base,
            "PYTHONPATH": str(ROOT),
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.api_port}",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            # Runs start from triggers and backfills only, so each test decides what runs when.
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            # A killed worker's task is declared dead after 20 s instead of 5 minutes.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.distributed.hostnames.worker_hostname",
            "MIGRATION_CONFIG": os.pathsep.join(str(p) for p in config_paths),
            **connections,
        }

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        fresh_postgres_database(self.metadata_db)
        try:
            redis.Redis.from_url(REDIS_URL).flushdb()
        except redis.ConnectionError as exc:
            raise AssertionError(
                f"Redis at {REDIS_URL} is not reachable ({exc}); start it with "
                "`redis-server --bind 127.0.0.1 --port 6379 --daemonize yes`"
            ) from None
        self.airflow("db", "migrate", timeout=600)
        from include.migration.commands.settings import load_settings, never_load_examples

        never_load_examples(self.home)

        # The pool comes from airflow_settings.yaml, loaded the way `make settings` and compose's init load it.
        load_settings(ROOT / "airflow_settings.yaml", airflow=(AIRFLOW,), env=self.env)
        self.spawn("api-server", [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(self.api_port)])
        self.spawn("scheduler", [AIRFLOW, "scheduler"])
        self.spawn("dag-processor", [AIRFLOW, "dag-processor"])
        self.spawn("triggerer", [AIRFLOW, "triggerer", "--skip-serve-logs"])
        for name in ("worker-a", "worker-b"):
            self.start_worker(name)
        self.wait_until_ready()

    def start_worker(self, name: str) -> None:
        self.spawn(
            name,
            [AIRFLOW, "celery", "worker", "--celery-hostname", name, "--skip-serve-logs", "--concurrency", "4"],
            {"MIGRATION_WORKER_NAME": name},
        )

    def spawn(self, name: str, command: list[str], extra_env: Mapping[str, str] | None = None) -> None:
        log = open(ARTIFACTS / f"{name}.log", "ab")  # noqa: SIM115 - the process keeps it open
        self.processes[name] = subprocess.Popen(
            command, env={**self.env, **(extra_env or {})}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=ROOT,
        )

    def wait_until_ready(self, timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            health = self.health()
            workers = [n for n in self.processes if n.startswith("worker-") and self.worker_ready(n)]
            healthy = health and all(
                (health.get(part) or {}).get("status") == "healthy" for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
            )
            if healthy and len(workers) == 2:
                return
            time.sleep(1)
        raise AssertionError(f"the cluster did not become ready in {timeout:.0f}s: health {self.health()}; see {ARTIFACTS}")

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health", timeout=5) as answer:
                return json.loads(answer.read())
        except OSError:
            return None

    def worker_ready(self, name: str) -> bool:
        return "ready." in (ARTIFACTS / f"{name}.log").read_text(errors="replace")

    def check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.processes.items() if p.poll() is not None}
        if dead:
            raise AssertionError(f"cluster processes exited: {dead}; see their logs in {ARTIFACTS}")

    def kill_worker(self, name: str) -> None:
        """SIGKILL a worker and every process under it (pool children, task supervisors, tasks) at once."""
        process = self.processes.pop(name)
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
        for member in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self) -> None:
        for name, process in list(self.processes.items()):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        # Task processes live in their own process groups: none may outlive the suite.
        for process in psutil.process_iter(["environ"]):
            with contextlib.suppress(psutil.Error):
                if (process.info["environ"] or {}).get("AIRFLOW_HOME") == str(self.home):
                    process.kill()
        self.processes.clear()

    # -- commands and the metadata database ------------------------------------------------------

    def airflow(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run([AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        if done.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    @contextlib.contextmanager
    def metadata(self) -> Iterator[Any]:
        conn = psycopg2.connect(host="127.0.0.1", port=5432, user="root", dbname=self.metadata_db)
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                yield cursor
        finally:
            conn.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.metadata() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def wait_for_dags(self, dag_ids: Sequence[str], timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            found = {r[0] for r in self.query("SELECT dag_id FROM serialized_dag WHERE dag_id = ANY(%s)", (list(dag_ids),))}
            if found >= set(dag_ids):
                return
            time.sleep(1)
        raise AssertionError(f"the dag-processor did not serialize {sorted(set(dag_ids) - found)} in {timeout:.0f}s")

    def trigger(self, dag_id: str, run_id: str) -> str:
        self.airflow("dags", "trigger", dag_id, "--run-id", run_id)
        return run_id

    def runs(self, dag_id: str) -> dict[str, str]:
        """run_id -> state of every run of ``dag_id``."""
        return dict(self.query("SELECT run_id, state FROM dag_run WHERE dag_id = %s", (dag_id,)))

    def wait_for_runs(self, dag_id: str, count: int | None = None, run_ids: Sequence[str] = (), timeout: float = 300) -> dict[str, str]:
        """Wait until the given runs (or ``count`` runs) of ``dag_id`` finished; returns run_id -> state."""
        deadline = time.monotonic() + timeout
        runs: dict[str, str] = {}
        while time.monotonic() < deadline:
            self.check_alive()
            runs = self.runs(dag_id)
            wanted = {r: runs.get(r) for r in run_ids} if run_ids else runs
            if (not count or len(wanted) >= count) and wanted and all(s in FINISHED for s in wanted.values()):
                return wanted
            time.sleep(2)
        raise AssertionError(f"runs of {dag_id} did not finish in {timeout:.0f}s: {runs}; see {ARTIFACTS}")

    def task_instances(self, dag_id: str, run_id: str | None = None) -> list[dict[str, Any]]:
        sql = (
            "SELECT run_id, task_id, map_index, state, try_number, hostname, rendered_map_index "
            "FROM task_instance WHERE dag_id = %s" + (" AND run_id = %s" if run_id else "")
        )
        names = ("run_id", "task_id", "map_index", "state", "try_number", "hostname", "rendered_map_index")
        return [dict(zip(names, r)) for r in self.query(sql, (dag_id, run_id) if run_id else (dag_id,))]

    def hostnames_of_tries(self, dag_id: str, run_id: str, task_id: str) -> list[tuple[int, str]]:
        """(try number, hostname) of every try of a task, the history table holding the earlier ones."""
        earlier = self.query(
            "SELECT try_number, hostname FROM task_instance_history WHERE dag_id = %s AND run_id = %s AND task_id = %s",
            (dag_id, run_id, task_id),
        )
        current = self.query(
            "SELECT try_number, hostname FROM task_instance WHERE dag_id = %s AND run_id = %s AND task_id = %s",
            (dag_id, run_id, task_id),
        )
        return sorted(set(earlier) | set(current))

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Any:
        """A task's return value, as stored in the metadata database."""
        rows = self.query(
            "SELECT value FROM xcom WHERE dag_id = %s AND run_id = %s AND task_id = %s AND map_index = %s "
            "AND key = 'return_value'",
            (dag_id, run_id, task_id, map_index),
        )
        assert rows, f"no return value of {dag_id}/{run_id}/{task_id}[{map_index}]"
        value = rows[0][0]
        return json.loads(value) if isinstance(value, (str, bytes)) else value

    def task_log(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1, attempt: int = 1) -> str:
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            folder = folder / f"map_index={map_index}"
        path = folder / f"attempt={attempt}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def grep_logs(self, pattern: str) -> list[str]:
        """Lines of every task log under the Airflow home matching ``pattern``."""
        regex = re.compile(pattern)
        return [
            line for path in sorted((self.home / "logs").rglob("*.log"))
            for line in path.read_text(errors="replace").splitlines() if regex.search(line)
        ]
