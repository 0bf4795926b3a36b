"""Faults on Arrow pages: cut or reset bodies are retried, another installation's page is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from include.migration import runtime
from include.migration.config import MigrationConfig
from include.migration.remote_service.app import CAPABILITIES
from include.migration.remote_service.server import RunningServer
from include.migration.source.client import RemoteResponseError
from tests.faults.conftest import ROWS, wire_installation
from tests.faults.harness import fail_then_recover, prove_recovered, transfer
from tests.faults.proxy import AsInstallation, FaultProxy, ResetMidBody, Rule, Truncate
from tests.faults.services import serve_remote


@pytest.fixture(scope="module")
def arrow_remote(
    fault_source: str, fault_config: MigrationConfig, fault_tokens: dict[str, str]
) -> Iterator[RunningServer]:
    server = serve_remote(fault_source, fault_config.data_types, fault_tokens, capabilities=CAPABILITIES)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def arrow_proxy(arrow_remote: RunningServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(arrow_remote.base_url)
    yield proxy
    proxy.close()


@pytest.fixture
def arrow_main(
    monkeypatch: pytest.MonkeyPatch, fault_config: MigrationConfig, fault_tokens: dict[str, str], arrow_proxy: FaultProxy
) -> Iterator[str]:
    """``fault_main`` behind a proxy in front of a remote that serves Arrow pages."""
    arrow_proxy.clear()
    arrow_proxy.errors.clear()
    wire_installation(monkeypatch, fault_config, fault_tokens, "fault_main", arrow_proxy.port)
    runtime.prepare_target("fault_main")
    yield "fault_main"
    arrow_proxy.clear()
    assert arrow_proxy.errors == [], "a scripted fault broke instead of answering"


def _page(fault, page: int = 2, times: int | None = 1) -> Rule:
    return Rule(fault, data_type="users", page=page, times=times)


def test_a_truncated_arrow_page_is_retried(arrow_main: str, arrow_proxy: FaultProxy, fault_source: str) -> None:
    arrow_proxy.script(_page(Truncate()))
    run = transfer(arrow_main, "users")
    assert run.result["done"] and run.result["rows"] == ROWS
    assert arrow_proxy.hits() == 1 and run.retries == 1
    prove_recovered("truncated Arrow page 2", arrow_main, ["users"], fault_source, detail="1 retry")


def test_an_arrow_page_reset_mid_body_is_retried(arrow_main: str, arrow_proxy: FaultProxy, fault_source: str) -> None:
    arrow_proxy.script(_page(ResetMidBody(), times=2))
    run = transfer(arrow_main, "users")
    assert run.result["done"] and arrow_proxy.hits() == 2 and run.retries == 2
    prove_recovered("Arrow page 2 reset mid-body, twice", arrow_main, ["users"], fault_source, detail="2 retries")


def test_an_arrow_page_of_another_installation_is_refused(
    arrow_main: str, arrow_proxy: FaultProxy, fault_source: str, fault_tokens: dict[str, str]
) -> None:
    arrow_proxy.script(_page(AsInstallation("fault_other", fault_tokens["fault_other"]), times=None))
    fail_then_recover(
        "Arrow page 2 holds another installation's rows",
        installation_id=arrow_main, data_type="users", source_url=fault_source,
        expected=RemoteResponseError, next_step=r"answered with installation 'fault_other'.*nothing was written",
        committed_rows=500, total_rows=ROWS, fault_off=arrow_proxy.clear,
    )
