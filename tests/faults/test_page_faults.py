"""Pages that break the contract: headers, cursors, another installation's rows, values that do not convert."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from include.migration.source.client import RemoteResponseError
from include.migration.source.paginator import PaginationError
from include.migration.values.errors import ConversionError, HeaderMismatchError
from tests.faults.conftest import ROWS
from tests.faults.harness import fail_then_recover, prove_recovered, transfer
from tests.faults.page_edits import (
    add_column,
    drop_column,
    empty_with_cursor,
    rename_header,
    reverse_columns,
    set_after_id,
    set_cell,
    without_installation,
)
from tests.faults.proxy import AsInstallation, EditPage, FaultProxy, FirstPageAgain, Rule

_CONFIGURATION_OR_REMOTE = r"update the data type's columns in the configuration or fix the remote"


@pytest.mark.parametrize(
    ("case", "edit"),
    [
        ("page 2 renames a header (display_name -> displayName)", rename_header("display_name", "displayName")),
        ("page 2 drops a column (balance)", drop_column("balance")),
        ("page 2 adds a column (nickname)", add_column("nickname", "x")),
    ],
)
def test_header_mismatch_fails_cleanly(
    case: str, edit: Callable[[dict[str, Any]], dict[str, Any]], fault_main: str, proxy: FaultProxy, fault_source: str
) -> None:
    proxy.script(Rule(EditPage(edit), data_type="users", page=2, times=None))
    fail_then_recover(
        case, installation_id=fault_main, data_type="users", source_url=fault_source,
        expected=HeaderMismatchError, next_step=_CONFIGURATION_OR_REMOTE,
        committed_rows=500, total_rows=ROWS, fault_off=proxy.clear,
    )


def test_reordered_headers_are_matched_by_name(fault_main: str, proxy: FaultProxy, fault_source: str) -> None:
    proxy.script(Rule(EditPage(reverse_columns), data_type="users", page=None, times=None))
    run = transfer(fault_main, "users")
    assert run.result["done"] and proxy.hits() == 4
    prove_recovered("every page with its columns in reverse order", fault_main, ["users"], fault_source)


def _first_key(body: dict[str, Any]) -> Any:
    return body["data"][0][body["headers"].index("id")]


@pytest.mark.parametrize(
    ("case", "fault", "problem"),
    [
        ("page 2 repeats page 1 (cursor ignored)", FirstPageAgain(), "key 1 goes backwards from the cursor 500"),
        ("page 2 repeats page 1's afterId", EditPage(set_after_id(lambda _: 500)), "afterId 500 is not the key"),
        ("page 2 afterId goes backwards", EditPage(set_after_id(_first_key)), "afterId 501 is not the key"),
        ("page 2 empty with a non-null afterId", EditPage(empty_with_cursor), "empty page came with a non-null"),
    ],
)
def test_broken_cursor_fails_cleanly(
    case: str, fault: Any, problem: str, fault_main: str, proxy: FaultProxy, fault_source: str
) -> None:
    proxy.script(Rule(fault, data_type="users", page=2, times=None))
    failure = fail_then_recover(
        case, installation_id=fault_main, data_type="users", source_url=fault_source,
        expected=PaginationError, next_step=r"the checkpoint stays at 500, fix the remote's pagination and re-run",
        committed_rows=500, total_rows=ROWS, fault_off=proxy.clear,
    )
    assert problem in str(failure.error)


def test_another_installations_page_is_refused(
    fault_main: str, proxy: FaultProxy, fault_source: str, fault_tokens: dict[str, str]
) -> None:
    other = AsInstallation("fault_other", fault_tokens["fault_other"])
    proxy.script(Rule(other, data_type="users", page=2, times=None))
    failure = fail_then_recover(
        "page 2 holds another installation's rows (fault_other)",
        installation_id=fault_main, data_type="users", source_url=fault_source,
        expected=RemoteResponseError, next_step=r"check its token scoping before re-running",
        committed_rows=500, total_rows=ROWS, fault_off=proxy.clear,
    )
    assert "answered with installation 'fault_other''s data; nothing was written" in str(failure.error)


def test_a_page_without_the_installation_field_is_accepted(
    fault_main: str, proxy: FaultProxy, fault_source: str
) -> None:
    """Remotes written before the field existed still work: the check applies when the field is present."""
    proxy.script(Rule(EditPage(without_installation), data_type="users", page=None, times=None))
    run = transfer(fault_main, "users")
    assert run.result["done"] and proxy.hits() == 4
    prove_recovered("no installation field in any page (older remote)", fault_main, ["users"], fault_source)


@pytest.mark.parametrize(
    ("case", "data_type", "column", "value", "why"),
    [
        ("bad date: issues.due_date 2025-02-30", "issues", "due_date", "2025-02-30", "invalid date '2025-02-30'"),
        ("overflow: issues.priority 2^31 in an int", "issues", "priority", 2**31, "out of range for int"),
        ("overflow: users.balance 10^10 in decimal(12,2)", "users", "balance", "10000000000.00", "does not fit"),
        ("overflow: users.balance 1E+100 (past the decimal context)", "users", "balance", "1E+100", "does not fit"),
        ("overflow: users.created_at 9999-12-31T23:00-05:00 (year 10000 in UTC)", "users", "created_at",
         "9999-12-31T23:00:00.000000-05:00", "is outside years 1000-9999"),
        ("wrong type: users.is_active 'yes'", "users", "is_active", "yes", "expected a boolean, got str 'yes'"),
        ("wrong type: users.created_at 12345", "users", "created_at", 12345, "expected an ISO 8601 timestamp string"),
    ],
)
def test_values_that_do_not_convert_fail_cleanly(
    case: str, data_type: str, column: str, value: Any, why: str, fault_main: str, proxy: FaultProxy, fault_source: str
) -> None:
    proxy.script(Rule(EditPage(set_cell(column, 3, value)), data_type=data_type, page=2, times=None))
    page_rows = 700 if data_type == "issues" else 500
    failure = fail_then_recover(
        case, installation_id=fault_main, data_type=data_type, source_url=fault_source,
        expected=ConversionError, next_step=r"Fix the value at the source or the column type .*then re-run",
        committed_rows=page_rows, total_rows=ROWS, fault_off=proxy.clear,
    )
    message = str(failure.error)
    assert f"column {column!r}" in message and why in message, message
    assert re.search(r", key \d+, column", message), message
