"""Data-type leases on a real MariaDB target: one holder at a time, takeover rules, renewal, fencing."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from include.migration.orchestration import runtime
from include.migration.target.connection import open_target
from include.migration.target.lease import DataTypeLease, LeaseHeldError, LeaseLostError, LeaseOwner
from include.migration.target.profiles import get_profile
from include.migration.target.state import StateStore, data_type_job_id
from tests.conftest import ROWS_PER_TYPE
from tests.support import state_rows

PROFILE = get_profile("mysql")
CONN_ID = "migration_target_acme"


@pytest.fixture
def prepared(remote, fresh_targets):
    runtime.prepare_target("acme", ["comments"])
    db = open_target(CONN_ID, PROFILE)
    yield db
    db.close()


def lease_for(db, owner: LeaseOwner, **options) -> DataTypeLease:
    options.setdefault("wait_seconds", 0)
    return DataTypeLease(
        installation_id="acme", data_type="comments", job_id=data_type_job_id("comments"), owner=owner, db=db,
        connect=lambda: open_target(CONN_ID, PROFILE), **options,
    )


def test_another_run_waits_then_is_refused_with_the_holder_named(prepared):
    holder = LeaseOwner("scheduled__1", "scheduled__1 transfer[comments] try 1 on host pid 1")
    other = LeaseOwner("manual__2", "manual__2 transfer[comments] try 1 on host pid 2")
    with lease_for(prepared, holder):
        started = time.monotonic()
        with pytest.raises(LeaseHeldError, match=r"installation 'acme', data type 'comments': run 'scheduled__1' is "
                                                  r"working on it \(scheduled__1 transfer\[comments\] try 1 .*this run "
                                                  r"\('manual__2'\) waited 1s and skips it"):
            lease_for(prepared, other, wait_seconds=1.0, poll_seconds=0.2).acquire()
        assert 1.0 <= time.monotonic() - started < 5
    # Released: the other run gets it at once.
    with lease_for(prepared, other):
        assert StateStore(prepared).lease(data_type_job_id("comments")).owner == "manual__2"
    assert StateStore(prepared).lease(data_type_job_id("comments")).owner is None


def test_a_retry_of_the_same_run_takes_over_and_the_earlier_try_is_fenced_off(prepared):
    first = lease_for(prepared, LeaseOwner("run", "run transfer[comments] try 1"), renew_every_seconds=0.2)
    first.acquire()  # then "killed": never released
    second = lease_for(prepared, LeaseOwner("run", "run transfer[comments] try 2"))
    second.acquire()
    state = StateStore(prepared)
    assert state.lease(data_type_job_id("comments")).holder == "run transfer[comments] try 2"
    # The earlier try's heartbeat notices the takeover; its checks and its fenced checkpoint stop it.
    deadline = time.monotonic() + 5
    while first._lost is None and time.monotonic() < deadline:
        time.sleep(0.1)
    with pytest.raises(LeaseLostError, match="taken over by run transfer\\[comments\\] try 2"):
        first.check()
    assert state.save_checkpoint("comments", 777, 10, 1, first.fence) is False
    assert state.save_checkpoint("comments", 500, 10, 1, second.fence) is True
    assert state_rows("acme")["data_type:comments"]["checkpoint"] == "500"
    first.release()  # a lost lease is not released: the new holder keeps it
    assert state.lease(data_type_job_id("comments")).holder == "run transfer[comments] try 2"
    second.release()


def test_an_expired_lease_of_a_dead_run_is_taken_over(prepared):
    now = [dt.datetime(2026, 11, 30, 12, 0, 0)]
    dead = lease_for(prepared, LeaseOwner("dead", "dead transfer try 1"), clock=lambda: now[0], lease_seconds=60)
    dead.acquire()
    dead._stop.set()  # the worker died: nobody renews
    alive = lease_for(prepared, LeaseOwner("alive", "alive transfer try 1"), clock=lambda: now[0])
    with pytest.raises(LeaseHeldError, match="run 'dead' is working on it"):
        alive.acquire()
    now[0] += dt.timedelta(seconds=61)
    alive.acquire()
    assert StateStore(prepared).lease(data_type_job_id("comments")).owner == "alive"
    alive.release()


def test_the_heartbeat_keeps_a_lease_alive_past_its_length(prepared):
    lease = lease_for(prepared, LeaseOwner("long", "long validate try 1"), lease_seconds=2, renew_every_seconds=0.3)
    with lease:
        first_expiry = StateStore(prepared).lease(data_type_job_id("comments")).expires_at
        time.sleep(3.5)
        lease.check()
        assert StateStore(prepared).lease(data_type_job_id("comments")).expires_at > first_expiry
        with pytest.raises(LeaseHeldError):
            lease_for(prepared, LeaseOwner("other", "other")).acquire()


def test_runs_claiming_at_the_same_moment_get_one_holder(prepared):
    for round_number in range(10):
        barrier = threading.Barrier(4)
        winners: list[str] = []

        def claim(name: str) -> None:
            db = open_target(CONN_ID, PROFILE)
            try:
                lease = lease_for(db, LeaseOwner(f"{name}-{round_number}", name))
                barrier.wait()
                try:
                    lease.acquire()
                    winners.append(name)
                    lease._stop.set()
                except LeaseHeldError:
                    pass
            finally:
                db.close()

        threads = [threading.Thread(target=claim, args=(f"run{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(winners) == 1, (round_number, winners)
        row = StateStore(prepared).lease(data_type_job_id("comments"))
        assert row.holder == winners[0]
        StateStore(prepared).release_lease(data_type_job_id("comments"), row.owner, row.holder)


def test_transfer_refused_while_another_run_holds_the_data_type(prepared):
    holder = lease_for(prepared, LeaseOwner("backfill__1", "backfill__1 transfer[comments] try 1"))
    holder.acquire()
    try:
        with pytest.raises(LeaseHeldError, match="run 'backfill__1' is working on it"):
            runtime.transfer("acme", "comments", "manual__1", owner=LeaseOwner("manual__1", "manual__1 transfer"))
        assert state_rows("acme")["data_type:comments"]["rows_copied"] == 0  # nothing written, status untouched
    finally:
        holder.release()
    assert runtime.transfer("acme", "comments", "manual__1")["rows"] == ROWS_PER_TYPE
