"""Faults particular to Arrow pages: a page of another installation is refused.

The transport faults run on Arrow pages too, in ``test_remote_faults.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from include.migration.configuration.config import MigrationConfig
from include.migration.orchestration import runtime
from include.migration.source.arrow_pages import ARROW_MEDIA_TYPE
from include.migration.source.client import RemoteResponseError
from tests.faults.conftest import ROWS, scripted, wire_installation
from tests.faults.harness import fail_then_recover
from tests.faults.proxy import AsInstallation, FaultProxy, Rule


@pytest.fixture
def arrow_main(
    monkeypatch: pytest.MonkeyPatch, fault_config: MigrationConfig, fault_tokens: dict[str, str], arrow_proxy: FaultProxy
) -> Iterator[str]:
    """``fault_main`` behind a proxy in front of a remote that serves Arrow pages."""
    with scripted(arrow_proxy):
        wire_installation(monkeypatch, fault_config, fault_tokens, "fault_main", arrow_proxy.port)
        runtime.prepare_target("fault_main")
        arrow_proxy.pages_served.clear()  # the pre-flight samples a JSON page of each data type
        yield "fault_main"


def test_an_arrow_page_of_another_installation_is_refused(
    arrow_main: str, arrow_proxy: FaultProxy, fault_source: str, fault_tokens: dict[str, str]
) -> None:
    arrow_proxy.script(Rule(AsInstallation("fault_other", fault_tokens["fault_other"]), data_type="users", page=2,
                            times=None))

    def fetched_arrow() -> None:
        assert set(arrow_proxy.pages_served) == {ARROW_MEDIA_TYPE}, arrow_proxy.pages_served

    fail_then_recover(
        "Arrow page 2 holds another installation's rows",
        installation_id=arrow_main, data_type="users", source_url=fault_source,
        expected=RemoteResponseError, next_step=r"answered with installation 'fault_other'.*nothing was written",
        committed_rows=500, total_rows=ROWS, fault_off=arrow_proxy.clear, check=fetched_arrow,
    )
