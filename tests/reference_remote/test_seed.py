"""Deterministic seeding of the reference remote's source database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from include.migration.configuration.config_parsing import parse_config
from include.reference_remote import build_source_metadata, generate_rows, seed_source
from include.reference_remote.__main__ import main
from include.reference_remote.seed import rng_for
from include.reference_remote.source_schema import create_source_engine

CONFIG = parse_config(
    {
        "data_types": [
            {
                "name": "everything",
                "primary_key": "id",
                "columns": [
                    {"name": "id", "type": "int"},
                    {"name": "short", "type": "varchar(5)"},
                    {"name": "label", "type": "varchar(120)", "nullable": False},
                    {"name": "body", "type": "text"},
                    {"name": "price", "type": "decimal(6,3)"},
                    {"name": "wide", "type": "decimal(40,12)", "nullable": False},
                    {"name": "fraction", "type": "decimal(4,4)"},
                    {"name": "ratio", "type": "double"},
                    {"name": "big", "type": "bigint"},
                    {"name": "flag", "type": "boolean"},
                    {"name": "at", "type": "timestamp", "nullable": False},
                    {"name": "day", "type": "date"},
                    {"name": "doc", "type": "json"},
                ],
            },
            {
                "name": "codes",
                "primary_key": "code",
                "columns": [{"name": "code", "type": "varchar(12)"}, {"name": "n", "type": "bigint"}],
            },
        ],
        "installations": [{"id": "a", "remote_conn_id": "r", "target_conn_id": "t"}],
    }
)
EVERYTHING = CONFIG.data_type("everything")


def read_source(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in primary-key order."""
    schema = build_source_metadata(CONFIG.data_types)
    engine = create_source_engine(url)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in [*schema.tables.values(), schema.status_table]:
            out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))]
    engine.dispose()
    return out


def sqlite_url(tmp_path: Path, name: str) -> str:
    return f"sqlite:///{tmp_path / name}"


def test_same_seed_gives_the_same_rows(tmp_path: Path) -> None:
    first, second, other = (sqlite_url(tmp_path, n) for n in ("1.db", "2.db", "3.db"))
    counts = seed_source(first, CONFIG.data_types, ["a", "b"], 150, seed=3, statuses={"b": "DONE"})
    seed_source(second, CONFIG.data_types, ["a", "b"], 150, seed=3, statuses={"b": "DONE"})
    seed_source(other, CONFIG.data_types, ["a", "b"], 150, seed=4, statuses={"b": "DONE"})
    assert counts == {("a", "everything"): 150, ("a", "codes"): 150, ("b", "everything"): 150, ("b", "codes"): 150}
    assert read_source(first) == read_source(second)
    assert read_source(first)["everything"] != read_source(other)["everything"]
    assert read_source(first)["migration_status"] == [("b", "DONE", None, None)]  # evidence and updated_at: written back later


def test_counts_per_installation_in_the_database(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path, "s.db")
    seed_source(url, CONFIG.data_types, ["a", "b", "c"], 40)
    schema = build_source_metadata(CONFIG.data_types)
    engine = create_source_engine(url)
    with engine.connect() as conn:
        for table in schema.tables.values():
            per_installation = dict(
                conn.execute(select(table.c.installation_id, func.count()).group_by(table.c.installation_id)).all()
            )
            assert per_installation == {"a": 40, "b": 40, "c": 40}
    engine.dispose()


def test_reseeding_replaces_previous_data(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path, "r.db")
    seed_source(url, CONFIG.data_types, ["a", "b"], 30, statuses={"a": "PENDING"})
    seed_source(url, CONFIG.data_types, ["a"], 10)
    rows = read_source(url)
    assert [r[0] for r in rows["everything"]] == ["a"] * 10
    assert rows["migration_status"] == []


def test_rows_of_one_installation_do_not_depend_on_the_others(tmp_path: Path) -> None:
    alone, together = sqlite_url(tmp_path, "alone.db"), sqlite_url(tmp_path, "together.db")
    seed_source(alone, CONFIG.data_types, ["a"], 60)
    seed_source(together, CONFIG.data_types, ["z", "a"], 60)
    a_rows = [r for r in read_source(together)["everything"] if r[0] == "a"]
    assert read_source(alone)["everything"] == a_rows
    assert rng_for(42, "a", "everything").random() == rng_for(42, "a", "everything").random()


