"""How good is SplitCheck? Exact figures, a seeded simulation, and the conformance baseline.

For an expected 90/10 split with ±5 percentage points:

1. exact operating characteristics of `harness.judge.split.SplitCheck` for several true splits, by
   the binomial recursion over (samples, count of v2): the check's decision depends only on
   those counts, so these figures are exact, not sampled. Beside them, the Gateway API
   conformance method (500 samples, pass when every share is within ±5pp, up to 10
   attempts), also exact;
2. a seeded Monte Carlo run through the real `SplitCheck.observe` path (20,000 runs at the
   expected truth by default), which must agree with (1);
3. other two-way splits, exact;
4. three backends (per-backend tests with Bonferroni), by simulation.

Run: .venv/bin/python benchmarks/split_check.py [--runs 20000] [--seed 1]
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.judge.split import SplitCheck, SplitVerdict

TOLERANCE = 0.05
CAP = 1000
CONFORMANCE_SAMPLES = 500
CONFORMANCE_ATTEMPTS = 10
TRUTHS = [0.10, 0.13, 0.15, 0.20, 0.50, 0.05, 0.0]  # true share of v2, expected 0.10


@dataclass
class Figures:
    fail: float
    passed: float
    at_cap: float  # probability of reaching the cap
    median: int
    p95: int
    mean: float


def _quantile(stops: list[tuple[int, float]], q: float) -> int:
    cum = 0.0
    for n, p in stops:
        cum += p
        if cum >= q - 1e-12:
            return n
    return stops[-1][0]


class ExactSplit:
    """Exact operating curve of a two-backend SplitCheck (decision table cached)."""

    def __init__(self, check: SplitCheck, tested: str, other: str) -> None:
        self.check = check
        self.tested = tested
        self.other = other
        self._table: dict[tuple[int, int], SplitVerdict] = {}

    def decide(self, n: int, hits: int) -> SplitVerdict:
        key = (n, hits)
        verdict = self._table.get(key)
        if verdict is None:
            counts = {self.other: n - hits, self.tested: hits}
            verdict = self._table[key] = self.check.evaluate(counts, n).verdict
        return verdict

    def figures(self, q: float) -> Figures:
        """q: true share of `tested`."""
        alive = {0: 1.0}
        fail = passed = 0.0
        stops: list[tuple[int, float]] = []
        cap = self.check.max_samples
        at_cap = 0.0
        for n in range(1, cap + 1):
            step: dict[int, float] = {}
            for h, p in alive.items():
                if q > 0:
                    step[h + 1] = step.get(h + 1, 0.0) + p * q
                if q < 1:
                    step[h] = step.get(h, 0.0) + p * (1 - q)
            if n == cap:
                at_cap = sum(step.values())
            alive = {}
            stopped = 0.0
            for h, p in step.items():
                verdict = self.decide(n, h)
                if verdict == "fail":
                    fail += p
                elif verdict == "pass":
                    passed += p
                elif p > 1e-18:  # mass below 1e-18 is dropped (counted nowhere)
                    alive[h] = p
                    continue
                stopped += p
            stops.append((n, stopped))
            if not alive:
                break
        total = sum(p for _, p in stops)
        mean = sum(n * p for n, p in stops) / total
        return Figures(fail, passed, at_cap, _quantile(stops, 0.5), _quantile(stops, 0.95), mean)


def _binom_pmf(n: int, q: float) -> list[float]:
    if q <= 0 or q >= 1:
        return [float(k == (0 if q <= 0 else n)) for k in range(n + 1)]
    lq, lr = math.log(q), math.log(1 - q)
    lfact = [math.lgamma(k + 1) for k in range(n + 1)]
    return [
        math.exp(lfact[n] - lfact[k] - lfact[n - k] + k * lq + (n - k) * lr) for k in range(n + 1)
    ]


def conformance(q: float, p0: float) -> tuple[float, float, float]:
    """Gateway API conformance on a two-way split: P(one attempt fails), P(all fail), samples."""
    n = CONFORMANCE_SAMPLES
    # |share - p0| is the same for both backends; a positive-weight backend that got nothing
    # fails too (the q == 0 case is already outside the tolerance here).
    one = sum(p for k, p in enumerate(_binom_pmf(n, q)) if abs(k / n - p0) > TOLERANCE + 1e-12)
    all_fail = one**CONFORMANCE_ATTEMPTS
    attempts = sum(one**i for i in range(CONFORMANCE_ATTEMPTS))  # retried while failing
    return one, all_fail, n * attempts


@dataclass
class Simulated:
    fail: float
    passed: float
    median: int
    p95: int
    seconds: float
    runs: int


def simulate(
    expected: dict[str, float], truth: dict[str, float], runs: int, seed: int
) -> Simulated:
    """Monte Carlo through SplitCheck.observe with a seeded random.Random."""
    rng = random.Random(seed)
    names = [f"reviews-{k}" for k, w in truth.items() if w > 0]
    cum = list(itertools.accumulate(w for w in truth.values() if w > 0))
    cum = [c / cum[-1] for c in cum]
    cum[-1] = 2.0  # rng.random() < 1 always lands in some bucket
    fails = passes = 0
    samples: list[int] = []
    start = time.perf_counter()
    for _ in range(runs):
        check = SplitCheck(expected, TOLERANCE, max_samples=CAP)
        while check.verdict == "undecided":
            check.observe(names[bisect.bisect(cum, rng.random())])
        fails += check.verdict == "fail"
        passes += check.verdict == "pass"
        samples.append(check.samples)
    samples.sort()
    return Simulated(
        fails / runs,
        passes / runs,
        samples[len(samples) // 2],
        samples[int(0.95 * (len(samples) - 1))],
        time.perf_counter() - start,
        runs,
    )


def _wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(centre - half, 0.0), min(centre + half, 1.0)


def _pct(x: float) -> str:
    return f"{x * 100:.3f}%"


def _two(q: float) -> str:
    return f"{(1 - q) * 100:g}/{q * 100:g}"


def exact_table(check: SplitCheck) -> dict[float, Figures]:
    exact = ExactSplit(check, "v2", "v1")
    p0 = check.expected["v2"]
    print("1) exact, expected 90/10 ±5pp: SplitCheck vs Gateway API conformance")
    print(
        f"   {'truth':>6} | {'P(fail)':>8} {'median':>6} {'p95':>5} {'mean':>5} {'P(cap)':>7}"
        f" | {'P(fail) 1 try':>13} {'10 tries':>8} {'samples':>7}"
    )
    out = {}
    for q in TRUTHS:
        f = out[q] = exact.figures(q)
        one, all_fail, mean = conformance(q, p0)
        print(
            f"   {_two(q):>6} | {_pct(f.fail):>8} {f.median:>6} {f.p95:>5} {f.mean:>5.0f}"
            f" {_pct(f.at_cap):>7} | {_pct(one):>13} {_pct(all_fail):>8} {mean:>7.0f}"
        )
    print("   P(fail) is the false-failure rate at 90/10 and the detection rate elsewhere;")
    print("   87/13 is inside the tolerance (indifference zone), 85/15 and 95/5 on its boundary.")
    return out


def simulation(runs: int, seed: int) -> Simulated:
    expected = {"v1": 90.0, "v2": 10.0}
    print(f"2) simulation through SplitCheck.observe, expected 90/10 (seed {seed})")
    first = None
    for q, n_runs in ((0.10, runs), (0.50, runs), (0.20, max(runs // 4, 500))):
        s = simulate(expected, {"v1": 1 - q, "v2": q}, n_runs, seed)
        first = first or s
        lo, hi = _wilson(s.fail, s.runs)
        print(
            f"   truth {_two(q):>5}: {s.runs:>6} runs  P(fail) {_pct(s.fail)} "
            f"(95% CI {_pct(lo)}..{_pct(hi)})  median {s.median}  p95 {s.p95}  ({s.seconds:.1f} s)"
        )
    assert first is not None
    return first


def other_splits() -> None:
    print("3) other two-way splits ±5pp, exact: at the expected truth, and 10pp off")
    print(
        f"   {'expected':>8} | {'P(fail)':>8} {'median':>6} {'p95':>5} {'P(cap)':>7}"
        f" | {'truth':>6} {'P(fail)':>8} {'median':>6}"
    )
    for p0 in (0.5, 0.3, 0.05, 0.01):
        check = SplitCheck({"v1": 1 - p0, "v2": p0}, TOLERANCE, max_samples=CAP)
        tested = "v2" if p0 < 0.5 else "v1"
        exact = ExactSplit(check, tested, "v1" if tested == "v2" else "v2")
        share = check.expected[tested]
        h0 = exact.figures(share)
        off = min(share + 0.10, 1.0)
        h1 = exact.figures(off)
        off_label = _two(off) if tested == "v2" else _two(1 - off)
        print(
            f"   {_two(p0):>8} | {_pct(h0.fail):>8} {h0.median:>6} {h0.p95:>5} {_pct(h0.at_cap):>7}"
            f" | {off_label:>6} {_pct(h1.fail):>8} {h1.median:>6}"
        )


def three_backends(seed: int) -> None:
    print("4) three backends (simulation, 2,000 runs each)")
    cases = (
        ({"v1": 60.0, "v2": 30.0, "v3": 10.0}, "60/30/10", {"v1": 0.6, "v2": 0.3, "v3": 0.1}),
        ({"v1": 60.0, "v2": 30.0, "v3": 10.0}, "34/33/33", {"v1": 0.34, "v2": 0.33, "v3": 0.33}),
        ({"v1": 60.0, "v2": 30.0, "v3": 10.0}, "60/20/20", {"v1": 0.6, "v2": 0.2, "v3": 0.2}),
        ({"v1": 70.0, "v2": 30.0, "v3": 0.0}, "70/30/0", {"v1": 0.7, "v2": 0.3, "v3": 0.0}),
        ({"v1": 70.0, "v2": 30.0, "v3": 0.0}, "70/28/2", {"v1": 0.7, "v2": 0.28, "v3": 0.02}),
    )
    for expected, label, truth in cases:
        s = simulate(expected, truth, 2000, seed)
        want = "/".join(f"{w:g}" for w in expected.values())
        lo, hi = _wilson(s.fail, s.runs)
        print(
            f"   expected {want:>8}, truth {label:>8}: P(fail) {_pct(s.fail)} "
            f"(95% CI {_pct(lo)}..{_pct(hi)})  median {s.median}  p95 {s.p95}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Operating characteristics of SplitCheck")
    ap.add_argument("--runs", type=int, default=20000, help="simulated runs at 90/10 and 50/50")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    check = SplitCheck({"v1": 90.0, "v2": 10.0}, TOLERANCE, max_samples=CAP)
    print(
        f"SplitCheck: alpha {check.alpha:g}, beta {check.beta:g}, cap {CAP}; "
        f"conformance: {CONFORMANCE_SAMPLES} samples, ±5pp, up to {CONFORMANCE_ATTEMPTS} attempts"
    )
    ex = exact_table(check)
    sim = simulation(args.runs, args.seed)
    other_splits()
    three_backends(args.seed)

    h0, far, wrong = ex[0.10], ex[0.50], ex[0.20]

    def mark(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print("targets (expected 90/10 ±5pp):")
    print(
        f"   false failure at 90/10 <= 0.1%: exact {_pct(h0.fail)}, simulated {_pct(sim.fail)}"
        f" -> {mark(h0.fail <= 0.001)}"
    )
    print(f"   detection at 50/50 >= 99.9%: exact {_pct(far.fail)} -> {mark(far.fail >= 0.999)}")
    print(
        f"   detection at 80/20: exact {_pct(wrong.fail)} (conformance, 10 tries: "
        f"{_pct(conformance(0.20, 0.10)[1])})"
    )
    for label, f in (("90/10", h0), ("50/50", far), ("80/20", wrong)):
        verdict = mark(f.median <= 150)
        print(f"   median samples at {label} <= 150: {f.median} (p95 {f.p95}) -> {verdict}")
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
