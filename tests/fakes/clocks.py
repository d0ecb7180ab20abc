"""A clock for tests of code that waits on real processes or servers."""

from __future__ import annotations

import time


class SkewedClock:
    """The real monotonic clock plus every second slept on it: a wait on this clock takes no
    wall time, while the time real work takes (requests to real processes) still shows.

    Passed where code takes a clock and a sleep (`clock=c, sleep=c.sleep`), or, having
    `monotonic` and `sleep`, in place of the `time` module a waiting module calls.
    """

    def __init__(self) -> None:
        self.skew = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.skew

    __call__ = monotonic

    def sleep(self, seconds: float) -> None:
        self.skew += max(0.0, seconds)
