"""Two background stages ahead of the writer: fetch pages back to back, and prepare them.

The fetch stage requests the next page as soon as the previous one has
arrived, following the cursor the remote announces; the prepare stage converts
and renders each page meanwhile; the caller writes prepared pages in order. So
the remote, the client and the target each work all the time instead of taking
turns. Nothing is trusted early: the caller still checks every page's keys and
cursor before writing it, and a stage's error reaches the caller in page order,
after the pages fetched before it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

Page = TypeVar("Page")
Prepared = TypeVar("Prepared")

_END = object()
_POLL_SECONDS = 0.1


class Prefetcher(Generic[Page, Prepared]):
    """Iterate over prepared pages; see the module docs.

    ``fetch(cursor)`` gets one page; ``next_cursor(page)`` is the cursor it
    announces (None at the end of data); ``keep_fetching()`` is asked before
    each fetch after the first (False: stop, e.g. the time budget is spent); ``prepare(page)``
    turns a page into what the caller writes. At most ``depth`` pages wait
    between two stages.
    """

    def __init__(
        self,
        *,
        start: Any,
        fetch: Callable[[Any], Page],
        next_cursor: Callable[[Page], Any],
        keep_fetching: Callable[[], bool],
        prepare: Callable[[Page], Prepared],
        depth: int = 2,
    ) -> None:
        self._start = start
        self._fetch = fetch
        self._next_cursor = next_cursor
        self._keep_fetching = keep_fetching
        self._prepare = prepare
        self._fetched: queue.Queue[Any] = queue.Queue(depth)
        self._prepared: queue.Queue[Any] = queue.Queue(depth)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._fetching, name="prefetch-fetch", daemon=True),
            threading.Thread(target=self._preparing, name="prefetch-prepare", daemon=True),
        ]

    def __enter__(self) -> Iterator[Prepared]:
        for thread in self._threads:
            thread.start()
        return self._results()

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _results(self) -> Iterator[Prepared]:
        while True:
            item = self._take(self._prepared)
            if item is _END or item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _fetching(self) -> None:
        cursor = self._start
        try:
            while True:
                page = self._fetch(cursor)
                if not self._put(self._fetched, page):
                    return
                cursor = self._next_cursor(page)
                if cursor is None or not self._keep_fetching():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, in order
            self._put(self._fetched, exc)
            return
        self._put(self._fetched, _END)

    def _preparing(self) -> None:
        while True:
            item = self._take(self._fetched)
            if item is None:
                return
            if item is not _END and not isinstance(item, BaseException):
                try:
                    item = self._prepare(item)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller, in order
                    item = exc
            if not self._put(self._prepared, item) or item is _END or isinstance(item, BaseException):
                return

    def _put(self, target: queue.Queue[Any], item: Any) -> bool:
        while not self._stop.is_set():
            try:
                target.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _take(self, source: queue.Queue[Any]) -> Any:
        """The next item, or None once the caller has stopped."""
        while not self._stop.is_set():
            try:
                return source.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
        return None
