"""The status tracker's rule, called directly."""

import pytest

from include.migration.steps.status_tracker import UnknownRemoteStatusError, decide_from_remote, decide_from_target
from include.migration.target.state import Status


def test_done_short_circuits_without_asking_the_remote():
    decision = decide_from_target(Status.DONE, force=False)
    assert decision is not None and decision.proceed is False and decision.record is None


def test_force_reopens_done():
    assert decide_from_target(Status.DONE, force=True) is None
    decision = decide_from_remote(Status.DONE, "IN_PROGRESS", force=True)
    assert decision.proceed and decision.record is Status.IN_PROGRESS


@pytest.mark.parametrize("local", [None, Status.READY, Status.PENDING, Status.IN_PROGRESS])
def test_not_done_asks_the_remote(local):
    assert decide_from_target(local, force=False) is None


@pytest.mark.parametrize(
    ("local", "remote", "proceed", "record"),
    [
        (None, "PENDING", False, Status.PENDING),
        (None, "READY", True, Status.IN_PROGRESS),
        (Status.PENDING, "READY", True, Status.IN_PROGRESS),
        (None, "IN_PROGRESS", True, Status.IN_PROGRESS),
        (Status.IN_PROGRESS, "IN_PROGRESS", True, None),
        (Status.IN_PROGRESS, "DONE", True, None),
        (Status.IN_PROGRESS, "PENDING", False, Status.PENDING),
    ],
)
def test_remote_decisions(local, remote, proceed, record):
    decision = decide_from_remote(local, remote, force=False)
    assert (decision.proceed, decision.record) == (proceed, record)


def test_unknown_remote_status_fails():
    with pytest.raises(UnknownRemoteStatusError, match="'MIGRATING'"):
        decide_from_remote(None, "MIGRATING", force=False)
