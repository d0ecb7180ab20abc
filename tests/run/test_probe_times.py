"""Time to consistency is measured from the probe's own start, and separately from the apply.

Issue 11 item 13: a probe that passed on its first try reported 61 s because the time of the
earlier probes of the same step was counted in.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from harness.model.outcome import Outcome
from harness.model.scenario import Probe
from harness.run.checker import EventuallyChecker

ALLOWED = Outcome(status=200, served_by="reviews-v1", l7=True)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Link:
    """Every request takes 10 ms and is allowed (served by v1 or v2 in turn for a split)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.n = 0

    def probe(self, method: str, url: str, headers: Mapping[str, str], timeout: float) -> Outcome:
        self.clock.now += 0.01
        return ALLOWED

    def sample(
        self, method: str, url: str, n: int, headers: Mapping[str, str], timeout: float
    ) -> list[Outcome]:
        self.clock.now += 0.01
        out = []
        for _ in range(n):
            self.n += 1
            version = "v2" if self.n % 10 == 0 else "v1"
            out.append(Outcome(status=200, served_by=f"reviews-{version}", l7=True))
        return out


def probe(**kw: object) -> Probe:
    return Probe.model_validate(
        {"from": "productpage", "url": "http://reviews:9080/", "expect": "allowed", **kw}
    )


def test_a_probe_that_holds_at_once_reports_its_own_time_not_the_steps() -> None:
    # The step's apply ended at 100 s; earlier probes of the step took 61 s.
    clock = Clock(161.0)
    r = EventuallyChecker(clock=clock, sleep=clock.sleep).check(Link(clock), probe(), 100.0)
    assert r.verdict == "pass"
    assert r.time_to_consistency_s == pytest.approx(0.03)  # three requests of 10 ms
    assert r.time_to_consistency_from_apply_s == pytest.approx(61.03)


def test_a_split_is_timed_from_its_gate_and_from_the_apply() -> None:
    clock = Clock(20.0)
    p = probe(
        expect={"split": {"v1": 90, "v2": 10}},
        gate={"outcome": "allowed", "served_by": "v1"},
        samples=200,
    )
    r = EventuallyChecker(clock=clock, sleep=clock.sleep).check(Link(clock), p, 5.0)
    assert r.verdict == "pass", r.message
    assert r.time_to_consistency_s == pytest.approx(0.03)  # the gate's streak
    assert r.time_to_consistency_from_apply_s == pytest.approx(15.03)


def test_a_failed_probe_has_no_time() -> None:
    clock = Clock(10.0)
    p = probe(expect="denied-l4", timing={"budget": 1})
    r = EventuallyChecker(clock=clock, sleep=clock.sleep).check(Link(clock), p, 0.0)
    assert r.verdict == "fail"
    assert r.time_to_consistency_s is None and r.time_to_consistency_from_apply_s is None
