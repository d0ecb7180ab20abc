"""SplitCheck's memoised decision gives the verdicts and messages of the plain computation.

`Reference` below is the decision as it was before the memo (every state computed afresh,
nothing shared between checks), kept here, not in the package. The check and the reference
are driven over seeded random count sequences for every weight set and tolerance the tests
and benchmarks use, and must agree on every Decision (verdict, reason, at_cap) at every
state, whether the memo answered it or not.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

import pytest

import harness.judge.side_test as side_test_module
from harness.judge.split import Decision, SplitCheck

# --- the reference: the decision computed afresh at every state ---------------------------


@dataclass(frozen=True)
class RefAlternative:
    log_weight: float
    log_hit: float
    log_miss: float


@dataclass(frozen=True)
class RefTest:
    backend: str
    side: str
    p0: float
    alternatives: tuple[RefAlternative, ...]
    boundary: RefAlternative
    log_fail: float

    def terms(self, hits: int, n: int) -> list[float]:
        misses = n - hits
        return [
            a.log_weight
            + (hits * a.log_hit if hits else 0.0)
            + (misses * a.log_miss if misses else 0.0)
            for a in self.alternatives
        ]

    def log_evidence(self, hits: int, n: int) -> float:
        terms = self.terms(hits, n)
        top = max(terms)
        if top == -math.inf:
            return top
        return top + math.log(sum(math.exp(t - top) for t in terms))

    def crosses(self, hits: int, n: int) -> bool:
        terms = self.terms(hits, n)
        if max(terms) + math.log(len(terms)) < self.log_fail:
            return False
        return self.log_evidence(hits, n) >= self.log_fail

    def log_boundary_ratio(self, hits: int, n: int) -> float:
        b, misses = self.boundary, n - hits
        return (hits * b.log_hit if hits else 0.0) + (misses * b.log_miss if misses else 0.0)


def _log_ratio(num: float, den: float) -> float:
    return math.log(num / den) if num > 0 else -math.inf


def _ref_alternative(q: float, p0: float, weight: float) -> RefAlternative:
    log_miss = _log_ratio(1.0 - q, 1.0 - p0) if p0 < 1.0 else 0.0
    return RefAlternative(math.log(weight), _log_ratio(q, p0), log_miss)


def _ref_side(p0: float, tol: float, sign: int) -> list[tuple[float, float]] | None:
    limit = 1.0 - p0 if sign > 0 else p0
    if tol >= limit - 1e-12:
        return None
    distances: list[float] = []
    d = tol
    while d < limit - 1e-12:
        distances.append(d)
        d *= 2
    distances.append(limit)
    raw = [0.15, 0.7][: len(distances)]
    rest = len(distances) - len(raw)
    if rest:
        raw += [0.15 / rest] * rest
    total = sum(raw)
    return [(p0 + sign * dist, w / total) for dist, w in zip(distances, raw, strict=True)]


def _ratio_text(log_ratio: float) -> str:
    if log_ratio < 700:
        return f"{math.exp(log_ratio):.3g}"
    return f"1e{log_ratio / math.log(10):.0f}"


class Reference:
    """The decision of `check`'s parameters, computed afresh (no memo, no shared tests)."""

    def __init__(self, check: SplitCheck) -> None:
        self.expected = dict(check.expected)
        self.tolerance = tol = check.tolerance
        self.max_samples = check.max_samples
        self.pass_floor = check.pass_floor
        self.log_pass = math.log(check.beta)
        positive = sorted(((k, p) for k, p in self.expected.items() if p > 0), key=lambda kp: kp[1])
        tested = positive[:1] if len(positive) == 2 else positive
        plans = []
        for name, p0 in tested:
            for side, sign in (("over", 1), ("under", -1)):
                alternatives = _ref_side(p0, tol, sign)
                if alternatives is not None:
                    plans.append((name, side, sign, p0, alternatives))
        log_fail = math.log(max(len(plans), 1) / check.alpha)
        self.tests = [
            RefTest(
                name,
                side,
                p0,
                tuple(_ref_alternative(q, p0, w) for q, w in alternatives),
                _ref_alternative(p0 + sign * tol, p0, 1.0),
                log_fail,
            )
            for name, side, sign, p0, alternatives in plans
        ]

    def evaluate(self, counts: Mapping[str, int], n: int, others: Mapping[str, int]) -> Decision:
        if others:
            return Decision("fail", f"a sample was not served by a backend: {next(iter(others))}")
        for key, count in counts.items():
            if count and key not in self.expected:
                return Decision("fail", f"unexpected backend {key} served {count} request(s)")
            if count and self.expected[key] == 0:
                return Decision("fail", f"zero-weight backend {key} served {count} request(s)")
        tol = f"±{self.tolerance * 100:g}pp"
        accept = n >= self.pass_floor
        for test in self.tests:
            hits = counts.get(test.backend, 0)
            if test.crosses(hits, n):
                ratio = _ratio_text(test.log_evidence(hits, n))
                return Decision(
                    "fail",
                    f"{test.backend} share {hits / n:.1%} after {n} samples is {test.side} "
                    f"{test.p0 * 100:g}% {tol} (likelihood ratio {ratio})",
                )
            if test.log_boundary_ratio(hits, n) > self.log_pass:
                accept = False
        if accept:
            return Decision("pass", f"every share within {tol} after {n} samples")
        if n < self.max_samples:
            return Decision("undecided")
        outside = []
        for t in self.tests:
            share = counts.get(t.backend, 0) / n
            off = (
                share > t.p0 + self.tolerance if t.side == "over" else share < t.p0 - self.tolerance
            )
            if off:
                outside.append(f"{t.backend} {share:.1%} vs {t.p0:.1%}")
        head = f"cap of {n} samples reached without significant deviation"
        if outside:
            return Decision(
                "pass",
                f"{head}, although {', '.join(outside)} is outside the tolerance "
                "(raise the probe's samples for a sharper answer)",
                True,
            )
        return Decision("pass", f"{head}; every share within the tolerance", True)


