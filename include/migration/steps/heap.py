"""Garbage collection for the page loops: the long-lived heap set aside, young objects collected less often.

A task process holds Airflow's and its providers' objects (over 200,000 containers)
before its first page, and every page then makes tens of thousands of short-lived
ones: decoded JSON values, row tuples, Python values of a column. With the default
thresholds the collector runs every 700 new containers and, now and then, walks the
whole heap again; on a 2,000-row JSON page that was over 40% of the page's time.
Inside :func:`page_loop_collection` the heap that existed before it is frozen (never
walked again; ``gc.freeze``) and the youngest generation is collected every
``YOUNG_THRESHOLD`` containers. Nothing is kept from being freed: objects without
cycles go when their last reference does, as always, and cycles are still collected.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000

_lock = threading.Lock()
_depth = 0
_saved_threshold: tuple[int, int, int] | None = None


@contextmanager
def page_loop_collection() -> Iterator[None]:
    """Freeze the existing heap and collect young objects less often, until the outermost loop ends.

    Re-entrant and shared between threads: the first to enter sets it up, the last to leave restores the
    thresholds and returns the frozen objects to the oldest generation.
    """
    global _depth, _saved_threshold
    with _lock:
        if _depth == 0:
            _saved_threshold = gc.get_threshold()
            gc.freeze()
            young, *older = _saved_threshold
            gc.set_threshold(max(young, YOUNG_THRESHOLD), *older)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved_threshold is not None:
                gc.set_threshold(*_saved_threshold)
                gc.unfreeze()
                _saved_threshold = None
