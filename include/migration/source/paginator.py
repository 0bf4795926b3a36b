"""A pure keyset paginator: cursor state, validated page by page.

It never talks to the network. Fed each page's rows and ``afterId``, it moves
the cursor and fails instead of looping or stopping early: a repeated or
backwards cursor, a cursor that disagrees with the last row, an empty page that
claims more data, or more pages than the bound all raise
:class:`PaginationError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from include.migration.errors import FatalError


class PaginationError(FatalError):
    """The remote's pagination is broken; continuing would loop or lose rows."""


@dataclasses.dataclass
class KeysetPaginator:
    """Cursor state for one data type's pass, starting after ``cursor`` (None: from the start)."""

    installation_id: str
    data_type: str
    cursor: Any = None
    max_pages: int = 1_000_000
    pages: int = 0
    rows: int = 0
    done: bool = False

    def _fail(self, problem: str) -> None:
        raise PaginationError(
            f"installation {self.installation_id!r}, data type {self.data_type!r}, cursor {self.cursor!r}: "
            f"{problem}; the checkpoint stays at {self.cursor!r}, fix the remote's pagination and re-run"
        )

    def advance(self, keys: Sequence[Any], after_id: Any) -> Any:
        """Account one page given its row keys (in page order) and ``afterId``; returns the new cursor."""
        if self.done:
            self._fail("a page was fetched after the end of data")
        if not keys:
            if after_id is not None:
                self._fail(f"an empty page came with a non-null afterId {after_id!r}")
            self.pages += 1
            self.done = True
            return self.cursor
        previous = self.cursor
        for index, key in enumerate(keys):
            if previous is not None and not _greater(key, previous):
                what = "repeats" if key == previous else "goes backwards from"
                where = "the cursor" if index == 0 else f"the previous row (row {index})"
                self._fail(f"key {key!r} {what} {where} {previous!r}")
            previous = key
        last = keys[-1]
        if after_id is not None and after_id != last and str(after_id) != str(last):
            self._fail(f"afterId {after_id!r} is not the key of the page's last row {last!r}")
        self.pages += 1
        self.rows += len(keys)
        self.cursor = last
        if after_id is None:
            self.done = True
        elif self.pages >= self.max_pages:
            self._fail(f"more than {self.max_pages} pages in one pass (raise max_pages_per_pass if this is real)")
        return self.cursor


def _greater(key: Any, previous: Any) -> bool:
    try:
        return key > previous
    except TypeError:
        return str(key) > str(previous)