# --- the weight sets and tolerances of the tests and benchmarks ----------------------------

Config = tuple[dict[str, float], float, int | None]
_TWO_WAY: list[Config] = [
    ({"v1": 100 - p, "v2": p}, t / 100, None) for p in (10, 20, 30, 50) for t in range(2, 11)
]
_OTHERS: list[Config] = [
    ({"v1": 90, "v2": 10}, 0.05, 150),
    ({"v1": 50, "v2": 50}, 0.10, 120),
    ({"v1": 70, "v2": 30}, 0.03, 100),
    ({"v1": 90, "v2": 10}, 0.05, 300),
    ({"v1": 0.9, "v2": 0.1}, 0.05, None),
    ({"v1": 9, "v2": 1}, 0.05, 40),
    ({"v1": 80.0, "v2": 20.0}, 0.05, None),
    ({"v1": 60, "v2": 30, "v3": 10}, 0.02, None),
    ({"v1": 60, "v2": 30, "v3": 10}, 0.05, None),
    ({"v1": 60, "v2": 30, "v3": 10}, 0.10, None),
    ({"v1": 60, "v2": 30, "v3": 10}, 0.05, 200),
    ({"v1": 70, "v2": 30, "v3": 0}, 0.05, None),
    ({"v1": 34, "v2": 33, "v3": 33}, 0.02, None),
    ({"v2": 1, "canary-v2": 1, "reviews-v1": 2}, 0.05, None),
    ({"v1": 100}, 0.05, None),
    ({"v1": 100, "v2": 0}, 0.05, None),
    ({"v1": 100}, 0.05, 30),
]
CONFIGS = _TWO_WAY + _OTHERS
WALK = 40  # samples per seeded sequence, from the first
SPOTS = 100  # seeded random states per weight set, anywhere up to past the cap


