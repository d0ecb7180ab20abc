"""Split statistics: does traffic follow the configured weights? (docs/architecture.md §4, `split:`)

A split probe asks "is the weighted route live, with the weights I configured?". Envoy
(sidecar or waypoint) picks a weighted cluster by an unbiased random draw per request, so
when the route is live and right, each sample's backend is an independent draw with exactly
the configured shares. When it is not (route not yet propagated, wrong weights, route
ignored) the shares are typically far off: 50/50 round robin, 100/0, 80/20 for 90/10.

Method: sequential likelihood-ratio tests, valid at any stopping time
---------------------------------------------------------------------
For each backend with expected share p0 (0 < p0 < 1) its count after n samples is
Binomial(n, p) and the hypotheses are

    H0: p = p0                  the route is live with the configured weights
    H1: |p - p0| >= tol         the share is off by the tolerance or more

with H1 split into two one-sided tests ("over", "under"). Two backends mirror each other
(one's "over" is the other's "under"), so a two-way split tests one backend: m = 2 tests;
k >= 3 backends test each, m = 2k (Bonferroni).

* FAIL as soon as some test's mixture likelihood ratio M_n = sum_j w_j L(q_j) / L(p0)
  reaches m / alpha. The q_j are shares on that side at distances tol, 2 tol, 4 tol, ...
  and the extreme (share 0 or 1); the prior weights w_j put 70% on 2 tol (a typical wrong
  weight, 80/20 for 90/10), 15% on the boundary and 15% on grosser errors. Under H0 each M_n
  is a non-negative martingale of mean 1, so by Ville's inequality it ever reaches m / alpha
  with probability <= alpha / m: **false-failure rate <= alpha (default 0.1%) when the truth
  is the expected split**, however long sampling runs.
* PASS as soon as every test's likelihood ratio at its boundary, L(p0 +- tol) / L(p0), is at
  most beta, once at least `pass_floor` samples were taken (the information bound below: no
  test passes a correct split in fewer samples on average). The same inequality under the
  boundary share (a supermartingale beyond it) gives: **a split off by the tolerance or more
  passes before the cap with probability <= beta (default 25%)**; twice the tolerance off
  passes in well under 1% of runs (the floor keeps that so when the tolerance is large
  against a small weight, e.g. 90/10 +-10pp, where a short run of misses would pass).
* A single sample from a zero-weight backend, or from a backend not in the split, FAILS at
  once: "receives nothing" is a rule, not a statistic. (A few percent leaking to a
  zero-weight backend can go unseen in a short sample.)
* Cap (`max_samples`; by default `split_cap()`, derived from the weights and the tolerance;
  a probe's `samples:` overrides it): without a decision by then, H0 was not rejected at
  level alpha, so the verdict is PASS (`decided_at_cap`), and the reason names any share
  whose point estimate is outside the tolerance. This keeps the alpha bound exact. The
  derived cap is `CAP_FACTOR` times the information bound (`information_bound()`: Wald's
  lower bound on the expected samples of any sequential test with these error rates to pass
  a correct split), which keeps the detection of an error of twice the tolerance >= 99% from
  +-2pp to +-10pp; `min_samples()` is the smallest cap that still does (lint warns below it).

Truths strictly between p0 and the boundary are the indifference zone: the pass rate falls
from 99.9% at p0 to about 30% at the boundary, with more samples. The operating figures per
tolerance (false fail, detection, samples) are in docs/statistics.md, computed exactly by
`harness.judge.operating` and printed by benchmarks/split_check.py.

The gate
--------
Sampling must not start while the route is still propagating, or a correct split fails on
a mixture of old and new behaviour (the flake conformance papers over with retries). The
runner first runs `harness.judge.eventually.eventually()` on the probe's `gate` expectation
(a signal only the new route produces, e.g. a header its filter adds, and always a 2xx:
`harness.judge.match.gate_expectation`), and only then feeds samples into a `SplitCheck`
through `run_split()`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from harness.judge.side_test import (
    CROSSED,
    HITS_SPAN,
    SIDES,
    SIGN,
    SideTest,
    side_alternatives,
    side_test,
)
from harness.model.outcome import Kind, Outcome

if TYPE_CHECKING:
    from harness.model.scenario import Expect

SplitVerdict = Literal["pass", "fail", "undecided"]

DEFAULT_ALPHA = 0.001  # bound on the false-failure rate when the truth is the expected split
DEFAULT_BETA = 0.25  # bound on passing (before the cap) a split off by the tolerance
CAP_FACTOR = 8.0  # derived cap = CAP_FACTOR x information bound
MIN_FACTOR = 5.0  # below MIN_FACTOR x information bound the detection guarantee is lost
MIN_CAP = 100
PASS_FLOOR = 1.0  # no PASS before PASS_FLOOR x information bound samples
_TIMES = "\N{MULTIPLICATION SIGN}"


def _kl(p: float, q: float) -> float:
    """Kullback-Leibler divergence of Bernoulli(q) from Bernoulli(p)."""
    total = 0.0
    if p > 0:
        total += p * math.log(p / q)
    if p < 1:
        total += (1 - p) * math.log((1 - p) / (1 - q))
    return total


def _format_ratio(log_ratio: float) -> str:
    if log_ratio < 700:  # exp() overflows beyond ~709
        return f"{math.exp(log_ratio):.3g}"
    return f"1e{log_ratio / math.log(10):.0f}"


def _normalise(expected: Mapping[str, float]) -> dict[str, float]:
    if not expected:
        raise ValueError("expected split is empty")
    if any(w < 0 or not math.isfinite(w) for w in expected.values()):
        raise ValueError("split weights must be finite and not negative")
    total = sum(expected.values())
    if total <= 0:
        raise ValueError("split weights must not all be zero")
    return {k: w / total for k, w in expected.items()}


@dataclass(frozen=True)
class Decision:
    """A verdict, why, and whether the cap forced it."""

    verdict: SplitVerdict
    reason: str = ""
    at_cap: bool = False


_UNDECIDED = Decision("undecided")  # frozen: one instance for the hot path


class SplitCheck:
    """Sequential check of an observed traffic split against expected weights.

    `expected` maps backend names (a version such as `v2`, matched like
    `Outcome.served_by_matches`, or a full `reviews-v2`) to weights, as fractions or
    percentages (they are divided by their sum). `tolerance` is a fraction (0.05 = 5pp).
    Feed it `observe(served_by)`; `verdict` stays "undecided" until the evidence decides
    (or the cap is reached), then never changes.
    """

    def __init__(
        self,
        expected: Mapping[str, float],
        tolerance: float = 0.05,
        *,
        max_samples: int | None = None,
        alpha: float = DEFAULT_ALPHA,
        beta: float = DEFAULT_BETA,
    ) -> None:
        if not 0 < tolerance < 1:
            raise ValueError(f"tolerance is a fraction in (0, 1), got {tolerance:g}")
        if max_samples is not None and max_samples < 1:
            raise ValueError("max_samples must be at least 1")
        if not (0 < alpha < 1 and 0 < beta < 1):
            raise ValueError("alpha and beta must be in (0, 1)")
        self.expected = _normalise(expected)
        self.tolerance = tolerance
        self.alpha = alpha
        self.beta = beta
        self.counts: dict[str, int] = {}
        self.others: dict[str, int] = {}  # non-2xx outcomes seen while sampling
        self.samples = 0
        self._decision = _UNDECIDED
        self.log_pass = math.log(beta)
        self._resolved: dict[str, str] = {}
        self.tests = self._build_tests()
        self.max_samples = self._derived_cap() if max_samples is None else max_samples
        self.pass_floor = max(1, math.ceil(PASS_FLOOR * self.information_bound()))

    @classmethod
    def from_expect(cls, expect: Expect, *, max_samples: int | None = None) -> SplitCheck:
        """From a probe's `expect` (split in percent, tolerance in points); None: derived cap."""
        if expect.split is None:
            raise ValueError("expectation has no split")
        return cls(expect.split, expect.tolerance / 100.0, max_samples=max_samples)

    def _build_tests(self) -> list[SideTest]:
        positive = sorted(((k, p) for k, p in self.expected.items() if p > 0), key=lambda kp: kp[1])
        # Two backends mirror each other (one's "over" is the other's "under"): test one.
        tested = positive[:1] if len(positive) == 2 else positive
        plans = [
            (name, side, p0)
            for name, p0 in tested
            for side in SIDES
            if side_alternatives(p0, self.tolerance, SIGN[side]) is not None
        ]
        m = max(len(plans), 1)  # Bonferroni over the one-sided tests
        log_fail = math.log(m / self.alpha)
        return [side_test(name, side, p0, self.tolerance, log_fail) for name, side, p0 in plans]

    def information_bound(self) -> float:
        """Wald's lower bound on E[samples] to pass a correct split at these error rates.

        Each one-sided test must accept, so the bound is the largest over the tests of
        ((1-a) log((1-a)/beta) + a log(a/(1-beta))) / KL(p0 || p0 +- tol), a = alpha / m.
        """
        if not self.tests:
            return 1.0
        a = self.alpha / len(self.tests)
        b = self.beta
        numerator = (1 - a) * math.log((1 - a) / b) + a * math.log(a / (1 - b))
        return max(numerator / _kl(t.p0, t.p0 + SIGN[t.side] * self.tolerance) for t in self.tests)

    def _derived_cap(self) -> int:
        return max(MIN_CAP, math.ceil(CAP_FACTOR * self.information_bound()))

    def min_samples(self) -> int:
        """The smallest cap that keeps the documented detection (docs/statistics.md)."""
        return max(MIN_CAP, math.ceil(MIN_FACTOR * self.information_bound()))

    # -- feeding -------------------------------------------------------------------------

    def resolve(self, served_by: str) -> str:
        """The expected backend a served_by names, or served_by itself when none does."""
        key = self._resolved.get(served_by)
        if key is None:
            matches = [k for k in self.expected if served_by.endswith(f"-{k}")]
            if served_by in self.expected:
                key = served_by
            else:
                key = max(matches, key=len) if matches else served_by
            self._resolved[served_by] = key
        return key

    def observe(self, backend: str) -> None:
        """One sample served by `backend` (echo's x-served-by, e.g. `reviews-v2`)."""
        key = self._resolved.get(backend) or self.resolve(backend)
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        self.samples += 1
        if self._decision is _UNDECIDED:
            if self.expected.get(key):
                # Undecided so far, so no other outcome and every backend counted has a
                # positive weight (else it failed), as has this one: only the tests decide.
                self._decision = self._judge(counts, self.samples)
            else:
                self._decision = self.evaluate(counts, self.samples, self.others)

    def observe_other(self, description: str) -> None:
        """A sample that was not a 2xx from a backend (e.g. `status 503`): fails the split."""
        self.others[description] = self.others.get(description, 0) + 1
        self.samples += 1
        self._update()

    def _update(self) -> None:
        if self._decision.verdict == "undecided":
            self._decision = self.evaluate(self.counts, self.samples, self.others)

    # -- deciding ------------------------------------------------------------------------

    def evaluate(
        self,
        counts: Mapping[str, int],
        samples: int | None = None,
        others: Mapping[str, int] | None = None,
    ) -> Decision:
        """The decision for these counts (pure: the benchmark's exact recursion uses it)."""
        n = sum(counts.values()) + sum((others or {}).values()) if samples is None else samples
        if others:
            first = next(iter(others))
            return Decision("fail", f"a sample was not served by a backend: {first}")
        for key, count in counts.items():
            if count and not self.expected.get(key):  # not expected, or a zero weight
                what = "zero-weight" if key in self.expected else "unexpected"
                return Decision("fail", f"{what} backend {key} served {count} request(s)")
        return self._judge(counts, n)

    def _judge(self, counts: Mapping[str, int], n: int) -> Decision:
        """`evaluate` once no sample failed the split by itself: the tests decide."""
        accept = n >= self.pass_floor
        for test in self.tests:
            hits = counts.get(test.backend, 0)
            log_boundary = test.known(n << 32 | hits) if 0 <= hits < HITS_SPAN else None
            if log_boundary is None:
                log_boundary = test.state(hits, n)
            if log_boundary == CROSSED:
                ratio = _format_ratio(test.log_evidence(hits, n))
                return Decision(
                    "fail",
                    f"{test.backend} share {hits / n:.1%} after {n} samples is {test.side} "
                    f"{test.p0 * 100:g}% ±{self.tolerance * 100:g}pp (likelihood ratio {ratio})",
                )
            if log_boundary > self.log_pass:
                accept = False
        if accept:
            return Decision(
                "pass", f"every share within ±{self.tolerance * 100:g}pp after {n} samples"
            )
        if n >= self.max_samples:
            return self._at_cap(counts, n)
        return _UNDECIDED

    def _at_cap(self, counts: Mapping[str, int], n: int) -> Decision:
        # Not rejected at level alpha: pass, and say so when a point estimate is outside.
        outside = [
            f"{t.backend} {counts.get(t.backend, 0) / n:.1%} vs {t.p0:.1%}"
            for t in self.tests
            if t.outside(counts.get(t.backend, 0), n, self.tolerance)
        ]
        head = f"cap of {n} samples reached without significant deviation"
        if outside:
            return Decision(
                "pass",
                f"{head}, although {', '.join(outside)} is outside the tolerance "
                "(raise the probe's samples for a sharper answer)",
                True,
            )
        return Decision("pass", f"{head}; every share within the tolerance", True)

    @property
    def verdict(self) -> SplitVerdict:
        return self._decision.verdict

    @property
    def reason(self) -> str:
        return self._decision.reason

    @property
    def decided_at_cap(self) -> bool:
        return self._decision.at_cap

    def shares(self) -> dict[str, float]:
        """Observed share of every expected or observed backend."""
        if not self.samples:
            return dict.fromkeys(self.expected, 0.0)
        names = [*self.expected, *(k for k in self.counts if k not in self.expected)]
        return {k: self.counts.get(k, 0) / self.samples for k in names}

    def summary(self) -> str:
        """`pass after 146 samples: v1 90.4% (expected 90% ±5pp), v2 9.6% (expected 10% ±5pp)`."""
        tol = f"±{self.tolerance * 100:g}pp"
        parts = []
        for name, share in self.shares().items():
            if name in self.expected:
                parts.append(f"{name} {share:.1%} (expected {self.expected[name] * 100:g}% {tol})")
            else:
                parts.append(f"{name} {share:.1%} (unexpected)")
        parts += [f"{desc} {_TIMES}{count}" for desc, count in self.others.items()]
        text = f"{self.verdict} after {self.samples} samples: {', '.join(parts)}"
        if (self.verdict == "fail" or self.decided_at_cap) and self.reason:
            text += f" — {self.reason}"
        return text


