"""The target-limits suite: its own configuration, source and target, and the ``limits:`` line it prints."""

from __future__ import annotations

import pytest

from tests.limits.statements import SUMMARY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what the connection saw (``limits: statements=... max_select_s=...``) when the test ran."""
    if SUMMARY:
        terminalreporter.section("target limits")
        terminalreporter.write_line("limits: " + " ".join(f"{k}={v}" for k, v in SUMMARY.items()))
