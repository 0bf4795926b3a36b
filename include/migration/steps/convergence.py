"""When is an installation DONE? A pure rule over one pass's outcomes.

An installation converges when enough consecutive full passes (default 1)
found no new, changed or deleted rows in any data type and every data type's
validation is green. It is never DONE while a data type is unfinished, failed
or unvalidated, and a run limited to some data types is not a full pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any


@dataclasses.dataclass(frozen=True)
class DataTypeOutcome:
    """One data type in one pass: what the transfer copied and what validation found."""

    rows_copied: int
    finished: bool
    validated: bool
    green: bool
    changed_by_validation: bool


@dataclasses.dataclass(frozen=True)
class ConvergenceDecision:
    converged: bool
    quiet_pass: bool
    quiet_passes: int
    reason: str


def outcome_from_results(transfer: Mapping[str, Any] | None, validation: Mapping[str, Any] | None) -> DataTypeOutcome:
    """Build an outcome from the transfer and validate tasks' XCom summaries (None: the task gave none)."""
    validated = bool(validation) and not validation.get("skipped", False)
    return DataTypeOutcome(
        rows_copied=int(transfer["rows"]) if transfer else -1,
        finished=bool(transfer and transfer["done"]),
        validated=validated,
        green=bool(validated and validation and validation["green"]),
        changed_by_validation=bool(validated and validation and validation.get("changed")),
    )


def decide_convergence(
    *,
    expected: Sequence[str],
    outcomes: Mapping[str, DataTypeOutcome],
    full_pass: bool,
    previous_quiet_passes: int,
    required_quiet_passes: int = 1,
) -> ConvergenceDecision:
    """The convergence rule; see the module docs."""
    if not full_pass:
        return ConvergenceDecision(False, False, previous_quiet_passes, "not a full pass (a subset of data types ran)")
    problems = []
    for name in expected:
        outcome = outcomes.get(name)
        if outcome is None or outcome.rows_copied < 0:
            problems.append(f"{name}: no transfer result")
        elif not outcome.finished:
            problems.append(f"{name}: unfinished")
        elif not outcome.validated:
            problems.append(f"{name}: unvalidated")
        elif not outcome.green:
            problems.append(f"{name}: validation red")
    quiet = not problems and all(
        outcomes[n].rows_copied == 0 and not outcomes[n].changed_by_validation for n in expected
    )
    quiet_passes = previous_quiet_passes + 1 if quiet else 0
    if problems:
        return ConvergenceDecision(False, False, 0, "; ".join(problems))
    if not quiet:
        busy = [f"{n}: {outcomes[n].rows_copied} rows copied" + (", repaired by validation" if outcomes[n].changed_by_validation else "")
                for n in expected if outcomes[n].rows_copied or outcomes[n].changed_by_validation]
        return ConvergenceDecision(False, False, 0, "this pass found changes (" + "; ".join(busy) + ")")
    if quiet_passes < required_quiet_passes:
        return ConvergenceDecision(
            False, True, quiet_passes, f"quiet pass {quiet_passes} of {required_quiet_passes} required"
        )
    return ConvergenceDecision(True, True, quiet_passes, f"{quiet_passes} quiet validated pass(es): DONE")
