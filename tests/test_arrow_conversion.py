"""Arrow pages are checked like JSON pages: the same values, or the same error naming key and column."""

import datetime as dt
import decimal

import pyarrow as pa
import pytest

from include.migration.arrow_conversion import ArrowConverter, table_rows
from include.migration.arrow_pages import ArrowPageError, decode_page, encode_page, wire_schema
from include.migration.conversion import ConversionError, HeaderMismatchError, RowConverter
from tests.test_conversion import CONFIG, GOOD, HEADERS

SPEC = CONFIG.data_type("things")
UTC = dt.timezone.utc


def _page(**changes):
    """A one-row wire-schema page equal to GOOD, with ``changes`` (column -> (value, optional Arrow type))."""
    values = {
        "id": 7, "n": -3, "name": "Zoë東", "body": "naïve ☃", "price": decimal.Decimal("1234.50"), "ratio": 0.25,
        "flag": True, "at": dt.datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC), "day": dt.date(2026, 2, 28),
        "doc": '{"b": [1, "é"], "a": null}',
    }
    schema = wire_schema(SPEC)
    arrays = []
    for field in schema:
        value, kind = values[field.name], field.type
        if field.name in changes:
            change = changes[field.name]
            value, kind = change if isinstance(change, tuple) else (change, kind)
        arrays.append(pa.array([value], type=kind))
    return pa.Table.from_arrays(arrays, names=schema.names)


def _convert(table):
    return ArrowConverter("acme", SPEC).convert(table)


def test_a_valid_page_converts_to_the_values_of_the_json_path():
    from_json = RowConverter("acme", SPEC).convert(HEADERS, [GOOD])
    from_arrow = table_rows(_convert(_page()))
    assert len(from_arrow) == 1
    for column, expected, got in zip(SPEC.columns, from_json[0], from_arrow[0]):
        if column.name == "doc":  # JSON text: the same document, whatever its spacing
            import json

            assert json.loads(got) == json.loads(expected)
        else:
            assert got == expected, column.name
    assert _convert(_page()).schema.field("at").type == pa.timestamp("us")  # naive UTC for DATETIME(6)


def test_columns_are_matched_by_name_in_any_order():
    table = _page()
    shuffled = table.select(list(reversed(table.column_names)))
    assert _convert(shuffled).equals(_convert(table))


@pytest.mark.parametrize(
    ("column", "change", "why"),
    [
        ("name", None, "NULL in a NOT NULL column"),
        ("n", (2**31, pa.int64()), "integer 2147483648 is out of range for int"),
        ("name", "toolong", "string of 7 characters is longer than varchar(5)"),
        ("body", "é" * 40_000, "text of 80000 bytes exceeds 65535 bytes"),
        ("price", (decimal.Decimal("1.234"), pa.decimal128(10, 3)), "has more than 2 fractional digits"),
        ("price", (decimal.Decimal("12345.5"), pa.decimal128(10, 1)), "does not fit decimal(6,2)"),
        ("ratio", float("inf"), "double inf is not finite"),
        ("ratio", float("nan"), "is not finite"),
        ("at", dt.datetime(999, 12, 31, 23, 0, tzinfo=UTC), "is outside years 1000-9999"),
        ("doc", "{not json", "invalid JSON text"),
    ],
)
def test_a_bad_value_names_installation_data_type_key_and_column(column, change, why):
    with pytest.raises(ConversionError) as error:
        _convert(_page(**{column: change}))
    message = str(error.value)
    assert "installation 'acme', data type 'things', key 7" in message
    assert f"column {column!r}" in message and why in message


def test_year_10000_after_the_offset_is_refused():
    micros = int((dt.datetime(9999, 12, 31, 23, 0) - dt.datetime(1970, 1, 1)).total_seconds() * 1_000_000)
    late = pa.array([micros + 2 * 3_600_000_000], pa.timestamp("us", tz="UTC"))  # 10000-01-01T01:00Z
    table = _page().set_column(7, "at", late)
    with pytest.raises(ConversionError, match=r"key 7, column 'at' \(timestamp\): .*outside years 1000-9999"):
        _convert(table)


def test_the_first_bad_row_is_named():
    base = _page()
    table = pa.concat_tables([base, base.set_column(0, "id", pa.array([8], pa.int64()))])
    table = table.set_column(1, "n", pa.array([1, 2**40], pa.int64()))
    with pytest.raises(ConversionError, match="key 8, column 'n'"):
        _convert(table)


def test_a_column_of_the_wrong_arrow_type_is_a_header_mismatch():
    with pytest.raises(HeaderMismatchError, match=r"column 'n' \(int\) arrives as Arrow type string, expected int32"):
        _convert(_page(n=("3", pa.string())))


def test_missing_and_unexpected_columns_are_refused():
    table = _page().drop_columns(["ratio"]).append_column("extra", pa.array([1]))
    with pytest.raises(HeaderMismatchError, match=r"missing \['ratio'\], unexpected \['extra'\]"):
        _convert(table)


def test_compatible_wire_types_are_cast():
    table = _page(n=(-3, pa.int64()), price=(decimal.Decimal("1234.5"), pa.decimal128(20, 1)), ratio=(1, pa.int32()))
    converted = _convert(table)
    assert converted.column("n").type == pa.int32()
    assert converted.column("price").to_pylist() == [decimal.Decimal("1234.50")]
    assert converted.column("ratio").to_pylist() == [1.0]


def test_an_empty_page_converts_to_an_empty_table():
    converted = _convert(wire_schema(SPEC).empty_table())
    assert converted.num_rows == 0 and converted.column_names == list(SPEC.column_names)


def test_pages_round_trip_through_ipc_with_their_metadata():
    body = encode_page(_page(), "acme", {"afterId": 7, "afterUpdatedAt": None})
    table, installation, pagination = decode_page(body)
    assert installation == "acme" and pagination == {"afterId": 7, "afterUpdatedAt": None}
    assert table.equals(_page())
    with pytest.raises(ArrowPageError, match="not a complete Arrow IPC stream"):
        decode_page(body[: len(body) // 2])
    bare = pa.BufferOutputStream()
    with pa.ipc.new_stream(bare, _page().schema) as writer:
        writer.write_table(_page())
    with pytest.raises(ArrowPageError, match="no pagination metadata"):
        decode_page(bare.getvalue().to_pybytes())
