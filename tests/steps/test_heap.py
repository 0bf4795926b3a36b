"""The page loops' collector settings: set on the first entry, restored on the last exit, from any thread."""

from __future__ import annotations

import gc
import threading

from include.migration.steps.heap import YOUNG_THRESHOLD, page_loop_collection


def test_the_heap_is_frozen_and_young_objects_collected_less_often_until_the_outermost_loop_ends():
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    with page_loop_collection():
        assert gc.get_threshold() == (max(before[0], YOUNG_THRESHOLD), *before[1:])
        assert gc.get_freeze_count() > frozen_before
        with page_loop_collection():
            pass
        assert gc.get_threshold()[0] == max(before[0], YOUNG_THRESHOLD)  # the inner exit changes nothing
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_loops_in_threads_share_the_settings_and_the_last_one_out_restores_them():
    before = gc.get_threshold()
    entered, release = threading.Barrier(3), threading.Event()

    def loop() -> None:
        with page_loop_collection():
            entered.wait()
            release.wait()

    threads = [threading.Thread(target=loop) for _ in range(2)]
    for thread in threads:
        thread.start()
    entered.wait()
    assert gc.get_threshold()[0] == max(before[0], YOUNG_THRESHOLD)
    release.set()
    for thread in threads:
        thread.join()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_cycles_made_inside_the_loop_are_still_collected():
    class Node:
        pass

    with page_loop_collection():
        node = Node()
        node.self = node  # type: ignore[attr-defined]
        ref = __import__("weakref").ref(node)
        del node
        gc.collect()
        assert ref() is None
