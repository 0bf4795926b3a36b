"""Type conversion of page values: exact values or an error naming installation, data type, key and column."""

import datetime as dt
import decimal

import pytest

from include.migration.config import parse_config
from include.migration.conversion import ConversionError, HeaderMismatchError, RowConverter

CONFIG = parse_config(
    {
        "data_types": [
            {
                "name": "things",
                "primary_key": "id",
                "columns": [
                    {"name": "id", "type": "bigint"},
                    {"name": "n", "type": "int"},
                    {"name": "name", "type": "varchar(5)", "nullable": False},
                    {"name": "body", "type": "text"},
                    {"name": "price", "type": "decimal(6,2)"},
                    {"name": "ratio", "type": "double"},
                    {"name": "flag", "type": "boolean"},
                    {"name": "at", "type": "timestamp"},
                    {"name": "day", "type": "date"},
                    {"name": "doc", "type": "json"},
                ],
            }
        ],
        "installations": [{"id": "acme", "remote_conn_id": "r", "target_conn_id": "t"}],
    }
)
HEADERS = ["id", "n", "name", "body", "price", "ratio", "flag", "at", "day", "doc"]
GOOD = [7, -3, "Zoë東", "naïve ☃", "1234.50", 0.25, True, "2026-03-04T05:06:07.123456Z", "2026-02-28", {"b": [1, "é"], "a": None}]


def _converter():
    return RowConverter("acme", CONFIG.data_type("things"))


def test_converts_every_type_exactly():
    (row,) = _converter().convert(HEADERS, [GOOD])
    assert row == (
        7,
        -3,
        "Zoë東",
        "naïve ☃",
        decimal.Decimal("1234.50"),
        0.25,
        True,
        dt.datetime(2026, 3, 4, 5, 6, 7, 123456),
        dt.date(2026, 2, 28),
        '{"a":null,"b":[1,"é"]}',
    )


def test_offsets_are_converted_to_utc_and_nulls_kept():
    row = list(GOOD)
    row[7] = "2026-03-04T07:06:07+02:00"
    row[1] = row[3] = row[4] = row[9] = None
    (out,) = _converter().convert(HEADERS, [row])
    assert out[7] == dt.datetime(2026, 3, 4, 5, 6, 7)
    assert out[1] is None and out[3] is None and out[4] is None and out[9] is None


def test_header_order_may_differ():
    order = list(reversed(range(len(HEADERS))))
    (row,) = _converter().convert([HEADERS[i] for i in order], [[GOOD[i] for i in order]])
    assert row[0] == 7 and row[2] == "Zoë東"


@pytest.mark.parametrize(
    ("column", "value", "why"),
    [
        ("n", 2**31, "out of range for int"),
        ("n", "12x", "expected an integer"),
        ("n", True, "got boolean"),
        ("name", "toolong", "longer than varchar(5)"),
        ("name", None, "NULL in a NOT NULL column"),
        ("price", "12345.00", "does not fit decimal"),
        ("price", "1.005", "more than 2 fractional digits"),
        ("price", "abc", "expected a decimal"),
        ("ratio", "0.5", "expected a number"),
        ("flag", "yes", "expected a boolean"),
        ("at", "2026-13-01T00:00:00Z", "invalid timestamp"),
        ("day", "2026-02-30", "invalid date"),
        ("day", "yesterday", "expected a YYYY-MM-DD date"),
        ("body", "é" * 40_000, "exceeds 65535 bytes"),
    ],
)
def test_bad_values_fail_naming_key_and_column(column, value, why):
    row = list(GOOD)
    row[HEADERS.index(column)] = value
    with pytest.raises(ConversionError) as info:
        _converter().convert(HEADERS, [row])
    message = str(info.value)
    assert f"installation 'acme', data type 'things', key 7, column '{column}'" in message
    assert why in message


def test_headers_must_match_configuration():
    with pytest.raises(HeaderMismatchError, match=r"missing \['doc'\], unexpected \['extra'\]"):
        _converter().convert(HEADERS[:-1] + ["extra"], [GOOD])
    with pytest.raises(HeaderMismatchError, match="missing"):
        _converter().convert(HEADERS[:-1], [GOOD[:-1]])


def test_row_width_must_match_headers():
    with pytest.raises(ConversionError, match="row 0 of the page has 9 values, expected 10"):
        _converter().convert(HEADERS, [GOOD[:-1]])
