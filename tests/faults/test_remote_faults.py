"""Transport faults between the client and the remote: retried until the transfer recovers, or a clean failure."""

from __future__ import annotations

import dataclasses
import email.utils
import time

from include.migration.source.client import RemoteRetryableError
from tests.faults.conftest import ROWS
from tests.faults.harness import FAST, SleepRecorder, fail_then_recover, prove_recovered, transfer
from tests.faults.proxy import Delay, FaultProxy, Malformed, ResetMidBody, Rule, Status, Truncate


def _page(fault, page: int = 2, times: int | None = 1) -> Rule:
    return Rule(fault, data_type="users", page=page, times=times)


def test_5xx_bursts_are_retried(fault_main: str, proxy: FaultProxy, fault_source: str) -> None:
    proxy.script(_page(Status(500)), _page(Status(502)), _page(Status(503)), _page(Status(503), page=4))
    run = transfer(fault_main, "users")
    assert run.result["done"] and run.result["rows"] == ROWS
    assert proxy.hits() == 4 and run.retries == 4
    prove_recovered("5xx burst: 500, 502, 503 on page 2, 503 on the last page", fault_main, ["users"], fault_source,
                    detail="4 retries")


def test_persistent_5xx_fails_cleanly_after_the_retries(fault_main: str, proxy: FaultProxy, fault_source: str) -> None:
    proxy.script(_page(Status(503), times=None))
    fail_then_recover(
        "503 on every attempt at page 2",
        installation_id=fault_main, data_type="users", source_url=fault_source,
        expected=RemoteRetryableError, next_step=r"gave up after 4 attempts.*re-run when the remote is healthy",
        committed_rows=500, total_rows=ROWS, fault_off=proxy.clear,
    )


def test_429_waits_as_long_as_retry_after_says(fault_main: str, proxy: FaultProxy, fault_source: str) -> None:
    in_three_seconds = email.utils.formatdate(time.time() + 3, usegmt=True)
    proxy.script(
        _page(Status(429, {"Retry-After": "2"})),
        _page(Status(429, {"Retry-After": in_three_seconds}), page=3),
    )
    sleeps = SleepRecorder()
    run = transfer(fault_main, "users", sleep=sleeps)
    assert run.result["done"] and proxy.hits() == 2
    # Backoff alone would wait ~0.01 s: the waits are the server's, in seconds and as an HTTP date.
    assert sleeps.waits[0] == 2.0
    assert 1.0 < sleeps.waits[1] <= 3.0
    assert len(sleeps.waits) == 2
    prove_recovered("429 with Retry-After (2 s; an HTTP date 3 s ahead)", fault_main, ["users"], fault_source,
                    detail=f"waited {sleeps.waits[0]:.0f} s and {sleeps.waits[1]:.1f} s")


def test_slow_responses_past_the_read_timeout_are_retried(
    fault_main: str, proxy: FaultProxy, fault_source: str
) -> None:
    impatient = dataclasses.replace(FAST, read_timeout=0.5)
    proxy.script(_page(Delay(1.5), times=2))
    started = time.monotonic()
    run = transfer(fault_main, "users", policy=impatient)
    assert run.result["done"] and proxy.hits() == 2 and run.retries == 2
    assert time.monotonic() - started < 1.5 * 2  # the client gave up on each slow answer, it did not wait it out
    prove_recovered("slow page 2 (1.5 s) past a 0.5 s read timeout, twice", fault_main, ["users"], fault_source,
                    detail="2 retries")


def test_connection_reset_mid_body_is_retried(fault_main: str, proxy: FaultProxy, fault_source: str) -> None:
    proxy.script(_page(ResetMidBody(), times=2))
    run = transfer(fault_main, "users")
    assert run.result["done"] and proxy.hits() == 2 and run.retries == 2
    prove_recovered("connection reset mid-body on page 2, twice", fault_main, ["users"], fault_source,
                    detail="2 retries")


def test_truncated_body_is_retried(fault_main: str, proxy: FaultProxy, fault_source: str) -> None:
    proxy.script(_page(Truncate()))
    run = transfer(fault_main, "users")
    assert run.result["done"] and proxy.hits() == 1 and run.retries == 1
    prove_recovered("truncated JSON body on page 2", fault_main, ["users"], fault_source, detail="1 retry")


def test_malformed_json_is_retried(fault_main: str, proxy: FaultProxy, fault_source: str) -> None:
    proxy.script(_page(Malformed(), page=3))
    run = transfer(fault_main, "users")
    assert run.result["done"] and proxy.hits() == 1 and run.retries == 1
    prove_recovered("malformed JSON (an HTML error page) on page 3", fault_main, ["users"], fault_source,
                    detail="1 retry")
