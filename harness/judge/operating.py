"""Exact operating characteristics of a two-way `SplitCheck` (docs/statistics.md).

With two backends the check's decision after `n` samples depends only on `h`, the count of
the backend it tests, so the distribution of the verdict and of the stopping time under a
true share `q` follows exactly from the binomial recursion over (n, h): no sampling.

For each `n` the decision over `h` is: FAIL at both ends (some one-sided mixture crosses
m / alpha), PASS on a middle interval (every boundary likelihood ratio <= beta), undecided
between. A crossing stays a crossing when a sample of the tested side is added, and none
appears when a sample of the other side is (each alternative's ratio moves one way, by far
more than rounding), so each FAIL threshold moves up by 0 or 1 per sample and one test per
sample places it; the PASS interval is linear in `h` (a closed form, checked against
`evaluate`). `regions()` is the table, `course()` the recursion and `figures()` its summary;
the tests check the table against `SplitCheck.evaluate`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from harness.judge.side_test import SideTest
from harness.judge.split import SplitCheck

_DROP = 1e-18  # probability mass below this is dropped from the recursion


@dataclass(frozen=True)
class Region:
    """Decision over h after n samples: fail h <= fail_low or h >= fail_high, pass in
    [pass_low, pass_high] (empty when pass_low > pass_high), undecided elsewhere."""

    n: int
    fail_low: int  # -1: no low failure
    fail_high: int  # n + 1: no high failure
    pass_low: int
    pass_high: int

    def verdict(self, h: int) -> str:
        if h <= self.fail_low or h >= self.fail_high:
            return "fail"
        if self.pass_low <= h <= self.pass_high:
            return "pass"
        return "undecided"


@dataclass(frozen=True)
class Figures:
    """What one true share gives: P(fail), P(pass), P(cap), stopping-time summary."""

    truth: float  # true share of the tested backend
    fail: float
    passed: float
    at_cap: float  # probability of reaching the cap (a PASS there)
    fail_by: float  # P(FAIL within the first `by` samples): the detection with a cap of `by`
    mean: float
    median: int
    p95: int


def counted_backend(check: SplitCheck) -> str:
    """The backend whose count `h` is (the two-way check tests one backend)."""
    names = {t.backend for t in check.tests}
    if len(check.expected) != 2 or len(names) != 1:
        raise ValueError("exact figures need a two-way split with both weights positive")
    return names.pop()


def regions(check: SplitCheck) -> Iterator[Region]:
    """The decision table for n = 1 .. cap (the cap's row without the at-cap pass)."""
    over = _crossing([t for t in check.tests if t.side == "over"])
    under = _crossing([t for t in check.tests if t.side == "under"])
    # Each threshold moves up by 0 or 1 per sample (the module docstring): one test at the
    # new n places it.
    fail_high = 1  # smallest h crossing an over test at n (n + 1: none)
    fail_low = -1  # largest h crossing an under test (-1: none)
    for n in range(1, check.max_samples + 1):
        if over is None:
            fail_high = n + 1
        elif not over(fail_high, n):
            fail_high += 1
        if under is not None and under(fail_low + 1, n):
            fail_low += 1
        low, high = 0, n
        for t in check.tests:
            a, b = t.boundary.log_hit, t.boundary.log_miss
            # Accept while h * a + (n - h) * b <= log beta: h <= edge over, h >= edge under.
            edge = (check.log_pass - n * b) / (a - b)
            if a > b:
                high = min(high, _walk(t, n, math.floor(edge), check.log_pass, down=True))
            else:
                low = max(low, _walk(t, n, math.ceil(edge), check.log_pass, down=False))
        if n < check.pass_floor:
            low, high = 1, 0  # no pass before the floor
        yield Region(n, fail_low, fail_high, low, high)


def _walk(test: SideTest, n: int, guess: int, log_pass: float, *, down: bool) -> int:
    """The exact accept edge near the closed form's `guess` (floating-point ties)."""
    ratio = test.log_boundary_ratio

    def inside(h: int) -> bool:
        return 0 <= h <= n and ratio(h, n) <= log_pass

    h = min(max(guess, -1), n + 1)
    if down:  # accepted below the edge: the largest accepted h
        while h >= 0 and not inside(h):
            h -= 1
        while h + 1 <= n and inside(h + 1):
            h += 1
    else:  # accepted above the edge: the smallest accepted h
        while h <= n and not inside(h):
            h += 1
        while h - 1 >= 0 and inside(h - 1):
            h -= 1
    return h


def _crossing(tests: list[SideTest]) -> Callable[[int, int], bool] | None:
    """Does some test cross at (h, n)? None without tests (a two-way check has one a side)."""
    if len(tests) <= 1:
        return tests[0].crosses if tests else None
    return lambda h, n: any(t.crosses(h, n) for t in tests)


@dataclass(frozen=True)
class Course:
    """The recursion's outcome for one truth: per sample count, the mass that stops there.

    `figures(by)` summarises it for any `by` without running the recursion again (the
    decisions before a cap do not depend on it), with the same sums in the same order.
    """

    truth: float
    stops: tuple[tuple[int, float, float], ...]  # (n, P(FAIL at n), P(PASS at n)), n rising
    at_cap: float  # P(reaching the cap undecided): a PASS there, included in stops
    cap: int

    def figures(self, by: int | None = None) -> Figures:
        by = self.cap if by is None else by
        fail = passed = fail_by = 0.0
        n = 0
        for n, failed, decided in self.stops:
            passed += decided
            fail += failed
            if n == by:
                fail_by = fail
        if by > n:  # stopped before `by`: every failure came before it
            fail_by = fail
        stops = [(n, failed + decided) for n, failed, decided in self.stops]
        total = sum(p for _, p in stops) or 1.0
        mean = sum(n * p for n, p in stops) / total
        return Figures(
            self.truth,
            fail,
            passed,
            self.at_cap,
            fail_by,
            mean,
            _quantile(stops, 0.5),
            _quantile(stops, 0.95),
        )


def figures(
    check: SplitCheck,
    truth: float,
    *,
    by: int | None = None,
    table: Sequence[Region] | None = None,
) -> Figures:
    """Exact P(fail), P(pass), P(cap) and samples when the counted backend's share is `truth`.

    The decisions before a cap do not depend on it, so `fail_by` is the detection the check
    would have with `max_samples=by` (default: its own cap). `table`: `list(regions(check))`
    when several truths are computed for one check; `course()` when several `by` are.
    """
    return course(check, truth, table=table).figures(by)


def _step(alive: list[float], q: float, r: float) -> list[float]:
    """One more sample over a band: h stays (prob r) or moves up (prob q).

    step[i] = alive[i] * r + alive[i - 1] * q (0 beyond either end), by a plain loop:
    cheaper than zipping two shifted copies, or than map over bound methods.
    """
    step: list[float] = []
    append, below = step.append, 0.0
    for here in alive:
        append(here * r + below * q)
        below = here
    append(0.0 * r + below * q)
    return step


def course(check: SplitCheck, truth: float, *, table: Sequence[Region] | None = None) -> Course:
    """The binomial recursion over the decision table when the counted share is `truth`."""
    cap = check.max_samples
    lo, alive = 0, [1.0]  # alive[i]: P(undecided with h = lo + i)
    # alive[z0:z1] are exact zeros (the PASS interval emptied at the last sample): stepping
    # them gives zeros again, and a band next to them steps as if at an end (x + 0.0 == x),
    # so only the two bands around them are stepped; the list, its sums, are unchanged.
    z0 = z1 = 0
    at_cap = 0.0
    stops: list[tuple[int, float, float]] = []
    q, r = truth, 1.0 - truth
    for region in regions(check) if table is None else table:
        n = region.n
        if z1 > z0:
            step = _step(alive[:z0], q, r)
            step += [0.0] * (z1 - z0 - 1)
            step += _step(alive[z1:], q, r)
        else:
            step = _step(alive, q, r)
        size = len(step)
        hi = lo + size - 1
        # FAIL at both ends, PASS in the middle (or everything left at the cap).
        low_end = min(region.fail_low, hi) - lo + 1  # step[:low_end] fails
        high_start = max(region.fail_high - lo, low_end)  # step[high_start:] fails
        failed = sum(step[: max(low_end, 0)]) + sum(step[high_start:])
        keep_lo, keep_hi = max(low_end, 0), min(high_start, size)  # step[keep_lo:keep_hi] left
        if n == cap:
            decided = sum(step[keep_lo:keep_hi])  # undecided at the cap: PASS
            at_cap += decided
            stops.append((n, failed, decided))
            break
        a = max(region.pass_low - lo, keep_lo)
        b = min(region.pass_high - lo + 1, keep_hi)
        decided = 0.0
        if a < b:
            decided = sum(step[a:b])
            step[a:b] = [0.0] * (b - a)
        stops.append((n, failed, decided))
        # Drop negligible mass at the edges so the band stays narrow.
        start, end = keep_lo, keep_hi
        while start < end and step[start] <= _DROP:
            start += 1
        while end > start and step[end - 1] <= _DROP:
            end -= 1
        if start == end:
            break
        alive = step[start:end]
        lo += start
        z0, z1 = max(a - start, 0), min(b - start, end - start)
    return Course(truth, tuple(stops), at_cap, cap)


def _quantile(stops: list[tuple[int, float]], level: float) -> int:
    cum = 0.0
    for n, p in stops:
        cum += p
        if cum >= level - 1e-12:
            return n
    return stops[-1][0] if stops else 0
