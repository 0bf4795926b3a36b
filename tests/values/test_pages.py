"""Pages become checked Arrow tables: JSON and Arrow pages, the same values, or the same error naming key and column."""

import datetime as dt
import decimal

import pyarrow as pa
import pytest

from include.migration.configuration.config_parsing import parse_config
from include.migration.source.arrow_pages import ArrowPageError, decode_page, encode_page
from include.migration.values.errors import ConversionError, HeaderMismatchError
from include.migration.values.pages import PageConverter, table_rows
from include.migration.values.types import wire_schema

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


class _JsonRows:
    """A JSON page's rows through the page converter, back as row tuples."""

    def convert(self, headers, rows):
        return table_rows(PageConverter("acme", CONFIG.data_type("things")).rows(headers, rows))


def _converter():
    return _JsonRows()


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


# ---------------------------------------------------------------------------------------- Arrow pages

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
    return PageConverter("acme", SPEC).table(table)


def test_a_valid_page_converts_to_the_values_of_the_json_path():
    from_json = _converter().convert(HEADERS, [GOOD])
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


# ---------------------------------------------------------------------------------------- JSON kinds


def test_json_and_arrow_pages_give_the_same_table():
    from_json = PageConverter("acme", SPEC).rows(HEADERS, [GOOD])
    from_arrow = _convert(_page())
    assert from_json.schema == from_arrow.schema
    assert from_json.drop_columns(["doc"]).equals(from_arrow.drop_columns(["doc"]))


def test_json_values_of_mixed_kinds_are_checked_one_by_one():
    rows = [list(GOOD) for _ in range(4)]
    for index, row in enumerate(rows):
        row[0] = index
    rows[0][1], rows[1][1], rows[2][1], rows[3][1] = "+12", 5, 7.0, "-3"  # int: text, number, whole float
    rows[0][4], rows[1][4], rows[2][4], rows[3][4] = 5, "5.25", 0.1, None  # decimal: number, text, float
    rows[0][5], rows[1][5] = 1, 2.5  # double: integer and float
    rows[0][7] = "2026-03-04T07:06:07+02:00"  # with an offset, the others in Z or without a zone
    rows[1][7] = "2026-03-04 05:06:07.5"
    table = PageConverter("acme", SPEC).rows(HEADERS, rows)
    assert table.column("n").to_pylist() == [12, 5, 7, -3]
    assert table.column("price").to_pylist() == [decimal.Decimal("5.00"), decimal.Decimal("5.25"),
                                                 decimal.Decimal("0.10"), None]
    assert table.column("ratio").to_pylist()[:2] == [1.0, 2.5]
    assert table.column("at").to_pylist()[:2] == [dt.datetime(2026, 3, 4, 5, 6, 7), dt.datetime(2026, 3, 4, 5, 6, 7, 500000)]


@pytest.mark.parametrize(
    ("column", "value", "why"),
    [
        ("id", 2**70, "integer 1180591620717411303424 is out of range for bigint"),
        ("n", 1.5, "expected an integer, got float 1.5"),
        ("n", {"a": 1}, "expected an integer, got dict"),
        ("price", 0.105, "has more than 2 fractional digits"),
        ("price", True, "got boolean"),
        ("ratio", True, "expected a number, got bool True"),
        ("flag", 2, "expected a boolean, got int 2"),
        ("at", "2026-03-04T05:06:07.1234567Z", "invalid timestamp"),
        ("at", 17, "expected an ISO 8601 timestamp string, got int 17"),
        ("name", 12, "expected a string, got int 12"),
    ],
)
def test_json_values_of_the_wrong_kind_fail_naming_key_and_column(column, value, why):
    for rows in ([GOOD], [GOOD, GOOD]):  # alone, and mixed with good values of the column
        page = [list(r) for r in rows]
        page[-1][HEADERS.index(column)] = value
        if column == "id" and len(page) > 1:
            page[0][0] = 6
        with pytest.raises(ConversionError) as info:
            _converter().convert(HEADERS, page)
        assert f"column '{column}'" in str(info.value) and why in str(info.value)
        assert why in info.value.why and info.value.column.name == column


def test_an_empty_json_page_is_an_empty_checked_table():
    table = PageConverter("acme", SPEC).rows(HEADERS, [])
    assert table.num_rows == 0 and table.schema == _convert(_page()).schema


@pytest.mark.parametrize(
    ("documents", "bad_index"),
    [
        (['{"a": 1}', "[1", "2]"], 1),  # one array when joined
        (["[1", "2]", "3,4"], 0),  # joined, as many elements as documents
        (['{"a": 1}', "1,2"], 1),  # two elements when joined
        (['"x"', ""], 1),
        (['"x"', "nul"], 1),
    ],
)
def test_json_documents_are_checked_one_by_one_where_joined_they_would_pass(documents, bad_index):
    from include.migration.values.checks import Unfit, fit_column

    (column,) = [c for c in CONFIG.data_types[0].columns if c.name == "doc"]
    with pytest.raises(Unfit) as unfit:
        fit_column(pa.array(documents, pa.string()), column)
    assert unfit.value.index == bad_index and unfit.value.why.startswith("invalid JSON text")


def test_json_documents_with_nulls_and_surrounding_space_pass():
    from include.migration.values.checks import fit_column

    (column,) = [c for c in CONFIG.data_types[0].columns if c.name == "doc"]
    documents = pa.array(['{"a": [1, "é"]}', None, " 2 ", "null", '"\\u00e9"'], pa.string())
    assert fit_column(documents, column).equals(documents)