def test_the_database_holds_exactly_the_generated_values(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path, "exact.db")
    seed_source(url, CONFIG.data_types, ["a"], 200, seed=11)
    expected = [tuple(row.values()) for row in generate_rows(EVERYTHING, "a", 200, seed=11)]
    assert read_source(url)["everything"] == expected


def test_generated_values_fit_their_columns() -> None:
    rows = list(generate_rows(EVERYTHING, "a", 1000, seed=5))
    assert [r["id"] for r in rows] == list(range(1, 1001))
    columns = {c.name: c for c in EVERYTHING.columns}
    for name, column in columns.items():
        values = [r[name] for r in rows]
        nulls = sum(v is None for v in values)
        if column.nullable and name != "id":
            assert 40 <= nulls <= 170, (name, nulls)  # about 10 %
        else:
            assert nulls == 0, name
    present = {name: [r[name] for r in rows if r[name] is not None] for name in columns}
    assert all(len(v) <= 5 for v in present["short"]) and all(len(v) <= 120 for v in present["label"])
    assert any(not v.isascii() for v in present["label"])
    assert any(ord(ch) > 0xFFFF for v in present["label"] for ch in v), "no astral-plane characters"
    assert all(len(v) <= 400 for v in present["body"]) and "" in present["body"]
    for name, (precision, scale) in {"price": (6, 3), "wide": (40, 12), "fraction": (4, 4)}.items():
        for value in present[name]:
            assert isinstance(value, Decimal) and value.as_tuple().exponent == -scale
            assert len(value.as_tuple().digits) <= precision, (name, value)
        assert any(v < 0 for v in present[name]), name
    assert any(len(v.as_tuple().digits) > 15 for v in present["wide"]), "wide decimals stay short"
    assert all(isinstance(v, float) for v in present["ratio"])
    assert all(isinstance(v, int) and -(2**63) <= v < 2**63 for v in present["big"])
    assert {True, False} == set(present["flag"])
    low, high = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
    assert all(v.tzinfo is dt.timezone.utc and low <= v < high for v in present["at"])
    assert any(v.microsecond for v in present["at"]) and any(v.microsecond == 0 for v in present["at"])
    assert all(dt.date(2020, 1, 1) <= v < dt.date(2027, 1, 1) for v in present["day"])
    assert any(isinstance(v, dict) and isinstance(v["settings"], dict) for v in present["doc"])
    assert any(isinstance(v, list) for v in present["doc"])


def test_varchar_keys_are_zero_padded_and_sorted() -> None:
    keys = [r["code"] for r in generate_rows(CONFIG.data_type("codes"), "a", 120)]
    assert keys[0] == "0000000001" and keys == sorted(keys) and len(set(keys)) == 120


def test_invalid_status_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid statuses"):
        seed_source(sqlite_url(tmp_path, "x.db"), CONFIG.data_types, ["a"], 1, statuses={"a": "FINISHED"})


def test_seed_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "data_types:\n"
        "  - name: things\n"
        "    primary_key: id\n"
        "    columns:\n"
        "      - {name: id, type: bigint}\n"
        '      - {name: price, type: "decimal(8,2)"}\n'
        "installations:\n"
        "  - {id: a, remote_conn_id: r, target_conn_id: t}\n",
        encoding="utf-8",
    )
    url = sqlite_url(tmp_path, "cli.db")
    code = main(
        [
            "seed",
            *("--source-url", url, "--config", str(config)),
            *("--installations", "a,b", "--rows", "25", "--status", "b=pending"),
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.splitlines() == ["a\tthings\t25", "b\tthings\t25"]
    engine = create_source_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT installation_id, count(*) FROM things GROUP BY 1 ORDER BY 1").all() == [
            ("a", 25),
            ("b", 25),
        ]
        assert conn.exec_driver_sql("SELECT installation_id, status FROM migration_status").all() == [("b", "PENDING")]
    engine.dispose()