def _truths(expected: Mapping[str, float], tol: float) -> list[dict[str, float]]:
    """As expected; the smallest share off by tol and 2 tol both ways; round robin; a stray."""
    total = sum(expected.values())
    shares = {k: w / total for k, w in expected.items()}
    low = min((k for k in shares if shares[k] > 0), key=shares.__getitem__)
    out = [shares]
    rest = [k for k in shares if k != low]
    if rest:  # a single backend has no share to move
        high = max(rest, key=shares.__getitem__)
        for d in (tol, -tol, 2 * tol, -2 * tol):
            moved = dict(shares)
            moved[low] = min(max(moved[low] + d, 0.0), 1.0)
            moved[high] = max(moved[high] - (moved[low] - shares[low]), 0.0)
            out.append(moved)
    out.append(dict.fromkeys(shares, 1 / len(shares)))
    out.append({**shares, "v9": 0.02})  # a backend not in the split, now and then
    return out


def _agree(
    check: SplitCheck, ref: Reference, counts: dict[str, int], n: int, others: dict[str, int]
) -> Decision:
    want = ref.evaluate(counts, n, others)
    context = (check.expected, check.tolerance, check.max_samples, counts, n, others)
    assert check.evaluate(counts, n, others) == want, context
    assert check.evaluate(counts, n, others) == want, context  # now from the memo
    return want


def _walk(
    check: SplitCheck, ref: Reference, truth: Mapping[str, float], rng: random.Random
) -> set[str]:
    """A seeded sequence of samples: every state agrees, and observe() stops at the first
    decision with exactly the reference's verdict, reason and cap flag."""
    fed = SplitCheck(check.expected, check.tolerance, max_samples=check.max_samples)
    names, weights = list(truth), list(truth.values())
    counts: dict[str, int] = {}
    others: dict[str, int] = {}
    seen: set[str] = set()
    for n in range(1, WALK + 1):
        other = rng.random() < 0.002
        key = "status 503" if other else rng.choices(names, weights)[0]
        bucket = others if other else counts
        bucket[key] = bucket.get(key, 0) + 1
        want = _agree(check, ref, counts, n, others)
        seen.add("cap" if want.at_cap else want.verdict)
        if fed.verdict == "undecided":
            (fed.observe_other if other else fed.observe)(key)
            assert (fed.verdict, fed.reason, fed.decided_at_cap) == (
                want.verdict,
                want.reason,
                want.at_cap,
            )
    return seen


def _spot(truth: Mapping[str, float], n: int, rng: random.Random) -> dict[str, int]:
    """Counts near the multinomial's mean (normal steps; exactness is not needed here)."""
    counts: dict[str, int] = {}
    left, mass = n, 1.0
    last = list(truth)[-1]
    for key, share in truth.items():
        q = min(share / mass, 1.0) if mass > 0 else 0.0
        mean, sd = left * q, math.sqrt(left * q * (1 - q))
        take = min(max(round(rng.gauss(mean, sd)), 0), left)
        if key == last:
            take = left
        counts[key] = take
        left -= take
        mass -= share
    return counts


def _name(config: Config) -> str:
    expected, tol, cap = config
    return f"{'/'.join(f'{w:g}' for w in expected.values())}-{tol * 100:g}pp-cap{cap}"


@pytest.mark.parametrize(("expected", "tol", "cap"), CONFIGS, ids=[_name(c) for c in CONFIGS])
def test_the_memoised_decision_is_the_plain_one(
    expected: dict[str, float], tol: float, cap: int | None
) -> None:
    rng = random.Random(repr((expected, tol, cap)))  # a str seed is stable across processes
    check = SplitCheck(expected, tol, max_samples=cap)
    ref = Reference(check)
    truths = _truths(expected, tol)
    seen = set().union(*(_walk(check, ref, truth, rng) for truth in truths))
    for _ in range(SPOTS):
        n = rng.randint(1, check.max_samples + 20)
        truth = rng.choice(truths[:-1])  # the stray fails at once: the walks cover it
        want = _agree(check, ref, _spot(truth, n, rng), n, {})
        seen.add("cap" if want.at_cap else want.verdict)
    # The states reached every kind of decision (a cap pass instead of an early one when the
    # cap comes before the pass floor).
    assert {"fail", "undecided"} <= seen and seen & {"pass", "cap"}, seen


