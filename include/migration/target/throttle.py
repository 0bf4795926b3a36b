"""Throttles that keep a writer inside a target profile's request and query-time budgets."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class RateLimiter:
    """At most ``rate`` acquisitions per second, spaced evenly (no bursts above the rate)."""

    def __init__(self, rate: float | None, clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        self.rate = rate
        self._interval = 1.0 / rate if rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def acquire(self) -> None:
        """Block until the next request may start."""
        if not self._interval:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            self.waited_seconds += start - now
            self._sleep(start - now)
            with self._lock:
                # A late wake-up must not let the following requests catch up in a burst.
                self._next = max(self._next, self._clock() + self._interval)


class QueryTimeBudget:
    """Keeps the sum of statement durations within ``seconds_per_minute`` over any sliding minute."""

    WINDOW = 60.0

    def __init__(
        self, seconds_per_minute: float | None, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ) -> None:
        self.seconds_per_minute = seconds_per_minute
        self._clock = clock
        self._sleep = sleep
        self._spent: collections.deque[tuple[float, float]] = collections.deque()
        self._total = 0.0
        self.waited_seconds = 0.0

    def record(self, duration: float) -> None:
        """Account one finished statement."""
        if self.seconds_per_minute is None:
            return
        self._spent.append((self._clock(), duration))
        self._total += duration

    def wait(self) -> None:
        """Block while the last minute's query time is at or over the budget."""
        if self.seconds_per_minute is None:
            return
        while True:
            now = self._clock()
            while self._spent and self._spent[0][0] <= now - self.WINDOW:
                self._total -= self._spent.popleft()[1]
            if self._total < self.seconds_per_minute or not self._spent:
                return
            pause = self._spent[0][0] + self.WINDOW - now
            self.waited_seconds += pause
            self._sleep(max(pause, 0.001))
