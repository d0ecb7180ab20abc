"""harness.judge.streak: a named version must not pass by chance when the route is ignored.

The bound rests on two facts proved here: eventually() starts at most `run_starts(timing)`
runs of matches within the budget (however fast the requests), and each run of n matches
under the null has probability p**n, independently, which a seeded simulation through
eventually() reproduces.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from harness.judge.derived import derived_words, timing_for
from harness.judge.eventually import eventually
from harness.judge.match import gate_expectation, mismatch
from harness.judge.streak import (
    FALSE_PASS,
    chance_of_streak,
    false_fail,
    host_service,
    probe_streak,
    required_streak,
    run_starts,
    streak_bound,
)
from harness.model.outcome import Outcome
from harness.model.scenario import Expect, Probe, Timing
from harness.model.topology import AgentPlan, EchoPlan, Topology
from harness.run.checker import EventuallyChecker

V1 = Outcome(status=200, served_by="reviews-v1")
V2 = Outcome(status=200, served_by="reviews-v2")


def topo(*versions: str, service: str = "reviews", namespace: str = "ns") -> Topology:
    echoes = [EchoPlan(service, v, namespace, "sa", 9080, 1) for v in versions]
    return Topology(agents=[AgentPlan("client", namespace, "client")], echoes=echoes)


def probe(expect: dict[str, Any], url: str = "http://reviews:9080/", **kw: Any) -> Probe:
    return Probe.model_validate({"from": "client", "url": url, "expect": expect, **kw})


class Clock:
    """Fake time: sleeps advance it, each request takes `request_s`."""

    def __init__(self, request_s: float = 0.0) -> None:
        self.now = 0.0
        self.request_s = request_s

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def observer(self, pick: Callable[[], Outcome]) -> Callable[[], Outcome]:
        def observe() -> Outcome:
            self.now += self.request_s
            return pick()

        return observe


# -- the figures --------------------------------------------------------------------------


def test_the_issue_figures_today_and_the_derived_streak() -> None:
    t = Timing()  # 30 s, 100 ms, streak 3
    runs = run_starts(t)
    assert runs == 302
    # Today's 3 in a row passes an ignored 50/50 route almost surely; 10 in a row often.
    assert chance_of_streak(0.5, 3, runs) > 0.999
    assert chance_of_streak(0.5, 10, runs) > 0.1
    # The derived streak is the smallest with a bound <= 1e-3 over the whole budget.
    assert required_streak(0.5, runs) == 19
    assert chance_of_streak(0.5, 19, runs) <= FALSE_PASS < chance_of_streak(0.5, 18, runs)
    assert required_streak(1 / 3, runs) == 12
    assert required_streak(0.25, runs) == 10
    assert required_streak(0.5, run_starts(Timing(budget=60))) == 20
    # Never below the scenario's own streak; nothing to derive when the version cannot
    # answer (share 0) or is the only one (share 1).
    assert required_streak(0.5, runs, at_least=25) == 25
    assert required_streak(0.0, runs, at_least=3) == 3
    assert required_streak(1.0, runs, at_least=3) == 3


@pytest.mark.parametrize(
    ("budget", "interval"), [(30, 0.1), (3, 0.1), (1, 0.3), (0.7, 0.1), (2.5, 0.25)]
)
def test_eventually_never_starts_more_runs_than_run_starts(budget: float, interval: float) -> None:
    """The adversary: matches take no time, every run ends one match short, then a mismatch."""
    t = Timing(budget=budget, interval=interval, streak=4)
    for request_s in (0.0, 0.001):
        clock = Clock(request_s)
        starts = 0
        position = 0

        def pick() -> Outcome:
            nonlocal starts, position
            if position == 0:
                starts += 1
            position = (position + 1) % 4  # 3 matches, then a mismatch
            return V2 if position else V1

        r = eventually(clock.observer(pick), Expect(served_by="v2"), t, clock, clock.sleep)
        assert not r.passed
        assert starts <= run_starts(t), (budget, interval, starts)


def test_simulated_false_pass_through_eventually_agrees_with_the_bound() -> None:
    """A short budget where the bound is large enough to measure: 1 s, 5 in a row, 50/50."""
    t = Timing(budget=1.0, streak=5)
    bound = chance_of_streak(0.5, 5, run_starts(t))
    rng = random.Random(9)
    runs = 1500
    for request_s, exact in ((0.0, True), (0.004, False)):
        passes = 0
        for _ in range(runs):
            clock = Clock(request_s)
            observe = clock.observer(lambda: V2 if rng.random() < 0.5 else V1)
            passes += eventually(observe, Expect(served_by="v2"), t, clock, clock.sleep).passed
        rate = passes / runs
        sigma = (bound * (1 - bound) / runs) ** 0.5
        assert rate <= bound + 3 * sigma, (request_s, rate, bound)
        if exact:  # instant requests: 1 + budget / interval runs (the bound adds 1 for rounding)
            rate_11 = chance_of_streak(0.5, 5, 11)
            assert abs(rate - rate_11) <= 3 * (rate_11 * (1 - rate_11) / runs) ** 0.5, rate


def test_false_fail_when_the_route_works() -> None:
    t = Timing()
    # 20 s left after propagation, 1% transient errors: negligible; 10%: below 1e-4.
    assert false_fail(19, 20.0, t, error_rate=0.01) < 1e-40
    assert false_fail(19, 20.0, t, error_rate=0.10) < 1e-4
    assert false_fail(19, 20.0, t) == 0.0
    # Too little time left for the streak itself: certain failure.
    assert false_fail(19, 0.1, t) == 1.0
    # Seeded simulation: 30% errors, 3 s left after a 2 s propagation: within the bound.
    t = Timing(budget=5.0)
    rng = random.Random(3)
    bound = false_fail(19, 3.0, t, error_rate=0.3, latency_s=0.01)
    fails = 0
    runs = 400
    for _ in range(runs):
        clock = Clock(0.01)

        def pick(clock: Clock = clock) -> Outcome:
            if clock.now < 2.0:
                return V1  # the route not yet propagated
            return V2 if rng.random() >= 0.3 else Outcome(status=503)

        fails += not eventually(
            clock.observer(pick), Expect(served_by="v2"), t, clock, clock.sleep
        ).passed
    assert 0.3 < bound < 1.0
    assert fails / runs <= bound + 3 * (bound * (1 - bound) / runs) ** 0.5


# -- which Service, how many versions -------------------------------------------------------


def test_host_service_reads_the_topology() -> None:
    tp = topo("v1", "v2", "v3")
    assert host_service("http://reviews:9080/x", "ns", tp) == ("reviews", ("v1", "v2", "v3"))
    assert host_service("http://reviews.ns:9080/", "other", tp) == ("reviews", ("v1", "v2", "v3"))
    assert host_service("http://reviews.ns.svc.cluster.local/", "x", tp) is not None
    assert host_service("http://reviews-v2:9080/", "ns", tp) == ("reviews-v2", ("v2",))
    assert host_service("http://reviews:9080/", "other", tp) is None  # another namespace
    assert host_service("http://reviews-tcp:9080/", "ns", tp) is None  # the scenario's own
    assert host_service("http://example.com/", "ns", tp) is None


def test_streak_from_the_number_of_versions() -> None:
    two, three = topo("v1", "v2"), topo("v1", "v2", "v3")
    assert timing_for(probe({"served_by": "v2"}), two).streak == 19
    assert timing_for(probe({"served_by": "reviews-v2"}), two).streak == 19
    assert timing_for(probe({"served_by": "v2"}), three).streak == 12
    # Unknown versions: the worst case for a Service with an alternative, two versions.
    assert timing_for(probe({"served_by": "v2"}), None).streak == 19
    # The per-version Service answers only v2: nothing a streak could tell; v1 never.
    only = probe_streak(probe({"served_by": "v2"}, url="http://reviews-v2:9080/"), two)
    assert only is not None and only.streak == 3 and only.false_pass == 1.0
    never = probe_streak(probe({"served_by": "v1"}, url="http://reviews-v2:9080/"), two)
    assert never is not None and never.streak == 3 and never.false_pass == 0.0
    # An expectation naming no version keeps its timing.
    assert timing_for(probe({"outcome": "allowed"}), two) == Timing()
    # The other timing fields stay.
    t = timing_for(probe({"served_by": "v2"}, timing={"budget": 60, "hold": 2}), two)
    assert (t.streak, t.budget, t.hold) == (20, 60, 2)


def test_gates_derive_on_known_services_only() -> None:
    split = {"split": {"v1": 50, "v2": 50}}
    known = probe(split, gate={"served_by": "v2"})
    bound = probe_streak(known, topo("v1", "v2"), gate=True)
    assert bound is not None and bound.streak == 19
    # A scenario's own Service (e.g. one that selects only v1): the harness cannot tell.
    own = probe(split, url="http://reviews-tcp:9080/", gate={"served_by": "v2"})
    bound = probe_streak(own, topo("v1", "v2"), gate=True)
    assert bound is not None and bound.streak == 3
    assert "sound only if it cannot reach v2 without the route" in bound.describe()


def test_derived_words_for_plan_and_dry_run() -> None:
    words = derived_words(probe({"served_by": "v2"}, timing={"streak": 10}), topo("v1", "v2"))
    assert words == [
        "served_by v2: 19 in a row (raised from 10): by chance <= 5.8e-04 if the route is "
        "ignored (reviews: v1, v2; <= 302 runs in the budget)"
    ]
    assert derived_words(probe({"outcome": "allowed"}), None) == []
    bound = streak_bound(Expect(served_by="v2"), Timing(), None)
    assert bound is not None and "worst case 2" in bound.describe()


# -- the checker uses it ----------------------------------------------------------------------


class RandomLink:
    """An ignored route on a 50/50 Service: every answer is v1 or v2 at random (seeded)."""

    def __init__(self, clock: Clock, seed: int, reply: Callable[[str], Outcome] | None = None):
        self.clock = clock
        self.rng = random.Random(seed)
        self.reply = reply or (lambda v: Outcome(status=200, served_by=f"reviews-{v}"))

    def probe(self, method: str, url: str, headers: Mapping[str, str], timeout: float) -> Outcome:
        self.clock.now += 0.005
        return self.reply("v2" if self.rng.random() < 0.5 else "v1")

    def sample(
        self, method: str, url: str, n: int, headers: Mapping[str, str], timeout: float
    ) -> list[Outcome]:
        return [self.probe(method, url, headers, timeout) for _ in range(n)]


def test_checker_no_longer_passes_served_by_on_an_ignored_route() -> None:
    verdicts = []
    for seed in range(20):
        clock = Clock()
        checker = EventuallyChecker(clock=clock, sleep=clock.sleep, topology=topo("v1", "v2"))
        result = checker.check(RandomLink(clock, seed), probe({"served_by": "v2"}), 0.0)
        verdicts.append(result.verdict)
        assert "needed 19 in a row within 30s" in result.message
        assert result.message.endswith(
            "; 19 in a row, not 3: fewer happen by chance when the route is ignored "
            "(<= 5.8e-04 with 19; docs/statistics.md)"
        )
    # 3 in a row (before) passes every one of these; 19 in a row passes none.
    assert verdicts == ["fail"] * 20


def test_a_local_reply_with_the_routes_header_does_not_open_a_gate() -> None:
    gate = Expect(headers={"x-route": "weighted"})
    local = Outcome(status=503, headers={"x-route": "weighted"}, body_excerpt="no healthy upstream")
    assert mismatch(local, gate) is None  # the gate as written would open
    assert mismatch(local, gate_expectation(gate)) is not None
    assert (
        mismatch(Outcome(status=200, headers={"x-route": "weighted"}), gate_expectation(gate))
        is None
    )
    clock = Clock()
    link = RandomLink(clock, 1, reply=lambda v: local)
    checker = EventuallyChecker(clock=clock, sleep=clock.sleep)
    p = probe({"split": {"v1": 50, "v2": 50}}, gate={"headers": {"x-route": "weighted"}})
    result = checker.check(link, p, 0.0)
    assert result.verdict == "fail"
    assert result.message.startswith("the gate never held, so the split was not sampled")
    assert result.split_counts is None
