"""Fixtures of the distributed suite: a seeded source, the remote in its own process, a Celery cluster.

The suite brings its own installations (``installations.yaml``), source
database, MariaDB targets and Airflow (PostgreSQL metadata database, Redis
broker), all named with the test database prefix, and prints one summary line
at the end of the session.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from include.migration.configuration.config import MigrationConfig
from include.migration.configuration.config_loading import load_config
from tests.conftest import DB_PREFIX, ROOT, seeded_source, target_database_name
from tests.distributed.cluster import ARTIFACTS, Cluster, free_port
from tests.faults.mariadb import fresh_database
from tests.faults.services import connection_env, remote_connection, target_connection

CONFIG_PATHS = (ROOT / "tests" / "fixtures" / "migration_config.yaml", ROOT / "tests" / "distributed" / "installations.yaml")
INSTALLATIONS = ("north", "south", "east", "backfilled", "killed", "contended")
ROWS = 4_000

# Facts the tests record for the summary line, in its order.
SUMMARY: dict[str, Any] = {}
SUMMARY_KEYS = (
    "workers", "runs", "tasks_per_worker", "worker_kill", "backfill_rows_written", "source_rows",
    "concurrent_transfer_refused",
)


@pytest.fixture(scope="package")
def cluster_config() -> Iterator[MigrationConfig]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MIGRATION_CONFIG", os.pathsep.join(str(p) for p in CONFIG_PATHS))
        yield load_config()


@pytest.fixture(scope="package")
def cluster_source(cluster_config: MigrationConfig) -> str:
    return seeded_source(f"{DB_PREFIX}_distributed_source", cluster_config.data_types, INSTALLATIONS, ROWS)


@pytest.fixture(scope="package")
def cluster_remote(cluster_source: str) -> Iterator[tuple[int, dict[str, str]]]:
    """The reference remote in its own process, as a user runs it; yields (port, installation -> token)."""
    tokens = {installation: secrets.token_urlsafe(24) for installation in INSTALLATIONS}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tokens_file = ARTIFACTS / "tokens.json"
    tokens_file.write_text(json.dumps(tokens))
    port = free_port()
    log = open(ARTIFACTS / "remote.log", "ab")  # noqa: SIM115 - the process keeps it open
    process = subprocess.Popen(
        [sys.executable, "-m", "include.reference_remote", "serve", "--source-url", cluster_source,
         "--config", str(CONFIG_PATHS[0]), "--tokens-file", str(tokens_file), "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/data-migration/status", timeout=2)
        except urllib.error.HTTPError:
            break  # answering (401 without a token): up
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the reference remote did not start; see {ARTIFACTS / 'remote.log'}")
            time.sleep(0.3)
    yield port, tokens
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="package")
def cluster(cluster_config: MigrationConfig, cluster_remote: tuple[int, dict[str, str]]) -> Iterator[Cluster]:
    """Fresh targets, then the whole Airflow: api-server, scheduler, dag-processor, triggerer, two workers."""
    port, tokens = cluster_remote
    connections = {}
    for installation in INSTALLATIONS:
        spec = cluster_config.installation(installation)
        fresh_database(target_database_name(installation))
        connections[connection_env(spec.remote_conn_id)] = remote_connection(port, tokens[installation])
        connections[connection_env(spec.target_conn_id)] = target_connection(target_database_name(installation))
    running = Cluster(config_paths=CONFIG_PATHS, connections=connections)
    try:
        running.start()
        running.wait_for_dags([f"migrate_{i}" for i in INSTALLATIONS])
        SUMMARY["workers"] = 2
        yield running
        SUMMARY["runs"] = running.query("SELECT count(*) FROM dag_run WHERE state IN ('success', 'failed')")[0][0]
    finally:
        running.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line with what the distributed suite proved (only when every fact was recorded)."""
    if all(key in SUMMARY for key in SUMMARY_KEYS):
        terminalreporter.write_line("distributed: " + " ".join(f"{key}={SUMMARY[key]}" for key in SUMMARY_KEYS))
