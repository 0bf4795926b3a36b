"""Fixtures of the fault suite, and the fault report printed at the end of the session.

The suite brings its own configuration (``installations.yaml`` over the test
data types), its own seeded source database, remote and fault proxy, and a
fresh MariaDB target per case, all named with the test database prefix, so it
runs beside other suites on the same servers.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator

import pytest

from include.migration.configuration.config import MigrationConfig
from include.migration.configuration.config_loading import load_config
from include.migration.orchestration import runtime
from include.reference_remote.app import CAPABILITIES
from include.reference_remote.server import RunningServer
from tests.conftest import DB_PREFIX, ROOT, target_database_name
from tests.faults import report
from tests.faults.mariadb import fresh_database
from tests.faults.proxy import FaultProxy
from tests.faults.services import connection_env, remote_connection, seeded_source, serve_remote, target_connection

FAULT_CONFIG = os.pathsep.join(
    [str(ROOT / "tests" / "fixtures" / "migration_config.yaml"), str(ROOT / "tests" / "faults" / "installations.yaml")]
)
FAULT_INSTALLATIONS = ("fault_main", "fault_other", "fault_small", "fault_sec")
ROWS = 1500


@pytest.fixture(scope="package", autouse=True)
def fault_config() -> Iterator[MigrationConfig]:
    """The suite's configuration, for the suite only (other suites keep theirs)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MIGRATION_CONFIG", FAULT_CONFIG)
        yield load_config()


@pytest.fixture(scope="package")
def fault_source(fault_config: MigrationConfig) -> str:
    """``<prefix>_faults_source``: the fault installations, ``ROWS`` rows per data type."""
    return seeded_source(f"{DB_PREFIX}_faults_source", fault_config.data_types, FAULT_INSTALLATIONS, ROWS)


@pytest.fixture(scope="package")
def fault_tokens() -> dict[str, str]:
    return {installation: secrets.token_urlsafe(24) for installation in FAULT_INSTALLATIONS}


@pytest.fixture(scope="package")
def fault_remote(
    fault_source: str, fault_config: MigrationConfig, fault_tokens: dict[str, str]
) -> Iterator[RunningServer]:
    server = serve_remote(fault_source, fault_config.data_types, fault_tokens)
    yield server
    server.stop()


@pytest.fixture(scope="package")
def fault_proxy(fault_remote: RunningServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(fault_remote.base_url)
    yield proxy
    proxy.close()


@pytest.fixture(scope="package")
def arrow_remote(
    fault_source: str, fault_config: MigrationConfig, fault_tokens: dict[str, str]
) -> Iterator[RunningServer]:
    """The same remote with every capability, ``arrow-pages`` included: the transfer asks it for Arrow pages."""
    server = serve_remote(fault_source, fault_config.data_types, fault_tokens, capabilities=CAPABILITIES)
    yield server
    server.stop()


@pytest.fixture(scope="package")
def arrow_proxy(arrow_remote: RunningServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(arrow_remote.base_url)
    yield proxy
    proxy.close()


@contextlib.contextmanager
def scripted(proxy: FaultProxy) -> Iterator[FaultProxy]:
    """``proxy`` with no faults scripted and nothing counted, and no fault left behind or broken afterwards."""
    proxy.clear()
    proxy.errors.clear()
    proxy.pages_served.clear()
    yield proxy
    proxy.clear()
    assert proxy.errors == [], "a scripted fault broke instead of answering"


@pytest.fixture
def proxy(fault_proxy: FaultProxy) -> Iterator[FaultProxy]:
    """The fault proxy with no faults scripted, and none left behind."""
    with scripted(fault_proxy) as clean:
        yield clean


@pytest.fixture
def wire(
    monkeypatch: pytest.MonkeyPatch,
    fault_config: MigrationConfig,
    fault_tokens: dict[str, str],
    fault_remote: RunningServer,
    proxy: FaultProxy,
) -> Callable[..., str]:
    """``wire(installation, via_proxy=True)``: a fresh target and connections; returns the target database."""

    def connect(installation_id: str, *, via_proxy: bool = True) -> str:
        port = proxy.port if via_proxy else fault_remote.port
        return wire_installation(monkeypatch, fault_config, fault_tokens, installation_id, port)

    return connect


def wire_installation(
    monkeypatch: pytest.MonkeyPatch,
    fault_config: MigrationConfig,
    fault_tokens: dict[str, str],
    installation_id: str,
    port: int,
) -> str:
    """A fresh target database and the installation's connections to it and to the remote on ``port``."""
    installation = fault_config.installation(installation_id)
    database = target_database_name(installation_id)
    fresh_database(database)
    token = fault_tokens[installation_id]
    monkeypatch.setenv(connection_env(installation.remote_conn_id), remote_connection(port, token))
    monkeypatch.setenv(connection_env(installation.target_conn_id), target_connection(database))
    return database


@pytest.fixture
def fault_main(wire: Callable[..., str]) -> str:
    """``fault_main`` behind the proxy, its target prepared (schema and pre-flight run before any fault)."""
    wire("fault_main")
    runtime.prepare_target("fault_main")
    return "fault_main"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the fault report (and write it to ``.test-artifacts/fault-report.md``) when cases ran."""
    if not report.RECORDS:
        return
    path = report.write(report.RECORDS)
    terminalreporter.section("fault report")
    terminalreporter.write(report.render(report.RECORDS))
    terminalreporter.write_line(f"(written to {path.relative_to(ROOT)})")
