"""Rows read back from a target travel in the data pages' wire form, and read back as the same values."""

import datetime as dt
import decimal

from include.migration.values.pages import PageConverter, table_rows
from include.migration.values.wire_rows import wire_rows
from tests.values.test_canonical import FROM_MYSQL, FROM_MYSQL_TEXT, FROM_SQLITE, SPEC


def test_every_driver_shape_travels_as_the_same_wire_row():
    expected = [7, "Zoë 東京", "12.50", 0.1, True, "2026-03-04T05:06:07.120000Z", "2026-02-28", {"a": None, "b": [1, "é"]}]
    assert wire_rows(SPEC, [FROM_MYSQL, FROM_MYSQL_TEXT, FROM_SQLITE]) == [expected] * 3
    assert wire_rows(SPEC, []) == []


def test_wire_rows_read_back_as_the_values_they_came_from():
    rows = [FROM_MYSQL, (8, None, decimal.Decimal("-0.05"), -2.5, 0, dt.datetime(1000, 1, 1), dt.date(9999, 12, 31), "[]")]
    back = table_rows(PageConverter("acme", SPEC).rows(list(SPEC.column_names), wire_rows(SPEC, rows)))
    assert [r[:7] for r in back] == [(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6]) for r in rows]
