"""Edits of a data page's JSON body, for the proxy's ``EditPage`` fault: each returns ``body -> body``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PageEdit = Callable[[dict[str, Any]], dict[str, Any]]


def rename_header(old: str, new: str) -> PageEdit:
    """Call column ``old`` ``new`` (values unchanged)."""

    def edit(body: dict[str, Any]) -> dict[str, Any]:
        body["headers"] = [new if h == old else h for h in body["headers"]]
        return body

    return edit


def drop_column(name: str) -> PageEdit:
    """Remove column ``name``, header and values."""

    def edit(body: dict[str, Any]) -> dict[str, Any]:
        index = body["headers"].index(name)
        body["headers"].pop(index)
        for row in body["data"]:
            row.pop(index)
        return body

    return edit


def add_column(name: str, value: Any) -> PageEdit:
    """Append a column ``name`` holding ``value`` in every row."""

    def edit(body: dict[str, Any]) -> dict[str, Any]:
        body["headers"].append(name)
        for row in body["data"]:
            row.append(value)
        return body

    return edit


def reverse_columns(body: dict[str, Any]) -> dict[str, Any]:
    """The same columns in reverse order, headers and values alike."""
    body["headers"].reverse()
    for row in body["data"]:
        row.reverse()
    return body


def set_cell(column: str, row: int, value: Any) -> PageEdit:
    """Replace one value: ``column`` of the page's ``row``-th row."""

    def edit(body: dict[str, Any]) -> dict[str, Any]:
        body["data"][row][body["headers"].index(column)] = value
        return body

    return edit


def set_after_id(choose: Callable[[dict[str, Any]], Any]) -> PageEdit:
    """Replace ``pagination.afterId`` with ``choose(body)``."""

    def edit(body: dict[str, Any]) -> dict[str, Any]:
        body["pagination"]["afterId"] = choose(body)
        return body

    return edit


def empty_with_cursor(body: dict[str, Any]) -> dict[str, Any]:
    """No rows, while the page still announces more (its non-null afterId stays)."""
    assert body["pagination"]["afterId"] is not None
    body["data"] = []
    return body


def without_installation(body: dict[str, Any]) -> dict[str, Any]:
    """The page as a remote older than the ``installation`` field sends it."""
    body.pop("installation", None)
    return body
