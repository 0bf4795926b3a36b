"""The fault report's comparison on hand-made rows: each counter counts, so a zero in the report means something."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from tests.faults.compare import compare, normalise_row
from tests.faults.report import CaseRecord, render

# id, name, balance, created_at, is_active, profile: as the configuration declares them.
DECLARED = ("bigint", "varchar(50)", "decimal(12,2)", "timestamp", "boolean", "json")
UTC_PLUS_2 = dt.timezone(dt.timedelta(hours=2))


def _source(key: int, name: str, balance: str, profile: dict[str, Any] | None) -> tuple[Any, ...]:
    """A row as psycopg2 hands it out: aware timestamps (here in UTC+2), bool, JSON parsed."""
    created = dt.datetime(2026, 1, 2, 5, 4, 5, 123, tzinfo=UTC_PLUS_2)
    return key, name, Decimal(balance), created, True, profile


def _target(key: int, name: str, balance: str, profile: str | None) -> tuple[Any, ...]:
    """A row as MySQLdb hands it out: naive UTC datetime, tinyint, JSON as text."""
    return key, name, Decimal(balance), dt.datetime(2026, 1, 2, 3, 4, 5, 123), 1, profile


SOURCE = [
    normalise_row(DECLARED, _source(1, "ann", "1.5", {"b": 1, "a": [1, 2]})),
    normalise_row(DECLARED, _source(2, "bob", "2.00", None)),  # lost
    normalise_row(DECLARED, _source(3, "cid", "3.00", None)),  # different
    normalise_row(DECLARED, _source(4, "dot", "4.00", {})),
]
TARGET = [
    normalise_row(DECLARED, _target(1, "ann", "1.50", '{"a": [1, 2], "b": 1}')),
    normalise_row(DECLARED, _target(3, "cid", "3.01", None)),
    normalise_row(DECLARED, _target(4, "dot", "4.00", "{}")),
    normalise_row(DECLARED, _target(5, "ann", "1.50", '{"b":1,"a":[1,2]}')),  # row 1 written twice, under key 5
    normalise_row(DECLARED, _target(6, "eve", "9.99", None)),  # a row the source never had
]


def test_both_drivers_values_normalise_to_the_same_text() -> None:
    assert SOURCE[0] == TARGET[0] == ("1", "ann", "1.50", "2026-01-02 03:04:05.000123", "1", '{"a":[1,2],"b":1}')
    assert normalise_row(DECLARED, (1, "None", None, None, 0, None)) == ("1", "None", None, None, "0", None)


def test_each_counter_counts() -> None:
    counts = compare(SOURCE, TARGET, key_index=0)
    assert (counts.origin_rows, counts.copy_rows) == (4, 5)
    assert counts.lost == 1  # key 2
    assert counts.different == 3  # key 3 changed; keys 5 and 6 unknown to the source
    assert counts.duplicated == 1  # key 5 repeats row 1's values
    assert not counts.equal
    assert compare(SOURCE, SOURCE, key_index=0).equal


def test_a_key_held_twice_is_duplicated_once() -> None:
    counts = compare(SOURCE, [*SOURCE, SOURCE[3]], key_index=0)
    assert (counts.lost, counts.different, counts.duplicated) == (0, 0, 1)


def test_the_total_line_adds_the_counters_up() -> None:
    counts = compare(SOURCE, TARGET, key_index=0)
    record = CaseRecord("hand-made", "FAILED", counts.origin_rows, counts.copy_rows, counts.lost, counts.duplicated,
                        rows_different=counts.different)
    assert render([record, record]).endswith(
        "2 cases; 2 rows lost, 2 rows duplicated, 6 rows different in total.\n"
    )
