"""How good is SplitCheck? Exact figures per tolerance, the conformance baseline, a simulation.

1. per tolerance (±2 .. ±10 points) and two-way split: the derived cap and `min_samples`,
   the false-fail rate, the samples at the expected split, and the detection of an error of
   twice the tolerance (both sides) with the derived cap and with `min_samples` — exact, by
   the binomial recursion of `harness.judge.operating` over the check's own decisions.
   Beside it, what the check did before (a fixed cap of 1000, no pass floor);
2. expected 90/10 ±5pp against the Gateway API conformance method (500 samples, every share
   within ±5pp, up to 10 attempts), also exact;
3. a seeded Monte Carlo run through the real `SplitCheck.observe` path, which must agree;
4. three backends (per-backend tests with Bonferroni), by simulation.

Run: .venv/bin/python benchmarks/split_check.py [--splits 10,50] [--runs 20000] [--seed 1]
(the docs/statistics.md tables are its output with --splits 10,20,30,50).
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

import harness.judge.split as split_module
from harness.judge.operating import Figures, figures, regions
from harness.judge.split import SplitCheck

OLD_CAP = 1000
CONFORMANCE_SAMPLES = 500
CONFORMANCE_ATTEMPTS = 10
TRUTHS_9010 = [0.10, 0.13, 0.15, 0.20, 0.50, 0.05, 0.0]  # true share of v2, expected 0.10


def two_way(p0: float, tol: float, **kw: int) -> SplitCheck:
    return SplitCheck({"v1": 1 - p0, "v2": p0}, tol, **kw)


def old_check(p0: float, tol: float) -> SplitCheck:
    """The check as it was: a fixed cap of 1000 and no pass floor."""
    saved = split_module.PASS_FLOOR
    split_module.PASS_FLOOR = 0.0
    try:
        return two_way(p0, tol, max_samples=OLD_CAP)
    finally:
        split_module.PASS_FLOOR = saved


def _pct(x: float, digits: int = 2) -> str:
    return f"{x * 100:.{digits}f}%"


def _two(q: float) -> str:
    return f"{(1 - q) * 100:g}/{q * 100:g}"


def per_tolerance(splits: list[float]) -> list[tuple[float, int, float, float]]:
    """Table 1; returns (p0, tol, false fail, worst detection) for the targets."""
    print("1) exact, per tolerance: derived cap (8 x information bound), min_samples (5 x)")
    print(
        f"   {'split':>6} {'tol':>4} {'bound':>5} {'cap':>6} {'min':>5} | {'false fail':>10} "
        f"{'median':>6} {'p95':>6} {'mean':>6} | {'2 tol':>13} {'detected':>8} "
        f"{'with min':>8} {'median':>6} | {'before: detected':>16} {'at cap':>7}"
    )
    out = []
    for p0 in splits:
        for tol_pp in range(2, 11):
            tol = tol_pp / 100
            check = two_way(p0, tol)
            table = list(regions(check))
            h0 = figures(check, p0, table=table)
            worst: Figures | None = None
            worst_min = 1.0
            for truth in (p0 + 2 * tol, p0 - 2 * tol):
                if not 0 <= truth <= 1:
                    continue
                f = figures(check, truth, by=check.min_samples(), table=table)
                worst_min = min(worst_min, f.fail_by)
                if worst is None or f.fail < worst.fail:
                    worst = f
            assert worst is not None
            before = figures(old_check(p0, tol), worst.truth)
            print(
                f"   {_two(p0):>6} {tol_pp:>3}pp {check.information_bound():>5.0f} "
                f"{check.max_samples:>6} {check.min_samples():>5} | {_pct(h0.fail, 3):>10} "
                f"{h0.median:>6} {h0.p95:>6} {h0.mean:>6.0f} | {_two(worst.truth):>13} "
                f"{_pct(worst.fail):>8} {_pct(worst_min):>8} {worst.median:>6} | "
                f"{_pct(before.fail):>16} {_pct(before.at_cap):>7}",
                flush=True,
            )
            out.append((p0, tol_pp, h0.fail, min(worst.fail, worst_min)))
    print("   '2 tol' is the truth off by twice the tolerance that is detected least often;")
    print("   'before' is a fixed cap of 1000 without the pass floor, at that truth.")
    return out


def _binom_pmf(n: int, q: float) -> list[float]:
    if q <= 0 or q >= 1:
        return [float(k == (0 if q <= 0 else n)) for k in range(n + 1)]
    lq, lr = math.log(q), math.log(1 - q)
    lfact = [math.lgamma(k + 1) for k in range(n + 1)]
    return [
        math.exp(lfact[n] - lfact[k] - lfact[n - k] + k * lq + (n - k) * lr) for k in range(n + 1)
    ]


def conformance(q: float, p0: float, tol: float) -> tuple[float, float, float]:
    """Gateway API conformance on a two-way split: P(one attempt fails), P(all fail), samples."""
    n = CONFORMANCE_SAMPLES
    one = sum(p for k, p in enumerate(_binom_pmf(n, q)) if abs(k / n - p0) > tol + 1e-12)
    attempts = sum(one**i for i in range(CONFORMANCE_ATTEMPTS))  # retried while failing
    return one, one**CONFORMANCE_ATTEMPTS, n * attempts


def conformance_table() -> dict[float, Figures]:
    check = two_way(0.10, 0.05)
    table = list(regions(check))
    print(f"2) exact, expected 90/10 ±5pp (cap {check.max_samples}) vs Gateway API conformance")
    print(
        f"   {'truth':>6} | {'P(fail)':>8} {'median':>6} {'p95':>5} {'mean':>5} {'P(cap)':>7}"
        f" | {'P(fail) 1 try':>13} {'10 tries':>8} {'samples':>7}"
    )
    out = {}
    for q in TRUTHS_9010:
        f = out[q] = figures(check, q, table=table)
        one, all_fail, mean = conformance(q, 0.10, 0.05)
        print(
            f"   {_two(q):>6} | {_pct(f.fail, 3):>8} {f.median:>6} {f.p95:>5} {f.mean:>5.0f}"
            f" {_pct(f.at_cap, 3):>7} | {_pct(one, 3):>13} {_pct(all_fail, 3):>8} {mean:>7.0f}"
        )
    print("   P(fail) is the false-failure rate at 90/10 and the detection rate elsewhere;")
    print("   87/13 is inside the tolerance (indifference zone), 85/15 and 95/5 on its boundary.")
    return out


@dataclass
class Simulated:
    fail: float
    median: int
    p95: int
    seconds: float
    runs: int


def simulate(
    expected: dict[str, float], truth: dict[str, float], tol: float, runs: int, seed: int
) -> Simulated:
    """Monte Carlo through SplitCheck.observe with a seeded random.Random."""
    rng = random.Random(seed)
    names = [f"reviews-{k}" for k, w in truth.items() if w > 0]
    cum = list(itertools.accumulate(w for w in truth.values() if w > 0))
    cum = [c / cum[-1] for c in cum]
    cum[-1] = 2.0  # rng.random() < 1 always lands in some bucket
    fails = 0
    samples: list[int] = []
    start = time.perf_counter()
    for _ in range(runs):
        check = SplitCheck(expected, tol)
        while check.verdict == "undecided":
            check.observe(names[bisect.bisect(cum, rng.random())])
        fails += check.verdict == "fail"
        samples.append(check.samples)
    samples.sort()
    return Simulated(
        fails / runs,
        samples[len(samples) // 2],
        samples[int(0.95 * (len(samples) - 1))],
        time.perf_counter() - start,
        runs,
    )


def _wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(centre - half, 0.0), min(centre + half, 1.0)


def simulation(runs: int, seed: int, exact: dict[float, Figures]) -> None:
    print(f"3) simulation through SplitCheck.observe, expected 90/10 ±5pp (seed {seed})")
    for q, n_runs in ((0.10, runs), (0.20, max(runs // 4, 500)), (0.50, max(runs // 4, 500))):
        s = simulate({"v1": 90, "v2": 10}, {"v1": 1 - q, "v2": q}, 0.05, n_runs, seed)
        lo, hi = _wilson(s.fail, s.runs)
        agree = "agrees" if lo <= exact[q].fail <= hi else "DISAGREES"
        print(
            f"   truth {_two(q):>5}: {s.runs:>6} runs  P(fail) {_pct(s.fail, 3)} "
            f"(95% CI {_pct(lo, 3)}..{_pct(hi, 3)}; exact {_pct(exact[q].fail, 3)}: {agree})  "
            f"median {s.median}  p95 {s.p95}  ({s.seconds:.1f} s)",
            flush=True,
        )


def three_backends(seed: int, runs: int) -> None:
    print(f"4) three backends, expected 60/30/10 (simulation, {runs} runs each)")
    expected = {"v1": 60.0, "v2": 30.0, "v3": 10.0}
    for tol in (0.05, 0.10):
        d = 2 * tol  # an error of twice the tolerance in two backends' shares
        truths = (
            (0.6, 0.3, 0.1),
            (0.6, 0.3 - d, 0.1 + d),
            (0.6 - d, 0.3 + d, 0.1),
            (0.6 + d, 0.3 - d, 0.1),
            (0.34, 0.33, 0.33),
        )
        cap = SplitCheck(expected, tol).max_samples
        for shares in truths:
            truth = dict(zip(expected, shares, strict=True))
            s = simulate(expected, truth, tol, runs, seed)
            lo, hi = _wilson(s.fail, s.runs)
            label = "/".join(f"{x * 100:.0f}" for x in shares)
            print(
                f"   ±{tol * 100:g}pp (cap {cap}), truth {label:>8}: P(fail) {_pct(s.fail, 3)} "
                f"(95% CI {_pct(lo, 3)}..{_pct(hi, 3)})  median {s.median}  p95 {s.p95}",
                flush=True,
            )
    s = simulate(
        {"v1": 70, "v2": 30, "v3": 0}, {"v1": 0.7, "v2": 0.28, "v3": 0.02}, 0.05, runs, seed
    )
    print(
        f"   expected 70/30/0 ±5pp, truth 70/28/2 (a zero-weight backend): "
        f"P(fail) {_pct(s.fail, 3)}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Operating characteristics of SplitCheck")
    ap.add_argument("--splits", default="10,50", help="expected share of v2, in percent")
    ap.add_argument("--runs", type=int, default=20000, help="simulated runs at 90/10")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    check = two_way(0.10, 0.05)
    print(
        f"SplitCheck: alpha {check.alpha:g}, beta {check.beta:g}, cap "
        f"{split_module.CAP_FACTOR:g} x information bound, min_samples "
        f"{split_module.MIN_FACTOR:g} x, no pass before {split_module.PASS_FLOOR:g} x"
    )
    targets = per_tolerance([float(s) / 100 for s in args.splits.split(",")])
    exact = conformance_table()
    simulation(args.runs, args.seed, exact)
    three_backends(args.seed, max(args.runs // 20, 200))
    worst_ff = max(t[2] for t in targets)
    worst_det = min(t[3] for t in targets)
    print("targets (every split and tolerance of table 1):")
    print(
        f"   false failure <= 0.1%: worst {_pct(worst_ff, 3)} -> "
        f"{'met' if worst_ff <= 0.001 else 'NOT met'}"
    )
    print(
        f"   detection of twice the tolerance >= 99% (derived cap and min_samples): worst "
        f"{_pct(worst_det)} -> {'met' if worst_det >= 0.99 else 'NOT met'}"
    )
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
