"""harness.judge.eventually: eventually/consistently with a fake clock."""

# The failure messages use the multiplication sign on purpose ("allowed \u00d72").

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from outcomes import (
    ALLOWED,
    ALLOWED_V2,
    RBAC,
    RESET,
    ex,
)

from harness.judge.eventually import ExpectationResult, eventually, run_lengths
from harness.model.outcome import Outcome
from harness.model.scenario import Expect, Timing


def test_run_lengths() -> None:
    assert run_lengths(["a", "a", "b", "a"]) == "a ×2 then b then a"
    assert run_lengths([]) == ""


# -- eventually / consistently with a fake clock ------------------------------------------


class FakeClock:
    """Time advances only when slept or when an observation is made (request latency)."""

    def __init__(self, request_s: float = 0.01) -> None:
        self.now = 1000.0
        self.request_s = request_s
        self.sleeps: list[float] = []
        self.observed_at: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def observer(
        self, outcomes: Iterable[Outcome] | Callable[[float], Outcome]
    ) -> Callable[[], Outcome]:
        """Observations from a list (the last one repeats) or a function of fake time."""
        if callable(outcomes):
            at_time = outcomes
        else:
            items = list(outcomes)

            def at_time(_: float) -> Outcome:
                return items.pop(0) if len(items) > 1 else items[0]

        def observe() -> Outcome:
            self.observed_at.append(self.now)
            outcome = at_time(self.now - 1000.0)
            self.now += self.request_s
            return outcome

        return observe


def run(clock: FakeClock, outcomes: Any, expect: Expect, **timing: Any) -> ExpectationResult:
    return eventually(
        clock.observer(outcomes),
        expect,
        Timing.model_validate(timing),
        clock=clock.clock,
        sleep=clock.sleep,
    )


def test_passes_after_streak_without_sleeping_between_matches() -> None:
    c = FakeClock()
    r = run(c, [ALLOWED, RESET, RESET, RESET], ex(outcome="denied-l4"))
    assert r.passed and r.verdict == "pass" and r.message == ""
    assert r.attempts == 4
    assert c.sleeps == [0.1]  # only after the mismatch
    # Matches follow each other immediately: one request apart.
    assert c.observed_at[2] - c.observed_at[1] == pytest.approx(0.01)
    assert c.observed_at[3] - c.observed_at[2] == pytest.approx(0.01)
    # Times are taken when each response arrives (the request takes 0.01 s here).
    assert r.time_to_first_match == pytest.approx(0.12)
    assert r.time_to_consistency == pytest.approx(0.14)
    assert [o.kind.value for o in r.observations] == ["allowed", *["denied-l4"] * 3]


def test_mismatch_resets_the_streak() -> None:
    c = FakeClock()
    seq = [RESET, RESET, ALLOWED, RESET, RESET, RESET]
    r = run(c, seq, ex(outcome="denied-l4"))
    assert r.passed
    assert r.attempts == 6
    assert c.sleeps == [0.1]
    assert r.time_to_first_match == pytest.approx(0.01)


def test_streak_and_interval_come_from_timing() -> None:
    c = FakeClock()
    r = run(c, [ALLOWED] * 3 + [RESET], ex(outcome="denied-l4"), streak=5, interval=0.5)
    assert r.passed and r.attempts == 8
    assert c.sleeps == [0.5, 0.5, 0.5]


def test_budget_exhaustion_lists_recent_observations_grouped() -> None:
    c = FakeClock()
    # allowed until t=2.3, then denied at L7: the expectation (L4 denial) never holds.
    r = run(
        c,
        lambda t: ALLOWED if t < 2.3 else RBAC,
        ex(outcome="denied-l4"),
        budget=3.0,
    )
    assert not r.passed and r.failed_in == "eventually"
    assert r.time_to_first_match is None and r.time_to_consistency is None
    assert r.elapsed >= 3.0
    # One poll every 0.11 s (0.01 s request + 0.1 s interval) while under 3 s: 0 .. 3.08.
    assert r.attempts == 29
    assert r.message == (
        "expected denied-l4, saw allowed (200, reviews-v1) ×2 then "
        "denied-l7 (403 RBAC: access denied) ×8 "
        "(last 10 of 29 observations; needed 3 in a row within 3s)"
    )


def test_budget_failure_message_short_run_and_combined_words() -> None:
    c = FakeClock(request_s=1.0)
    r = run(c, [ALLOWED, ALLOWED_V2], ex(outcome="allowed", l7=True), budget=1.5, interval=0.5)
    assert not r.passed
    assert r.message == (
        "expected allowed, l7 true, saw allowed (200, reviews-v1) then allowed (200, reviews-v2) "
        "(2 observations; needed 3 in a row within 1.5s); "
        "last mismatch: expected l7 true, saw l7 false"
    )


