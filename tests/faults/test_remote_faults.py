"""Transport faults between the client and the remote: retried until the transfer recovers, or a clean failure.

Every case runs on both page formats: once against the suite's JSON-only
remote, once against a remote that also announces ``arrow-pages``, which the
transfer (``page_format: auto``) then asks for Arrow pages. Each case checks
from the proxy's side that the pages it fetched came in its format.
"""

from __future__ import annotations

import dataclasses
import email.utils
import time
from collections.abc import Iterator

import pytest

from include.migration.configuration.config import MigrationConfig
from include.migration.orchestration import runtime
from include.migration.source.arrow_pages import ARROW_MEDIA_TYPE
from include.migration.source.client import RemoteRetryableError
from tests.faults.conftest import ROWS, scripted, wire_installation
from tests.faults.harness import FAST, SleepRecorder, fail_then_recover, prove_recovered, transfer
from tests.faults.proxy import Delay, Fault, FaultProxy, Malformed, ResetMidBody, Rule, Status, Truncate

MEDIA_TYPES = {"json": "application/json", "arrow": ARROW_MEDIA_TYPE}
# users: 1500 rows in pages of 500.
PAGES = ROWS // 500
MALFORMED = {
    "json": ("an HTML error page", Malformed()),
    "arrow": ("bytes labelled as an Arrow stream that are none", Malformed(b"\x00" * 64 + b"no IPC", ARROW_MEDIA_TYPE)),
}


@dataclasses.dataclass(frozen=True)
class Remote:
    """``fault_main`` wired through a fault proxy to a remote serving ``page_format`` pages."""

    installation: str
    proxy: FaultProxy
    page_format: str

    def case(self, text: str) -> str:
        """The report's case name, saying which page format it ran on."""
        return f"{text} ({self.page_format})"

    def assert_pages_in_format(self) -> None:
        """Every page the remote answered came in this case's format, and there were at least all pages."""
        served = self.proxy.pages_served
        assert set(served) == {MEDIA_TYPES[self.page_format]}, served
        assert sum(served.values()) >= PAGES, served


@pytest.fixture(params=tuple(MEDIA_TYPES))
def remote(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    fault_config: MigrationConfig,
    fault_tokens: dict[str, str],
    fault_proxy: FaultProxy,
    arrow_proxy: FaultProxy,
) -> Iterator[Remote]:
    """``fault_main``'s target prepared, its remote behind the proxy of the JSON-only or the Arrow remote."""
    page_format: str = request.param
    faulty = arrow_proxy if page_format == "arrow" else fault_proxy
    with scripted(faulty):
        wire_installation(monkeypatch, fault_config, fault_tokens, "fault_main", faulty.port)
        runtime.prepare_target("fault_main")
        faulty.pages_served.clear()  # the pre-flight samples a JSON page of each data type
        yield Remote("fault_main", faulty, page_format)


def _page(fault: Fault, page: int = 2, times: int | None = 1) -> Rule:
    return Rule(fault, data_type="users", page=page, times=times)


def _recovered(remote: Remote, case: str, source: str, detail: str) -> None:
    prove_recovered(remote.case(case), remote.installation, ["users"], source, detail=detail,
                    check=remote.assert_pages_in_format)


def test_5xx_bursts_are_retried(remote: Remote, fault_source: str) -> None:
    remote.proxy.script(_page(Status(500)), _page(Status(502)), _page(Status(503)), _page(Status(503), page=4))
    run = transfer(remote.installation, "users")
    assert run.result["done"] and run.result["rows"] == ROWS
    assert remote.proxy.hits() == 4 and run.retries == 4
    _recovered(remote, "5xx burst: 500, 502, 503 on page 2, 503 on the last page", fault_source, "4 retries")


def test_persistent_5xx_fails_cleanly_after_the_retries(remote: Remote, fault_source: str) -> None:
    remote.proxy.script(_page(Status(503), times=None))
    fail_then_recover(
        remote.case("503 on every attempt at page 2"),
        installation_id=remote.installation, data_type="users", source_url=fault_source,
        expected=RemoteRetryableError, next_step=r"gave up after 4 attempts.*re-run when the remote is healthy",
        committed_rows=500, total_rows=ROWS, fault_off=remote.proxy.clear, check=remote.assert_pages_in_format,
    )


def test_429_waits_as_long_as_retry_after_says(remote: Remote, fault_source: str) -> None:
    in_three_seconds = email.utils.formatdate(time.time() + 3, usegmt=True)
    remote.proxy.script(
        _page(Status(429, {"Retry-After": "2"})),
        _page(Status(429, {"Retry-After": in_three_seconds}), page=3),
    )
    sleeps = SleepRecorder()
    run = transfer(remote.installation, "users", sleep=sleeps)
    assert run.result["done"] and remote.proxy.hits() == 2
    # Backoff alone would wait ~0.01 s: the waits are the server's, in seconds and as an HTTP date.
    assert sleeps.waits[0] == 2.0
    assert 1.0 < sleeps.waits[1] <= 3.0
    assert len(sleeps.waits) == 2
    _recovered(remote, "429 with Retry-After (2 s; an HTTP date 3 s ahead)", fault_source,
               f"waited {sleeps.waits[0]:.0f} s and {sleeps.waits[1]:.1f} s")


def test_slow_responses_past_the_read_timeout_are_retried(remote: Remote, fault_source: str) -> None:
    impatient = dataclasses.replace(FAST, read_timeout=0.5)
    remote.proxy.script(_page(Delay(1.5), times=2))
    started = time.monotonic()
    run = transfer(remote.installation, "users", policy=impatient)
    assert run.result["done"] and remote.proxy.hits() == 2 and run.retries == 2
    assert time.monotonic() - started < 1.5 * 2  # the client gave up on each slow answer, it did not wait it out
    _recovered(remote, "slow page 2 (1.5 s) past a 0.5 s read timeout, twice", fault_source, "2 retries")


def test_connection_reset_mid_body_is_retried(remote: Remote, fault_source: str) -> None:
    remote.proxy.script(_page(ResetMidBody(), times=2))
    run = transfer(remote.installation, "users")
    assert run.result["done"] and remote.proxy.hits() == 2 and run.retries == 2
    _recovered(remote, "connection reset mid-body on page 2, twice", fault_source, "2 retries")


def test_truncated_body_is_retried(remote: Remote, fault_source: str) -> None:
    remote.proxy.script(_page(Truncate()))
    run = transfer(remote.installation, "users")
    assert run.result["done"] and remote.proxy.hits() == 1 and run.retries == 1
    _recovered(remote, "body cut in half on page 2", fault_source, "1 retry")


def test_malformed_body_is_retried(remote: Remote, fault_source: str) -> None:
    what, fault = MALFORMED[remote.page_format]
    remote.proxy.script(_page(fault, page=3))
    run = transfer(remote.installation, "users")
    assert run.result["done"] and remote.proxy.hits() == 1 and run.retries == 1
    _recovered(remote, f"malformed body on page 3: {what}", fault_source, "1 retry")
