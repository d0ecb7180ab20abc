"""CPU of the judge's hot loops: SplitCheck.observe, eventually() polls, the exact figures.

1. observe: seeded runs of a fresh SplitCheck to its decision, per weight set and truth
   (the live path feeds one sample per probe answer; the tests simulate thousands of runs);
2. eventually(): seeded polls through a fake clock (a served_by probe on an ignored route);
3. regions() and figures() of the exact operating figures (docs/statistics.md) at 90/10.

Prints CPU (process time), the best of --repeat, per unit of work. Compare two checkouts
interleaved (A B A B): the machine's speed drifts.

Run: .venv/bin/python benchmarks/judge_cost.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.judge.eventually import eventually
from harness.judge.operating import Region, figures, regions
from harness.judge.split import SplitCheck
from harness.model.outcome import Outcome
from harness.model.scenario import Expect, Timing

SPLITS: list[tuple[dict[str, float], float, float]] = [
    ({"v1": 90, "v2": 10}, 0.05, 0.10),  # correct: passes
    ({"v1": 90, "v2": 10}, 0.05, 0.20),  # off by twice the tolerance: fails
    ({"v1": 50, "v2": 50}, 0.10, 0.50),
    ({"v1": 60, "v2": 30, "v3": 10}, 0.05, 0.10),
]


def best(repeat: int, work: Callable[[], int]) -> tuple[float, int]:
    """(least CPU seconds of `repeat` runs, units of work per run)."""
    times, units = [], 0
    for _ in range(repeat):
        start = time.process_time()
        units = work()
        times.append(time.process_time() - start)
    return min(times), units


def observe_runs(expected: dict[str, float], tol: float, truth: float, runs: int) -> int:
    rng = random.Random(1)
    names = list(expected)
    tested = names[-1]
    rest = [n for n in names if n != tested]
    samples = 0
    for _ in range(runs):
        check = SplitCheck(expected, tol)
        while check.verdict == "undecided":
            key = tested if rng.random() < truth else rng.choice(rest)
            check.observe(f"reviews-{key}")
        samples += check.samples
    return samples


class Clock:
    """Fake time: sleeps advance it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def polls(runs: int) -> int:
    rng = random.Random(9)
    v1 = Outcome(status=200, served_by="reviews-v1")
    v2 = Outcome(status=200, served_by="reviews-v2")
    timing, expect = Timing(budget=1.0, streak=5), Expect(served_by="v2")
    total = 0
    for _ in range(runs):
        clock = Clock()
        result = eventually(
            lambda: v2 if rng.random() < 0.5 else v1, expect, timing, clock, clock.sleep
        )
        total += result.attempts
    return total


def _rows(check: SplitCheck) -> int:
    return len(list(regions(check)))


def _median(check: SplitCheck, truth: float, table: list[Region]) -> int:
    return figures(check, truth, table=table).median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--runs", type=int, default=200, help="observe runs per split")
    args = parser.parse_args()
    print("1) SplitCheck.observe, fresh checks to their decision (seeded)")
    for expected, tol, truth in SPLITS:
        work = functools.partial(observe_runs, expected, tol, truth, args.runs)
        cpu, samples = best(args.repeat, work)
        weights = "/".join(f"{w:g}" for w in expected.values())
        print(
            f"   {weights:>9} ±{tol * 100:g}pp truth {truth:.2f}: {samples:>7} samples "
            f"{cpu:6.3f} s  {cpu / samples * 1e6:5.2f} µs/sample"
        )
    cpu, attempts = best(args.repeat, lambda: polls(1000))
    print(f"2) eventually(): {attempts} polls {cpu:6.3f} s  {cpu / attempts * 1e6:5.2f} µs/poll")
    print("3) exact figures at 90/10 (regions once, figures at p0 and p0 + 2 tol)")
    for tol in (0.02, 0.05):
        check = SplitCheck({"v1": 90, "v2": 10}, tol)
        table = list(regions(check))
        cpu, rows = best(args.repeat, functools.partial(_rows, check))
        print(f"   ±{tol * 100:g}pp regions: {rows} rows {cpu:6.3f} s")
        for truth in (0.10, 0.10 + 2 * tol):
            cpu, _ = best(args.repeat, functools.partial(_median, check, truth, table))
            print(f"   ±{tol * 100:g}pp figures at {truth:.2f}: {cpu:6.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
