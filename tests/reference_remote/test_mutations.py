"""Source mutations for tests and the demo: insert, update and delete one installation's rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from include.reference_remote import delete_rows, insert_rows, mutations, seed_source, update_rows
from tests.reference_remote.support import ACCOUNTS, CONFIG, ISSUES, TAGS, UTC, source_rows

ROWS = 20


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    seed_source(url, CONFIG.data_types, ["acme", "globex"], ROWS, seed=3)
    return url


def by_key(url: str, spec_name: str, installation: str) -> dict[object, tuple[object, ...]]:
    spec = CONFIG.data_type(spec_name)
    return {row[spec.key_index]: row for row in source_rows(url, spec, installation)}


def test_insert_rows(url: str) -> None:
    rows = [
        {"id": 100, "title": "new", "estimate": Decimal("2.50"), "updated_at": dt.datetime(2025, 1, 1, tzinfo=UTC)},
        {"installation_id": "acme", "id": 101, "title": "partial", "updated_at": dt.datetime(2025, 1, 2)},
    ]
    assert insert_rows(url, ISSUES, "acme", rows) == 2
    stored = by_key(url, "issues", "acme")
    assert stored[100] == (100, "new", Decimal("2.50"), dt.datetime(2025, 1, 1, tzinfo=UTC))
    assert stored[101] == (101, "partial", None, dt.datetime(2025, 1, 2, tzinfo=UTC))
    assert 100 not in by_key(url, "issues", "globex")
    assert insert_rows(url, ISSUES, "acme", []) == 0


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"id": 200, "title": "x", "colour": "red"}, "unknown columns"),
        ({"installation_id": "globex", "id": 1}, "globex"),
    ],
)
def test_insert_rows_refuses_foreign_columns_and_installations(url: str, row: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        insert_rows(url, ISSUES, "acme", [row])


def test_update_rows_touches_updated_at(url: str) -> None:
    before = dt.datetime.now(UTC)
    assert update_rows(url, ISSUES, "acme", [2, 4, 999], {"title": "edited", "estimate": None}) == 2
    after = dt.datetime.now(UTC)
    acme, globex = by_key(url, "issues", "acme"), by_key(url, "issues", "globex")
    for key in (2, 4):
        assert acme[key][1:3] == ("edited", None)
        assert before <= acme[key][3] <= after
    assert acme[2][3] == acme[4][3]
    assert globex[2][1] != "edited", "another installation's row with the same key changed"


def test_update_rows_without_touching_or_with_an_explicit_updated_at(url: str) -> None:
    original = by_key(url, "issues", "acme")[7]
    assert update_rows(url, ISSUES, "acme", [7], {"title": "quiet"}, touch_updated_at=False) == 1
    assert by_key(url, "issues", "acme")[7] == (7, "quiet", original[2], original[3])
    stamp = dt.datetime(2021, 5, 6, 7, 8, 9, 10, tzinfo=UTC)
    assert update_rows(url, ISSUES, "acme", [7], {"updated_at": stamp}) == 1
    assert by_key(url, "issues", "acme")[7][3] == stamp


def test_update_rows_of_a_key_mode_data_type(url: str) -> None:
    assert update_rows(url, TAGS, "globex", ["0000000003", "1; DROP TABLE tags"], {"label": "Zoë"}) == 1
    assert by_key(url, "tags", "globex")["0000000003"] == ("0000000003", "Zoë")
    assert len(by_key(url, "tags", "globex")) == ROWS
    with pytest.raises(ValueError, match="nothing to update"):
        update_rows(url, ACCOUNTS, "acme", [1], {})


@pytest.mark.parametrize(("changes", "message"), [({"id": 5}, "primary key"), ({"nope": 1}, "unknown columns")])
def test_update_rows_refuses_bad_changes(url: str, changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        update_rows(url, ISSUES, "acme", [1], changes)


def test_delete_rows(url: str) -> None:
    assert delete_rows(url, ACCOUNTS, "acme", [1, 5, 5, 1000]) == 2
    assert sorted(by_key(url, "accounts", "acme")) == [k for k in range(1, ROWS + 1) if k not in (1, 5)]
    assert len(by_key(url, "accounts", "globex")) == ROWS
    assert delete_rows(url, ACCOUNTS, "acme", []) == 0


def test_many_keys_go_in_batches(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mutations, "KEYS_PER_STATEMENT", 3)
    assert update_rows(url, ISSUES, "acme", list(range(1, 11)), {"title": "batched"}) == 10
    assert sum(row[1] == "batched" for row in by_key(url, "issues", "acme").values()) == 10
    assert delete_rows(url, ISSUES, "acme", list(range(1, 11))) == 10
    assert sorted(by_key(url, "issues", "acme")) == list(range(11, ROWS + 1))
