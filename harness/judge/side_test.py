"""The one-sided sequential likelihood-ratio tests a `SplitCheck` combines (the method is
described in `harness.judge.split`): one backend's share, over or under its expected p0."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

Side = Literal["over", "under"]
SIDES: tuple[Side, ...] = ("over", "under")
SIGN: dict[Side, int] = {"over": 1, "under": -1}
# Prior weight of the alternatives at distance tol * 2**j on a failure side: most on twice
# the tolerance, some on the boundary, the rest spread over grosser errors.
_WEIGHT_BOUNDARY = 0.15
_WEIGHT_DOUBLE = 0.7
_WEIGHT_REST = 0.15
_EPS = 1e-12
_MEMO_STATES = 1 << 14  # answers kept per SideTest (shared by the checks: `side_test`)
HITS_SPAN = 1 << 32  # SideTest.known's keys: n << 32 | hits for 0 <= hits < HITS_SPAN
CROSSED = math.inf  # SideTest.state(): the mixture crossed (a boundary ratio is finite)


@dataclass(frozen=True)
class _Alternative:
    """A share q on one side of p0, as per-sample log likelihood-ratio increments."""

    log_weight: float
    log_hit: float  # log(q / p0): added per sample of the tested backend
    log_miss: float  # log((1 - q) / (1 - p0)): added per sample of any other backend

    def llr(self, hits: int, misses: int) -> float:
        # Multiply only counts that occurred: q = 0 or 1 has a log 0 factor (-inf).
        total = 0.0
        if hits:
            total += hits * self.log_hit
        if misses:
            total += misses * self.log_miss
        return total


@dataclass(frozen=True)
class SideTest:
    """One one-sided test: is `backend`'s share on `side` of p0 by the tolerance or more?"""

    backend: str
    side: Side
    p0: float
    alternatives: tuple[_Alternative, ...]
    boundary: _Alternative  # q = p0 +- tol: the PASS side's likelihood ratio
    log_fail: float  # log(m / alpha)
    _memo: dict[int, float] = field(default_factory=dict, init=False, repr=False, compare=False)
    # (log_weight, log_hit, log_miss) per alternative, and log(count): the hot path's
    _coefficients: tuple[tuple[float, float, float], ...] = field(
        default=(), init=False, repr=False, compare=False
    )
    _log_count: float = field(default=0.0, init=False, repr=False, compare=False)
    # known(n << 32 | hits): state(hits, n) when memoised, else None (a check's hot path
    # asks it before calling state(), which computes and stores the answer).
    known: Callable[[int], float | None] = field(
        default=lambda key: None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        coefficients = tuple((a.log_weight, a.log_hit, a.log_miss) for a in self.alternatives)
        object.__setattr__(self, "_coefficients", coefficients)
        object.__setattr__(self, "_log_count", math.log(len(coefficients)))
        object.__setattr__(self, "known", self._memo.get)

    def _terms(self, hits: int, n: int) -> list[float]:
        # w + hits * log_hit + misses * log_miss, multiplying only counts that occurred
        # (q = 0 or 1 has a log 0 factor: 0 * -inf would be nan).
        misses = n - hits
        if hits and misses:
            return [w + hits * a + misses * b for w, a, b in self._coefficients]
        if hits:
            return [w + hits * a for w, a, _ in self._coefficients]
        if misses:
            return [w + misses * b for w, _, b in self._coefficients]
        return [w for w, _, _ in self._coefficients]

    def log_evidence(self, hits: int, n: int) -> float:
        """log of the mixture likelihood ratio M_n = sum_j w_j L(q_j) / L(p0)."""
        terms = self._terms(hits, n)
        top = max(terms)
        if top == -math.inf:
            return top
        return top + math.log(sum([math.exp(t - top) for t in terms]))

    def crosses(self, hits: int, n: int) -> bool:
        """M_n >= m / alpha; skips the exact sum when even len * max term is below it, or
        when the max term alone reaches it (the sum is at least that term)."""
        terms = self._terms(hits, n)
        top = max(terms)
        if top + self._log_count < self.log_fail:
            return False  # also when top is -inf
        if math.inf > top >= self.log_fail:  # (+inf only from impossible counts: nan below)
            return True
        # log_evidence's sum, from the same terms (not computed twice).
        return top + math.log(sum([math.exp(t - top) for t in terms])) >= self.log_fail

    def log_boundary_ratio(self, hits: int, n: int) -> float:
        return self.boundary.llr(hits, n - hits)

    def state(self, hits: int, n: int) -> float:
        """CROSSED if `crosses`, else `log_boundary_ratio` (memoised: one float per state)."""
        if not 0 <= hits < HITS_SPAN:  # no key of its own (never in a real run)
            return CROSSED if self.crosses(hits, n) else self.log_boundary_ratio(hits, n)
        key = n << 32 | hits  # a distinct int per state
        known = self._memo.get(key)
        if known is None:
            known = CROSSED if self.crosses(hits, n) else self.log_boundary_ratio(hits, n)
            if len(self._memo) >= _MEMO_STATES:
                self._memo.clear()
            self._memo[key] = known
        return known

    def outside(self, hits: int, n: int, tol: float) -> bool:
        """The point estimate is beyond the tolerance on this side."""
        share = hits / n
        return share > self.p0 + tol if self.side == "over" else share < self.p0 - tol


def _log_ratio(num: float, den: float) -> float:
    return math.log(num / den) if num > 0 else -math.inf


def _alternative(q: float, p0: float, weight: float) -> _Alternative:
    return _Alternative(
        log_weight=math.log(weight),
        log_hit=_log_ratio(q, p0),
        # p0 == 1: a sample of another backend already failed the check (zero weight).
        log_miss=_log_ratio(1.0 - q, 1.0 - p0) if p0 < 1.0 else 0.0,
    )


def side_alternatives(p0: float, tol: float, sign: int) -> list[tuple[float, float]] | None:
    """(q, prior weight) on one side, or None when the boundary is outside [0, 1]."""
    limit = 1.0 - p0 if sign > 0 else p0
    if tol >= limit - _EPS:
        return None
    distances: list[float] = []
    d = tol
    while d < limit - _EPS:
        distances.append(d)
        d *= 2
    distances.append(limit)  # the extreme: this backend gets everything / nothing
    raw = [_WEIGHT_BOUNDARY, _WEIGHT_DOUBLE][: len(distances)]
    rest = len(distances) - len(raw)
    if rest:
        raw += [_WEIGHT_REST / rest] * rest
    total = sum(raw)
    return [(p0 + sign * dist, w / total) for dist, w in zip(distances, raw, strict=True)]


@lru_cache(maxsize=64)
def side_test(backend: str, side: Side, p0: float, tol: float, log_fail: float) -> SideTest:
    """The test for these parameters, shared by every check that has it (and its memo)."""
    alternatives = side_alternatives(p0, tol, SIGN[side])
    assert alternatives is not None  # _build_tests plans only the sides that have one
    return SideTest(
        backend=backend,
        side=side,
        p0=p0,
        alternatives=tuple(_alternative(q, p0, w) for q, w in alternatives),
        boundary=_alternative(p0 + SIGN[side] * tol, p0, 1.0),
        log_fail=log_fail,
    )
