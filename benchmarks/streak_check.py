"""How many matches in a row does `served_by: v2` need? Derived streaks, bounds, simulations.

1. the derived streak and its false-pass bound (the route ignored, the Service spreading
   requests over its k versions) per number of versions and budget, beside the chance pass
   of today's 3 and of 10 in a row;
2. the false-fail bound when the route works: per time left after propagation and per rate
   of transient errors;
3. seeded simulations through the real `eventually()` with a fake clock: under the null with
   instant requests (the bound is then exact), at 5 ms per request, and with the derived
   streak (where a pass should essentially never be seen).

Run: .venv/bin/python benchmarks/streak_check.py [--runs 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.judge.eventually import eventually
from harness.judge.streak import (
    FALSE_PASS,
    chance_of_streak,
    false_fail,
    required_streak,
    run_starts,
)
from harness.model.outcome import Outcome
from harness.model.scenario import Expect, Timing

V = [Outcome(status=200, served_by=f"reviews-v{i}") for i in range(1, 6)]


class Clock:
    def __init__(self, request_s: float) -> None:
        self.now = 0.0
        self.request_s = request_s

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def derived_table() -> None:
    print(f"1) derived streak (false pass <= {FALSE_PASS:g} over the whole budget, 100 ms polls)")
    print(
        f"   {'versions':>8} {'budget':>6} {'runs':>5} | {'streak':>6} {'bound':>9} | "
        f"{'3 in a row':>10} {'10 in a row':>11}"
    )
    for k in (2, 3, 4, 5):
        for budget in (10.0, 30.0, 60.0, 120.0):
            t = Timing(budget=budget)
            runs = run_starts(t)
            n = required_streak(1 / k, runs)
            bound, three, ten = (chance_of_streak(1 / k, m, runs) for m in (n, 3, 10))
            print(
                f"   {k:>8} {budget:>5.0f}s {runs:>5} | {n:>6} {bound:>9.2e}"
                f" | {three:>10.4f} {ten:>11.4f}"
            )


def false_fail_table() -> None:
    print("2) false fail when the route works (streak 19, 100 ms after a mismatch, 10 ms requests)")
    print(
        f"   {'time left':>9} | "
        + " ".join(f"{'e=' + str(e):>9}" for e in (0.0, 0.01, 0.05, 0.1, 0.2, 0.3))
    )
    t = Timing()
    for left in (1.0, 3.0, 5.0, 10.0, 20.0, 29.0):
        cells = [
            f"{false_fail(19, left, t, error_rate=e):>9.2e}"
            for e in (0.0, 0.01, 0.05, 0.1, 0.2, 0.3)
        ]
        print(f"   {left:>8.0f}s | " + " ".join(cells))


def simulate(k: int, streak: int, budget: float, request_s: float, runs: int, seed: int) -> float:
    rng = random.Random(seed)
    t = Timing(budget=budget, streak=streak)
    passes = 0
    for _ in range(runs):
        clock = Clock(request_s)

        def observe(clock: Clock = clock) -> Outcome:
            clock.now += clock.request_s
            return V[rng.randrange(k)]

        passes += eventually(observe, Expect(served_by="v2"), t, clock, clock.sleep).passed
    return passes / runs


def simulations(runs: int, seed: int) -> None:
    print(f"3) simulated false pass through eventually(), the route ignored ({runs} runs each)")
    cases = (
        (2, 5, 1.0, 0.0),
        (2, 5, 1.0, 0.005),
        (2, 10, 30.0, 0.0),
        (3, 6, 3.0, 0.0),
        (2, 19, 30.0, 0.005),
    )
    for k, streak, budget, request_s in cases:
        started = time.perf_counter()
        rate = simulate(k, streak, budget, request_s, runs, seed)
        t = Timing(budget=budget)
        exact_runs = math.ceil(budget / t.interval - 1e-9) + 1  # instant requests
        bound = chance_of_streak(1 / k, streak, run_starts(t))
        exact = chance_of_streak(1 / k, streak, exact_runs)
        print(
            f"   k={k} streak {streak:>2} budget {budget:>4.0f}s "
            f"request {request_s * 1000:.0f} ms: "
            f"simulated {rate:.4f}, exact at 0 ms {exact:.4f}, bound {bound:.2e} "
            f"({time.perf_counter() - started:.1f} s)",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Derived streaks for expectations naming a version")
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    derived_table()
    false_fail_table()
    simulations(args.runs, args.seed)
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