def test_status_and_served_by_in_the_message() -> None:
    c = FakeClock()
    r = run(c, [ALLOWED], ex(status=418), budget=0.2)
    assert r.message.startswith("expected status 418, saw allowed (200, reviews-v1) ×3 (3 obs")
    c = FakeClock()
    r = run(c, [ALLOWED], ex(served_by="v2"), budget=0.2)
    assert r.message.startswith("expected served_by v2, saw allowed (200, reviews-v1) ×3 (3 obs")


def test_a_streak_in_progress_cannot_outlive_the_budget() -> None:
    c = FakeClock(request_s=0.3)
    r = run(c, [ALLOWED, RESET], ex(outcome="denied-l4"), budget=0.95)
    # 0-0.3 mismatch, sleep; 0.4-0.7 match; 0.7-1.0 match; budget spent at 2 of 3
    assert not r.passed
    assert r.attempts == 3
    assert r.time_to_first_match == pytest.approx(0.7)
    assert r.time_to_consistency is None


def test_hold_passes_when_it_keeps_holding() -> None:
    c = FakeClock()
    r = run(c, [RESET], ex(outcome="denied-l4"), hold=1.0)
    assert r.passed
    assert r.time_to_consistency == pytest.approx(0.03)
    hold_polls = r.attempts - 3
    assert 8 <= hold_polls <= 10  # every 0.1 s (+ request time) for 1 s
    assert c.now - 1000.0 >= 1.0


def test_hold_fails_on_a_late_mismatch() -> None:
    c = FakeClock()
    # Denied from the start, but the denial stops after 0.5 s (e.g. a policy was replaced).
    r = run(c, lambda t: RESET if t < 0.4 else ALLOWED, ex(outcome="denied-l4"), hold=2.0)
    assert not r.passed and r.failed_in == "hold"
    assert r.time_to_consistency == pytest.approx(0.03)  # the streak itself completed
    # Hold polls start at 0.13, 0.24, 0.35 (denied) and 0.46 (allowed, seen at 0.47).
    assert r.message == (
        "expected denied-l4, saw denied-l4 (reset) ×6 then allowed (200, reviews-v1) "
        "(7 observations; it held 0.4s of the 2s hold)"
    )
    assert r.elapsed == pytest.approx(0.47)  # failed at the mismatch, not at the hold's end


def test_since_shifts_reported_times_not_the_budget() -> None:
    c = FakeClock()
    applied_at = c.now - 5.0
    r = eventually(
        c.observer([ALLOWED, RESET]),
        ex(outcome="denied-l4"),
        Timing(),
        clock=c.clock,
        sleep=c.sleep,
        since=applied_at,
    )
    assert r.passed
    assert r.time_to_first_match == pytest.approx(5.12)
    assert r.time_to_consistency == pytest.approx(5.14)


class AgentDown(Exception):
    pass


def test_exceptions_propagate_by_default() -> None:
    c = FakeClock()

    def observe() -> Outcome:
        raise AgentDown("port-forward closed")

    with pytest.raises(AgentDown):
        eventually(observe, ex(outcome="allowed"), Timing(), clock=c.clock, sleep=c.sleep)


def test_transient_exceptions_reset_the_streak_and_are_reported() -> None:
    c = FakeClock()
    calls: Iterator[Outcome | Exception] = iter(
        [ALLOWED, AgentDown("port-forward closed"), ALLOWED, ALLOWED, ALLOWED]
    )
    seen: list[str] = []

    def observe() -> Outcome:
        item = next(calls)
        if isinstance(item, Exception):
            raise item
        return item

    r = eventually(
        observe,
        ex(outcome="allowed"),
        Timing(),
        clock=c.clock,
        sleep=c.sleep,
        transient=(AgentDown,),
        on_observation=lambda s: seen.append(s.describe()),
    )
    assert r.passed and r.attempts == 5
    assert seen[1] == "error (AgentDown: port-forward closed)"
    assert c.sleeps == [0.1]

    c = FakeClock()

    def always_down() -> Outcome:
        raise AgentDown("refused")

    r = eventually(
        always_down,
        ex(outcome="allowed"),
        Timing(budget=0.25),
        clock=c.clock,
        sleep=c.sleep,
        transient=(AgentDown,),
    )
    assert not r.passed and r.observations == []
    assert r.message == (
        "expected allowed, saw error (AgentDown: refused) ×4 "
        "(4 observations; needed 3 in a row within 0.25s)"
    )


def test_defaults_are_the_design_defaults() -> None:
    c = FakeClock()
    r = eventually(c.observer([ALLOWED]), ex(outcome="denied-l4"), clock=c.clock, sleep=c.sleep)
    assert not r.passed
    assert c.now - 1000.0 == pytest.approx(30.0, abs=0.2)
    assert set(c.sleeps) == {0.1}
    assert "needed 3 in a row within 30s" in r.message
