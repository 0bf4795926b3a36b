"""cProfile of a case's main thread and of every thread it starts (the prefetch thread), merged into one file."""

from __future__ import annotations

import argparse
from typing import Any


class ThreadAwareProfiler:
    """cProfile of the main thread and of every thread started while it runs (the prefetch thread)."""

    def __init__(self) -> None:
        import cProfile
        import threading

        self._profiles: list[Any] = []
        self._original_run = threading.Thread.run
        profiles, original = self._profiles, self._original_run

        def run(thread: Any) -> None:
            profile = cProfile.Profile()
            profiles.append(profile)
            profile.enable()
            try:
                original(thread)
            finally:
                profile.disable()

        threading.Thread.run = run  # type: ignore[method-assign]
        self._main = cProfile.Profile()
        self._main.enable()

    def finish(self, out: str) -> None:
        """Stop profiling; each thread's profile to ``<out>.thread<n>.prof``, all of them merged into ``out``."""
        import pstats
        import threading

        self._main.disable()
        threading.Thread.run = self._original_run  # type: ignore[method-assign]
        self._main.dump_stats(out + ".main.prof")
        stats = pstats.Stats(self._main)
        for index, profile in enumerate(self._profiles):
            profile.dump_stats(f"{out}.thread{index}.prof")
            stats.add(profile)
        stats.dump_stats(out)


def maybe_profiler(args: argparse.Namespace) -> ThreadAwareProfiler | None:
    """A running profiler when the case was given ``--profile-out``."""
    return ThreadAwareProfiler() if getattr(args, "profile_out", None) else None