def run_split(
    sample: Callable[[], Outcome],
    check: SplitCheck,
    *,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> SplitCheck:
    """Feed `sample()` outcomes into `check` until it decides (at the latest at its cap).

    Call it only after the gate expectation holds (see the module docstring). A 2xx with an
    `x-served-by` counts for that backend; anything else (a denial, 503, an agent error, a
    2xx without `x-served-by`) is recorded in `check.others` and fails the split.
    Exceptions from `sample` propagate. `on_outcome` sees every outcome (for reports).
    """
    while check.verdict == "undecided":
        outcome = sample()
        if on_outcome is not None:
            on_outcome(outcome)
        if outcome.kind is Kind.ALLOWED and outcome.served_by:
            check.observe(outcome.served_by)
        else:
            label = (
                outcome.describe()
                if outcome.kind is not Kind.ALLOWED
                else "2xx without x-served-by"
            )
            check.observe_other(label)
    return check


def split_cap(expected: Mapping[str, float], tolerance: float) -> int:
    """The derived sample cap for these weights and tolerance (a fraction)."""
    return SplitCheck(expected, tolerance).max_samples


def min_samples(expected: Mapping[str, float], tolerance: float) -> int:
    """The fewest `samples:` that keep the detection guarantee (for lint's warning)."""
    return SplitCheck(expected, tolerance).min_samples()