def test_the_checks_tests_are_the_references_tests() -> None:
    for expected, tol, cap in CONFIGS:
        check = SplitCheck(expected, tol, max_samples=cap)
        ref = Reference(check)
        assert [(t.backend, t.side, t.p0, t.log_fail) for t in check.tests] == [
            (t.backend, t.side, t.p0, t.log_fail) for t in ref.tests
        ]
        for mine, theirs in zip(check.tests, ref.tests, strict=True):
            assert [(a.log_weight, a.log_hit, a.log_miss) for a in mine.alternatives] == [
                (a.log_weight, a.log_hit, a.log_miss) for a in theirs.alternatives
            ]
            b = mine.boundary
            assert (b.log_weight, b.log_hit, b.log_miss) == (
                theirs.boundary.log_weight,
                theirs.boundary.log_hit,
                theirs.boundary.log_miss,
            )


def _bounded_memo_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(side_test_module, "_MEMO_STATES", 50)
    # Checks of the same parameters share their SideTests, memos included (`side_test`'s
    # cache): start from tests no earlier test of this process filled under the real bound
    # (which tests ran earlier in a pytest-xdist worker is the scheduler's choice).
    side_test_module.side_test.cache_clear()
    expected, tol = {"v1": 60, "v2": 30, "v3": 10}, 0.05
    check = SplitCheck(expected, tol, max_samples=250)
    ref, rng = Reference(check), random.Random(11)
    for truth in _truths(expected, tol):
        _walk(check, ref, truth, rng)
        assert all(0 < len(t._memo) <= 50 for t in check.tests)


def test_the_memo_is_bounded_and_still_agrees_when_it_overflows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _bounded_memo_walk(monkeypatch)


def test_the_memo_bound_holds_whatever_filled_the_shared_tests_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What a worker saw (a random subset of the suite, in order, failed the test above): a
    # check of the same parameters had reached the same states first, under the real bound,
    # so the bounded walk only read the shared tests' memos and never trimmed them.
    expected, tol = {"v1": 60, "v2": 30, "v3": 10}, 0.05
    busy, rng = SplitCheck(expected, tol, max_samples=250), random.Random(11)
    for truth in _truths(expected, tol):
        _walk(busy, Reference(busy), truth, rng)
    assert all(len(t._memo) > 50 for t in busy.tests)
    _bounded_memo_walk(monkeypatch)


def test_checks_with_the_same_parameters_share_their_tests() -> None:
    a, b = SplitCheck({"v1": 90, "v2": 10}, 0.05), SplitCheck({"v1": 9, "v2": 1}, 0.05)
    assert all(x is y for x, y in zip(a.tests, b.tests, strict=True))
    c = SplitCheck({"v1": 90, "v2": 10}, 0.05, alpha=0.01)
    assert all(x is not y for x, y in zip(a.tests, c.tests, strict=True))


def test_states_without_a_memo_key_are_computed_and_agree() -> None:
    # evaluate() is pure and takes any counts: more hits than samples, or a count past the
    # memo's key range (never stored: its key would be another state's), is answered right.
    check = SplitCheck({"v1": 90, "v2": 10}, 0.05)
    ref = Reference(check)
    kept = [len(t._memo) for t in check.tests]
    for counts, n in (({"v1": 3, "v2": 1 << 32}, 5), ({"v2": (1 << 32) + 7}, (1 << 32) + 7)):
        assert check.evaluate(counts, n, {}) == ref.evaluate(counts, n, {}), (counts, n)
    assert [len(t._memo) for t in check.tests] == kept
    for counts, n in (({"v1": 10, "v2": 30}, 12), ({"v1": 9, "v2": 1}, 10), ({"v2": 7}, 7)):
        assert check.evaluate(counts, n, {}) == ref.evaluate(counts, n, {}), (counts, n)
