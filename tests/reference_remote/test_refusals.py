"""A source value that does not fit its declared type: 422 naming it on JSON and Arrow pages, ConversionError at once.

The source tables are wider than the configuration declares (varchar(200) for
varchar(10), bigint for int, numeric(30,6) for decimal(8,2), nullable for NOT
NULL), so that PostgreSQL holds values the declared types cannot. Each
installation holds five rows of which key 3 carries one such value.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from include.migration.configuration.config_parsing import parse_config
from include.migration.errors import FatalError
from include.migration.source.client import RemoteClient, RemoteFatalError, RetryPolicy
from include.migration.values.checks import value_problem
from include.migration.values.errors import ConversionError
from include.reference_remote import create_app, insert_rows, serve_in_thread
from include.reference_remote.arrow_source import rows_to_table
from include.reference_remote.encoding import encode_value
from include.reference_remote.server import RunningServer
from include.reference_remote.source_schema import init_source
from include.reference_remote.value_fit import MisfitError, check_rows, check_table, find_wire_misfit


def _config(name: str, qty: str, price: str, nullable: bool) -> Any:
    return parse_config(
        {
            "data_types": [
                {
                    "name": "items",
                    "primary_key": "id",
                    "columns": [
                        {"name": "id", "type": "bigint"},
                        {"name": "name", "type": name, "nullable": nullable},
                        {"name": "qty", "type": qty},
                        {"name": "price", "type": price},
                        {"name": "ratio", "type": "double"},
                    ],
                }
            ],
            "installations": [{"id": "acme", "remote_conn_id": "r", "target_conn_id": "t"}],
        }
    )


# What the source holds, and what the remote declares.
WIDE = _config("varchar(200)", "bigint", "decimal(30,6)", nullable=True).data_type("items")
DECLARED = _config("varchar(10)", "int", "decimal(8,2)", nullable=False).data_type("items")
BAD_KEY = 3

# installation -> (column, bad value at the source, value in the 422 body, detail in the 422 body)
CASES: dict[str, tuple[str, Any, Any, str]] = {
    "long": ("name", "x" * 30, "x" * 30, "string of 30 characters is longer than varchar(10)"),
    "longer": ("name", "y" * 150, "y" * 100 + "...", "string of 150 characters is longer than varchar(10)"),
    "int": (
        "qty", 3_000_000_000, 3_000_000_000, "integer 3000000000 is out of range for int [-2147483648, 2147483647]"
    ),
    "digits": (
        "price", Decimal("123456789.5"), "123456789.500000", "decimal '123456789.500000' does not fit decimal(8,2)"
    ),
    "scale": (
        "price", Decimal("1.005"), "1.005000", "decimal '1.005000' has more than 2 fractional digits (would be rounded)"
    ),
    "null": ("name", None, None, "NULL in a NOT NULL column"),
    "nan": ("ratio", float("nan"), "nan", "double nan is not finite"),
}
TOKENS = {f"tok-{installation}": installation for installation in [*CASES, "good"]}
TOKEN_OF = {installation: token for token, installation in TOKENS.items()}
COLUMN_TYPES = {c.name: str(c.type) for c in DECLARED.columns}


def _rows(bad_column: str | None, bad_value: Any) -> list[dict[str, Any]]:
    rows = [
        {"id": key, "name": f"n{key}", "qty": key, "price": Decimal(key), "ratio": key / 2} for key in range(1, 6)
    ]
    if bad_column is not None:
        rows[BAD_KEY - 1][bad_column] = bad_value
    return rows


@pytest.fixture(scope="module")
def server(postgres_url: str) -> Iterator[RunningServer]:
    init_source(postgres_url, [WIDE])
    insert_rows(postgres_url, WIDE, "good", _rows(None, None))
    for installation, (column, value, _, _) in CASES.items():
        insert_rows(postgres_url, WIDE, installation, _rows(column, value))
    with serve_in_thread(create_app(postgres_url, [DECLARED], TOKENS)) as running:
        yield running


def _get(http: requests.Session, server: RunningServer, path: str, installation: str, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {TOKEN_OF[installation]}"}
    return http.get(f"{server.base_url}/data-migration/{path}", params=params, headers=headers, timeout=10)


def _expected_body(installation: str) -> dict[str, Any]:
    column, _, value, detail = CASES[installation]
    return {
        "error": "value does not fit",
        "installation": installation,
        "dataType": "items",
        "key": BAD_KEY,
        "column": column,
        "columnType": COLUMN_TYPES[column],
        "value": value,
        "detail": detail,
    }


@pytest.mark.parametrize("page_format", ["json", "arrow"])
@pytest.mark.parametrize("installation", list(CASES))
def test_a_page_holding_a_value_that_does_not_fit_is_refused_with_422(
    http: requests.Session, server: RunningServer, installation: str, page_format: str
) -> None:
    response = _get(http, server, "items/", installation, format=page_format)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == _expected_body(installation)


@pytest.mark.parametrize("page_format", ["json", "arrow"])
def test_only_the_page_holding_the_value_is_refused(
    http: requests.Session, server: RunningServer, page_format: str
) -> None:
    first = _get(http, server, "items/", "int", limit=2, format=page_format)
    assert first.status_code == 200, first.text
    assert _get(http, server, "items/", "int", limit=2, after=2, format=page_format).status_code == 422
    assert _get(http, server, "items/", "int", limit=2, after=3, format=page_format).status_code == 200
    assert _get(http, server, "items/", "good", format=page_format).status_code == 200


@pytest.mark.parametrize("page_format", ["json", "arrow"])
@pytest.mark.parametrize("installation", ["long", "int", "digits", "null"])
def test_the_client_fails_at_once_with_a_conversion_error(
    server: RunningServer, installation: str, page_format: str
) -> None:
    column = CASES[installation][0]
    client = RemoteClient(
        requests.Session(), server.base_url, TOKEN_OF[installation], installation, policy=RetryPolicy(attempts=6)
    )
    started = time.monotonic()
    with pytest.raises(ConversionError) as caught:
        client.fetch_page("items", None, 10, page_format=page_format)
    elapsed = time.monotonic() - started
    client.close()
    assert isinstance(caught.value, FatalError)
    message = str(caught.value)
    assert message.startswith(
        f"installation {installation!r}, data type 'items', cursor None, key 3, column {column!r} "
        f"({COLUMN_TYPES[column]}): the remote refused to serve this value, it does not fit its declared type "
        f"(HTTP 422): {CASES[installation][3]}; value {CASES[installation][2]!r}. "
    )
    assert message.endswith(
        "Fix the value at the source or the column type in the configuration, then re-run: "
        "the checkpoint has not moved past this page"
    )
    assert (client.requests_sent, client.retries) == (1, 0)
    assert elapsed < 5, f"failing took {elapsed:.1f} s: the 422 must not be retried"


@pytest.mark.parametrize("installation", list(CASES))
def test_stats_and_hashes_never_answer_500(http: requests.Session, server: RunningServer, installation: str) -> None:
    """They hash the values the source holds; where a value cannot be read in its wire type, the same 422."""
    for path, params in (("items/stats", {"upTo": "5"}), ("items/stats", {}), ("items/hashes", {})):
        response = _get(http, server, path, installation, **params)
        assert response.status_code in (200, 422), (path, params, response.text)
        if response.status_code == 422:
            assert response.json() == _expected_body(installation), (path, params)
    # A bounded range on PostgreSQL is read in its wire types, which hold no int past 2**31.
    assert _get(http, server, "items/stats", "int", upTo="5").json() == _expected_body("int")


def test_a_malformed_request_is_not_taken_for_a_refused_value(server: RunningServer) -> None:
    client = RemoteClient(requests.Session(), server.base_url, TOKEN_OF["good"], "good")
    with pytest.raises(RemoteFatalError, match=r"HTTP 422.*after must be an integer key") as caught:
        client.fetch_page("items", "not-a-key", 10)
    assert not isinstance(caught.value, ConversionError)
    assert client.requests_sent == 1


# --- the page checks against the client's rules, without a server -------------------------------

UTC = dt.timezone.utc
# column type -> values around its limits, each fitting or not.
EDGES: dict[str, list[Any]] = {
    "int": [2**31 - 1, -(2**31), 2**31, -(2**31) - 1, True, 1.0, Decimal(1)],
    "bigint": [2**63 - 1, 2**63, -(2**63), -(2**63) - 1, "7"],
    "varchar(5)": ["abcde", "abcdef", "ÿÿÿÿÿ", "🚀🚀🚀🚀🚀🚀", "", 5],
    "text": ["a" * 65_535, "a" * 65_536, "é" * 32_767, "é" * 32_768, "🚀" * 16_384, "🚀" * 16_384 + "a", b"x"],
    "decimal(8,2)": [
        Decimal("999999.99"), Decimal("1000000.00"), Decimal("-999999.994"), Decimal("1.000000"), Decimal("1.005"),
        Decimal("NaN"), Decimal("Infinity"), Decimal("-0"), Decimal("1E+5"), Decimal("1E+6"), 12, 1.5, "1.00",
    ],
    "double": [0.0, -1e308, float("nan"), float("inf"), float("-inf"), 7, 10**400, True, Decimal("1.5")],
    "boolean": [True, False, 0, 1, 2, "true"],
    "timestamp": [
        dt.datetime(1000, 1, 1, tzinfo=UTC), dt.datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        dt.datetime(1000, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        dt.datetime(9999, 12, 31, 23, 59, tzinfo=UTC), dt.datetime(2024, 1, 1), "2024-01-01T00:00:00Z",
    ],
    "date": [dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.datetime(2024, 1, 1, tzinfo=UTC), "2024-01-01"],
    "json": [{"a": [1, None]}, [], "text", 1.5, None],
}


def _edge_spec(column_type: str, nullable: bool) -> Any:
    raw = {
        "data_types": [
            {
                "name": "edges",
                "primary_key": "id",
                "columns": [{"name": "id", "type": "bigint"}, {"name": "v", "type": column_type, "nullable": nullable}],
            }
        ],
        "installations": [{"id": "acme", "remote_conn_id": "r", "target_conn_id": "t"}],
    }
    return parse_config(raw).data_type("edges")


@pytest.mark.parametrize("nullable", [True, False])
@pytest.mark.parametrize("column_type", list(EDGES))
def test_a_page_is_refused_exactly_when_the_client_would_refuse_a_value(column_type: str, nullable: bool) -> None:
    """The fast column checks never pass what the client refuses; the refusal names the first such value."""
    spec = _edge_spec(column_type, nullable)
    column = spec.column("v")
    values = [*EDGES[column_type], None]
    for value in values:
        rows = [(1, None if value is None and nullable else EDGES[column_type][0]), (2, value)]
        refused = [k for k, v in rows if _client_refuses(column, v)]
        try:
            check_rows(spec, rows)
        except MisfitError as exc:
            assert refused, (column_type, value, str(exc))
            assert (exc.misfit.key, exc.misfit.column.name) == (refused[0], "v")
        else:
            assert not refused, (column_type, value)
        if refused or value is None:
            continue
        # An Arrow page holds the same values, or names the one its wire type cannot hold.
        try:
            table = rows_to_table(rows, spec)
        except (ValueError, TypeError, OverflowError):
            misfit = find_wire_misfit(spec, rows)
            assert misfit is not None and (misfit.key, misfit.why[:7]) == (2, "not an "), (column_type, value)
        else:
            check_table(spec, table)


def _client_refuses(column: Any, value: Any) -> bool:
    try:
        wire = encode_value(column.type, value)
    except (TypeError, ValueError, ArithmeticError, AttributeError):
        return True
    return value_problem(column, wire) is not None


@pytest.mark.parametrize(
    ("column_type", "value", "why"),
    [
        ("varchar(5)", "abcdef", "string of 6 characters is longer than varchar(5)"),
        ("text", "🚀" * 16_384 + "a", "text of 65537 bytes exceeds 65535 bytes"),
        ("double", float("inf"), "double inf is not finite"),
        (
            "timestamp",
            dt.datetime(999, 12, 31, tzinfo=UTC),
            "timestamp '0999-12-31T00:00:00.000000Z' is outside years 1000-9999",
        ),
    ],
)
def test_arrow_pages_are_refused_on_the_same_values(column_type: str, value: Any, why: str) -> None:
    spec = _edge_spec(column_type, nullable=False)
    table = rows_to_table([(1, EDGES[column_type][0]), (2, value), (3, None)], spec)
    with pytest.raises(MisfitError) as caught:
        check_table(spec, table)
    assert (caught.value.misfit.key, caught.value.misfit.why) == (2, why)
