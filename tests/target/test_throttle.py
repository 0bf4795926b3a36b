"""Throttles with a fake clock: rates and query-time budgets are kept exactly."""

from include.migration.target.throttle import QueryTimeBudget, RateLimiter


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limiter_spaces_requests():
    clock = FakeClock()
    limiter = RateLimiter(150.0, clock=clock, sleep=clock.sleep)
    for _ in range(300):
        limiter.acquire()
    # 300 requests at 150/s: the last one starts at 299/150 s, never earlier.
    assert abs(clock.now - 299 / 150) < 1e-9


def test_unlimited_rate_never_sleeps():
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        limiter.acquire()
    assert clock.slept == []


def test_query_budget_waits_for_the_window():
    clock = FakeClock()
    budget = QueryTimeBudget(20.0, clock=clock, sleep=clock.sleep)  # e.g. 62.5 s/min shared by 3 writers
    for _ in range(4):  # 4 statements of 5 s, back to back: 20 s spent by t=20
        budget.wait()
        clock.now += 5.0
        budget.record(5.0)
    assert budget.waited_seconds == 0
    budget.wait()
    # The next statement may start only when the first one (recorded at t=5) leaves the 60 s window.
    assert clock.now == 65.0
    budget.record(1.0)
    assert budget.waited_seconds == 45.0


def test_a_late_wake_up_does_not_allow_a_burst():
    clock = FakeClock()

    def oversleep(seconds):
        clock.now += seconds + 0.05  # the OS wakes us 50 ms late

    limiter = RateLimiter(100.0, clock=clock, sleep=oversleep)
    starts = []
    for _ in range(50):
        limiter.acquire()
        starts.append(clock.now)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert min(gaps) >= 0.01 - 1e-9  # never closer than the rate allows
