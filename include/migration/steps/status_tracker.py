"""The status tracker: should this run migrate, wait, or stop? A pure rule.

The target's state short-circuits first (a DONE installation never calls the
remote unless the run forces it); otherwise the remote's status decides:
PENDING waits for a later run, READY starts the migration (IN_PROGRESS),
IN_PROGRESS continues. A remote that reports DONE means the source side thinks
it is finished; we still copy until our own convergence proves it.
"""

from __future__ import annotations

import dataclasses

from include.migration.errors import FatalError
from include.migration.target.state import Status


class UnknownRemoteStatusError(FatalError):
    """The remote reported a status outside the contract."""


@dataclasses.dataclass(frozen=True)
class Decision:
    """What the run does next, and the installation status to record (None: leave it)."""

    proceed: bool
    record: Status | None
    reason: str


def decide_from_target(local: Status | None, force: bool) -> Decision | None:
    """The short-circuit on the target's own state; None means "ask the remote"."""
    if local is Status.DONE and not force:
        return Decision(False, None, "the installation is DONE in the target; trigger with force=true to re-open it")
    return None


def decide_from_remote(local: Status | None, remote: str, force: bool) -> Decision:
    """The decision once the remote's status is known."""
    try:
        status = Status(remote)
    except ValueError:
        raise UnknownRemoteStatusError(
            f"the remote reported status {remote!r}; expected READY, PENDING, IN_PROGRESS or DONE"
        ) from None
    if status is Status.PENDING and not force:
        return Decision(False, Status.PENDING, "the remote says PENDING: not started, checking again next run")
    if status is Status.FAILED:
        raise UnknownRemoteStatusError("the remote reported FAILED for this installation; fix the source side first")
    if local is Status.IN_PROGRESS:
        return Decision(True, None, f"migration in progress (remote {status.value}): continuing")
    reason = "re-opened by force" if local is Status.DONE else f"remote {status.value}: starting"
    return Decision(True, Status.IN_PROGRESS, reason)
