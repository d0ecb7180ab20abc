"""Does an expectation hold, and keep holding? Polling over time (docs/architecture.md §4)

`eventually()` polls until the expectation holds `streak` times in a row within a budget, with
no delay after a match (the Gateway API conformance and Istio test defaults: 3 in a row, 30 s,
100 ms), then, when the timing asks for it, requires it to keep holding for `hold` seconds
("consistently": a denial must stay a denial). Each observation is judged by
`harness.judge.match.mismatch`. A failure lists the last observations, run-length grouped:

    expected denied-l4, saw allowed (200, reviews-v1) ×2 then denied-l7 (403 RBAC: access denied)

Errors raised by the observe callable propagate (an unreachable agent is a harness error, not
a mesh verdict) unless their types are passed as `transient`: those count as a failed
observation, reset the streak and appear in the failure message.

Clock and sleep are injected so that tests run instantly and deterministically.
"""  # noqa: RUF002

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from harness.judge.match import mismatch
from harness.model.describe import describe_expect
from harness.model.outcome import Outcome
from harness.model.scenario import Expect, Timing

RECENT = 10  # observations kept for the result and the failure message
_TIMES = "\N{MULTIPLICATION SIGN}"


@dataclass(frozen=True)
class Seen:
    """One poll: the outcome (None when observe raised a transient error) and its verdict."""

    at: float  # seconds since the call started
    outcome: Outcome | None
    problem: str | None  # None: the expectation held
    error: str | None = None  # "AgentUnreachable: ..." for a transient exception

    @property
    def matched(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        if self.outcome is None:
            return f"error ({self.error})"
        return self.outcome.describe()


@dataclass
class ExpectationResult:
    """What `eventually()` found."""

    passed: bool
    attempts: int  # observations made (including during the hold)
    elapsed: float  # seconds from the call start to the verdict
    time_to_first_match: float | None  # seconds from `since` (default: the call start)
    time_to_consistency: float | None  # when the streak completed, from `since`
    recent: list[Seen] = field(default_factory=list)  # the last RECENT polls, newest last
    message: str = ""  # empty when passed
    failed_in: Literal["eventually", "hold"] | None = None

    @property
    def observations(self) -> list[Outcome]:
        """The recent outcomes, newest last (ProbeResult.observations)."""
        return [s.outcome for s in self.recent if s.outcome is not None]

    @property
    def verdict(self) -> Literal["pass", "fail"]:
        return "pass" if self.passed else "fail"


def run_lengths(items: Iterable[str]) -> str:
    """`a ×2 then b`: consecutive equal descriptions grouped, in order."""  # noqa: RUF002
    parts = []
    for text, group in itertools.groupby(items):
        count = sum(1 for _ in group)
        parts.append(f"{text} {_TIMES}{count}" if count > 1 else text)
    return " then ".join(parts)


def _failure_message(expect: Expect, recent: list[Seen], attempts: int, context: str) -> str:
    """`expected X, saw A ×2 then B (last 10 of 287 observations; <context>)`."""  # noqa: RUF002
    saw = run_lengths(s.describe() for s in recent) or "nothing"
    shown = f"last {len(recent)} of {attempts}" if attempts > len(recent) else f"{attempts}"
    message = f"expected {describe_expect(expect)}, saw {saw} ({shown} observations; {context})"
    last = recent[-1] if recent else None
    # The outcome's short form hides headers, l7 and attempts: say which field failed.
    if last is not None and last.problem and _hidden_fields(expect):
        message += f"; last mismatch: {last.problem}"
    return message


def _hidden_fields(expect: Expect) -> bool:
    return any(
        v is not None for v in (expect.l7, expect.headers, expect.backend_saw, expect.attempts)
    )


class _Poller:
    """The state of one eventually() call."""

    def __init__(
        self,
        observe: Callable[[], Outcome],
        expect: Expect,
        clock: Callable[[], float],
        transient: tuple[type[Exception], ...],
        on_observation: Callable[[Seen], None] | None,
    ) -> None:
        self.observe = observe
        self.expect = expect
        self.clock = clock
        self.transient = transient
        self.on_observation = on_observation
        self.start = clock()
        self.attempts = 0
        self.recent: deque[Seen] = deque(maxlen=RECENT)

    def elapsed(self) -> float:
        return self.clock() - self.start

    def poll(self) -> Seen:
        self.attempts += 1
        try:
            outcome = self.observe()
        except self.transient as exc:
            seen = Seen(self.elapsed(), None, "observation failed", f"{type(exc).__name__}: {exc}")
        else:
            seen = Seen(self.elapsed(), outcome, mismatch(outcome, self.expect))
        self.recent.append(seen)
        if self.on_observation is not None:
            self.on_observation(seen)
        return seen


def eventually(
    observe: Callable[[], Outcome],
    expect: Expect,
    timing: Timing | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    *,
    since: float | None = None,
    transient: tuple[type[Exception], ...] = (),
    on_observation: Callable[[Seen], None] | None = None,
) -> ExpectationResult:
    """Poll `observe()` until `expect` holds `timing.streak` times in a row, then for `hold`.

    * Every observation is checked with `mismatch()`. A match is followed immediately by
      the next observation (no sleep); a mismatch resets the streak and sleeps
      `timing.interval`.
    * A new observation is only started while less than `timing.budget` seconds have passed
      since the call; the first is always made.
    * With `timing.hold > 0`, after the streak the expectation must keep holding, polled every
      `interval`, until `hold` seconds have passed; any mismatch fails ("consistently").
    * `since`: a `clock()` value the reported times are measured from (e.g. the end of the
      step's apply, for propagation latency); the budget always starts at the call.
    * Exceptions from `observe` propagate, except instances of `transient`, which count as a
      mismatch. `on_observation` sees every poll (for live narration).
    """
    timing = timing or Timing()
    p = _Poller(observe, expect, clock, transient, on_observation)
    origin = p.start if since is None else since
    first_match: float | None = None
    streak = 0
    # Read once, not per poll (the loop's calls to observe, clock and sleep are unchanged).
    poll, start = p.poll, p.start
    need, budget, interval = timing.streak, timing.budget, timing.interval
    while True:
        seen = poll()
        if seen.problem is None:  # matched
            if first_match is None:
                first_match = start + seen.at - origin
            streak += 1
            if streak >= need:
                break
        else:
            streak = 0
        if clock() - start >= budget:  # p.elapsed()
            context = f"needed {timing.streak} in a row within {timing.budget:g}s"
            return _result(p, first_match, None, (context, "eventually"))
        if seen.problem is not None:
            sleep(interval)
    consistent = p.start + seen.at - origin
    if timing.hold > 0:
        hold_start = p.elapsed()
        while p.elapsed() - hold_start < timing.hold:
            sleep(timing.interval)
            seen = p.poll()
            if not seen.matched:
                broke = seen.at - hold_start
                context = f"it held {broke:.1f}s of the {timing.hold:g}s hold"
                return _result(p, first_match, consistent, (context, "hold"))
    return _result(p, first_match, consistent, None)


def _result(
    p: _Poller,
    first_match: float | None,
    consistent: float | None,
    failure: tuple[str, Literal["eventually", "hold"]] | None,
) -> ExpectationResult:
    """A passing result when `failure` is None, else one with its message."""
    recent = list(p.recent)
    message = ""
    phase: Literal["eventually", "hold"] | None = None
    if failure is not None:
        context, phase = failure
        message = _failure_message(p.expect, recent, p.attempts, context)
    return ExpectationResult(
        passed=failure is None,
        attempts=p.attempts,
        elapsed=p.elapsed(),
        time_to_first_match=first_match,
        time_to_consistency=consistent,
        recent=recent,
        message=message,
        failed_in=phase,
    )
