"""Load: 8 installations migrated at once against one remote and one MariaDB server."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from include.migration.configuration.config import MigrationConfig
from include.migration.orchestration import runtime
from include.reference_remote.server import RunningServer
from tests.conftest import DB_PREFIX, target_database_name
from tests.faults.harness import prove_recovered
from tests.faults.mariadb import fresh_database
from tests.faults.services import connection_env, remote_connection, seeded_source, serve_remote, target_connection
from tests.support import source_rows

LOAD_INSTALLATIONS = tuple(f"load_{letter}" for letter in "abcdefgh")
LOAD_ROWS = 3000


@pytest.fixture(scope="module")
def load_source(fault_config: MigrationConfig) -> str:
    """``<prefix>_load_source``: every load installation, ``LOAD_ROWS`` rows of every data type."""
    return seeded_source(f"{DB_PREFIX}_load_source", fault_config.data_types, LOAD_INSTALLATIONS, LOAD_ROWS)


@pytest.fixture(scope="module")
def load_tokens() -> dict[str, str]:
    return {installation: secrets.token_urlsafe(24) for installation in LOAD_INSTALLATIONS}


@pytest.fixture(scope="module")
def load_remote(
    load_source: str, fault_config: MigrationConfig, load_tokens: dict[str, str]
) -> Iterator[RunningServer]:
    server = serve_remote(load_source, fault_config.data_types, load_tokens)
    yield server
    server.stop()


@pytest.fixture
def load_targets(
    monkeypatch: pytest.MonkeyPatch,
    fault_config: MigrationConfig,
    load_remote: RunningServer,
    load_tokens: dict[str, str],
) -> dict[str, list[str]]:
    """Fresh ``<prefix>_load_<x>`` targets wired to the load remote; installation -> its data types."""
    plan = {}
    for installation_id in LOAD_INSTALLATIONS:
        installation = fault_config.installation(installation_id)
        database = target_database_name(installation_id)
        fresh_database(database)
        remote = remote_connection(load_remote.port, load_tokens[installation_id])
        monkeypatch.setenv(connection_env(installation.remote_conn_id), remote)
        monkeypatch.setenv(connection_env(installation.target_conn_id), target_connection(database))
        plan[installation_id] = [d.name for d in fault_config.data_types_for(installation)]
    return plan


class StatusPoller(threading.Thread):
    """Asks the remote's status endpoint every 50 ms; records (time, HTTP status, seconds taken)."""

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__(name="status-poller", daemon=True)
        self._url = f"{base_url}/data-migration/status"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._halt = threading.Event()
        self.answers: list[tuple[float, int, float]] = []

    def run(self) -> None:
        with requests.Session() as session:
            while not self._halt.is_set():
                began = time.monotonic()
                try:
                    status = session.get(self._url, headers=self._headers, timeout=10).status_code
                except requests.RequestException:
                    status = 0
                self.answers.append((began, status, time.monotonic() - began))
                self._halt.wait(0.05)

    def stop(self) -> None:
        self._halt.set()
        self.join(15)


def test_eight_installations_at_once(
    load_targets: dict[str, list[str]], load_remote: RunningServer, load_tokens: dict[str, str], load_source: str,
    fault_config: MigrationConfig,
) -> None:
    jobs = [(installation, name) for installation, names in load_targets.items() for name in names]
    assert len(load_targets) == 8 and {len(n) for n in load_targets.values()} == {1, 2, 3}
    with ThreadPoolExecutor(len(load_targets)) as pool:
        list(pool.map(runtime.prepare_target, load_targets))
    poller = StatusPoller(load_remote.base_url, load_tokens["load_a"])
    poller.start()
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(len(jobs)) as pool:
            results = list(pool.map(lambda job: runtime.transfer(job[0], job[1], "load"), jobs))
    finally:
        finished = time.monotonic()
        poller.stop()
    assert [(r["installation"], r["data_type"], r["done"], r["rows"]) for r in results] == [
        (installation, name, True, LOAD_ROWS) for installation, name in jobs
    ]
    during = [a for a in poller.answers if started <= a[0] <= finished]
    assert len(during) >= 5, "the status endpoint was hardly asked during the load"
    assert {status for _, status, _ in during} == {200}
    slowest = max(seconds for _, _, seconds in during)
    assert slowest < 5.0
    # Isolation is observable: the installations' rows differ at the source (same keys, other values).
    spec = fault_config.data_type("users")
    assert source_rows(load_source, spec, "load_a")[:50] != source_rows(load_source, spec, "load_b")[:50]
    seconds = finished - started
    for installation, names in load_targets.items():
        prove_recovered(
            f"load: {installation} ({', '.join(names)}) with 7 others at once", installation, names, load_source,
            detail=f"{len(jobs)} transfers in {seconds:.1f} s; status answered {len(during)}x, slowest {slowest:.2f} s",
        )
