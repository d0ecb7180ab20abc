"""Does an observation satisfy an expectation, and does it keep doing so? (docs/architecture.md §4)

`mismatch()` checks one `Outcome` against an `Expect`. `eventually()` polls until the
expectation holds `streak` times in a row within a budget, with no delay after a match
(the Gateway API conformance and Istio test defaults: 3 in a row, 30 s, 100 ms), then, when
the timing asks for it, requires it to keep holding for `hold` seconds ("consistently": a
denial must stay a denial). A failure lists the last observations, run-length grouped:

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from harness.model.outcome import Kind, Outcome
from harness.model.scenario import Expect, Timing

RECENT = 10  # observations kept for the result and the failure message
_TIMES = "\N{MULTIPLICATION SIGN}"


# -- one observation ---------------------------------------------------------------------


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _header_mismatches(want: Mapping[str, str], have: Mapping[str, str], what: str) -> list[str]:
    got = _lower(have)
    problems = []
    for name, value in want.items():
        seen = got.get(name.lower())
        if seen is None:
            problems.append(f"expected {what} {name}: {value}, it was absent")
        elif seen != value:
            problems.append(f"expected {what} {name}: {value}, saw {seen!r}")
    return problems


def _split_mismatch(outcome: Outcome, split: Mapping[str, float]) -> str | None:
    # One observation of a split: a 2xx from one of the backends with a positive weight.
    if outcome.kind is not Kind.ALLOWED:
        return f"expected allowed (split), saw {outcome.describe()}"
    live = [name for name, weight in split.items() if weight > 0]
    if not any(outcome.served_by_matches(name) for name in live):
        return f"expected served by one of {', '.join(live)}, saw {outcome.served_by or 'none'}"
    return None


def mismatch(outcome: Outcome, expect: Expect) -> str | None:
    """None when `outcome` satisfies every field set in `expect`, else a short reason.

    `status` is the status the upstream (or a proxy in the path) answered: the agent's own
    502 for a failed upstream (x-probe-error) never matches it. `split` is a distribution;
    for a single observation it means "2xx from a backend with a positive weight".
    """
    problems: list[str] = []
    if expect.outcome is not None and outcome.kind.value != expect.outcome:
        problems.append(f"expected {expect.outcome}, saw {outcome.describe()}")
    if expect.status is not None and (
        outcome.status != expect.status or outcome.probe_error is not None
    ):
        problems.append(f"expected status {expect.status}, saw {outcome.describe()}")
    if expect.served_by is not None and not outcome.served_by_matches(expect.served_by):
        problems.append(
            f"expected served_by {expect.served_by}, saw {outcome.served_by or 'no x-served-by'}"
        )
    if expect.split is not None:
        split_problem = _split_mismatch(outcome, expect.split)
        if split_problem:
            problems.append(split_problem)
    if expect.l7 is not None and outcome.l7 != expect.l7:
        problems.append(f"expected l7 {_bool(expect.l7)}, saw l7 {_bool(outcome.l7)}")
    if expect.headers:
        problems += _header_mismatches(expect.headers, outcome.headers, "response header")
    if expect.backend_saw:
        problems += _header_mismatches(
            expect.backend_saw, outcome.backend_headers, "backend to see"
        )
    if expect.attempts is not None and outcome.attempt != expect.attempts:
        seen = "no attempt count" if outcome.attempt is None else str(outcome.attempt)
        problems.append(f"expected attempts {expect.attempts}, saw {seen}")
    return "; ".join(problems) if problems else None


def _bool(value: bool) -> str:
    return "true" if value else "false"


def describe_expect(expect: Expect) -> str:
    """The expectation in the scenario's own words: `allowed, l7 true`, `status 418`."""
    parts: list[str] = []
    if expect.outcome is not None:
        parts.append(expect.outcome)
    if expect.status is not None:
        parts.append(f"status {expect.status}")
    if expect.served_by is not None:
        parts.append(f"served_by {expect.served_by}")
    if expect.split is not None:
        weights = " / ".join(f"{k} {v:g}" for k, v in expect.split.items())
        parts.append(f"split {weights} ±{expect.tolerance:g}")
    if expect.l7 is not None:
        parts.append(f"l7 {_bool(expect.l7)}")
    for name, value in (expect.headers or {}).items():
        parts.append(f"header {name}: {value}")
    for name, value in (expect.backend_saw or {}).items():
        parts.append(f"backend saw {name}: {value}")
    if expect.attempts is not None:
        parts.append(f"attempts {expect.attempts}")
    return ", ".join(parts)


# -- polling -----------------------------------------------------------------------------


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
    while True:
        seen = p.poll()
        if seen.matched:
            if first_match is None:
                first_match = p.start + seen.at - origin
            streak += 1
            if streak >= timing.streak:
                break
        else:
            streak = 0
        if p.elapsed() >= timing.budget:
            context = f"needed {timing.streak} in a row within {timing.budget:g}s"
            return _result(p, first_match, None, (context, "eventually"))
        if not seen.matched:
            sleep(timing.interval)
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
