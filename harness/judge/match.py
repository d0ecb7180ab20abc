"""Does one observation satisfy an expectation? (docs/architecture.md §4)

`mismatch()` checks one `Outcome` against an `Expect` and words what did not hold; polling
over time is `harness.judge.eventually`.
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.model.outcome import Kind, Outcome
from harness.model.scenario import Expect


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


def gate_expectation(gate: Expect) -> Expect:
    """A split's gate as judged: its fields and a 2xx (`allowed`).

    The gate's signal is usually a response header the new route adds; Envoy adds route
    response headers to its own local replies too (a 503 with no healthy upstream), so
    without the 2xx a reply that never reached a backend would open the gate.
    """
    if gate.outcome is Kind.ALLOWED:
        return gate
    return gate.model_copy(update={"outcome": Kind.ALLOWED})
