"""The convergence rule, called directly."""

from include.migration.steps.convergence import DataTypeOutcome, decide_convergence, outcome_from_results

QUIET = DataTypeOutcome(rows_copied=0, finished=True, validated=True, green=True, changed_by_validation=False)
BUSY = DataTypeOutcome(rows_copied=5, finished=True, validated=True, green=True, changed_by_validation=False)


def _decide(outcomes, previous=0, required=1, full=True):
    return decide_convergence(
        expected=["a", "b"], outcomes=outcomes, full_pass=full, previous_quiet_passes=previous,
        required_quiet_passes=required,
    )


def test_quiet_validated_full_pass_converges():
    decision = _decide({"a": QUIET, "b": QUIET})
    assert decision.converged and decision.quiet_passes == 1


def test_a_pass_with_new_rows_is_not_quiet_and_resets_the_count():
    decision = _decide({"a": QUIET, "b": BUSY}, previous=3, required=5)
    assert not decision.converged and decision.quiet_passes == 0 and "b: 5 rows copied" in decision.reason


def test_repairs_by_validation_count_as_changes():
    repaired = DataTypeOutcome(0, True, True, True, changed_by_validation=True)
    decision = _decide({"a": QUIET, "b": repaired})
    assert not decision.converged and "repaired by validation" in decision.reason


def test_consecutive_quiet_passes_required():
    first = _decide({"a": QUIET, "b": QUIET}, previous=0, required=2)
    assert not first.converged and first.quiet_pass and first.quiet_passes == 1
    second = _decide({"a": QUIET, "b": QUIET}, previous=1, required=2)
    assert second.converged and second.quiet_passes == 2


def test_never_done_while_unfinished_failed_unvalidated_or_missing():
    unfinished = DataTypeOutcome(0, False, False, False, False)
    unvalidated = DataTypeOutcome(0, True, False, False, False)
    red = DataTypeOutcome(0, True, True, False, False)
    for bad, why in ((unfinished, "unfinished"), (unvalidated, "unvalidated"), (red, "validation red")):
        decision = _decide({"a": QUIET, "b": bad}, previous=5)
        assert not decision.converged and decision.quiet_passes == 0 and f"b: {why}" in decision.reason
    decision = _decide({"a": QUIET})
    assert not decision.converged and "b: no transfer result" in decision.reason


def test_subset_run_is_not_a_full_pass():
    decision = _decide({"a": QUIET, "b": QUIET}, previous=2, full=False)
    assert not decision.converged and decision.quiet_passes == 2


def test_outcome_from_task_results():
    outcome = outcome_from_results({"rows": 0, "done": True}, {"green": True, "changed": False})
    assert outcome == QUIET
    assert outcome_from_results(None, None).rows_copied == -1
    assert outcome_from_results({"rows": 0, "done": False}, {"skipped": True}).validated is False
