"""Wall and CPU time of the offline suite, as `make test` runs it (issue 15: <= 15 s on 2 cores).

    python benchmarks/suite_time.py [--runs 2] [--workers N] [--top 10] [--by-file N] [-- ARGS]

Prints, per run, the wall time and the CPU time of pytest and every process it started
(user + system, children included), the load average before the run (a busy machine
stretches the wall time, not the CPU time), then the minimum of the runs and the slowest
tests of the fastest run. The CPU time is the steadier figure: wall >= CPU / cores, which it
prints as the floor.
With --by-file N it also prints, for the last run, the N test files that cost the most CPU:
the tests' own CPU, their children's (stand-ins, agents, Envoy, fresh interpreters) and wall
(benchmarks/cpu_account.py), what the processes spent outside tests (start-up, collection)
and in garbage collection.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(r"^=+ (.*(?:passed|failed|error).*) in [\d.]+s")


def one_run(
    workers: str, top: int, extra: list[str], account: Path | None = None
) -> tuple[float, float, str, list[str]]:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", workers]
    cmd += [f"--durations={top}", *extra]
    # As `make test` runs it: bytecode cached even where PYTHONDONTWRITEBYTECODE is set.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if account is not None:
        cmd += ["-p", "cpu_account"]
        path = os.pathsep.join(filter(None, [str(REPO / "benchmarks"), env.get("PYTHONPATH")]))
        env |= {"PYTHONPATH": path, "CPU_ACCOUNT_DIR": str(account)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = proc.stdout.splitlines()
    summary = next((m[1] for line in lines if (m := SUMMARY.match(line))), lines[-1:])
    slowest = [line for line in lines if re.match(r"^\d+\.\d+s (call|setup|teardown) ", line)]
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n", file=sys.stderr)
        # On stdout too: a rare failure (a flake) is worth its name even where stderr is lost.
        for line in lines:
            if line.startswith(("FAILED ", "ERROR ")):
                print(f"  {line}")
    return wall, cpu, str(summary), slowest[:top]


def by_file(account: Path, count: int) -> None:
    files: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    outside = collector = 0.0
    for part in account.glob("*.json"):
        document = json.loads(part.read_text())
        for nodeid, own, children, wall in document["rows"]:
            row = files[nodeid.split("::")[0]]
            row[0] += own
            row[1] += children
            row[2] += wall
            row[3] += 1
        outside += document["own"] - sum(r[1] for r in document["rows"])
        collector += document["gc"]
    own = sum(r[0] for r in files.values())
    children = sum(r[1] for r in files.values())
    print(f"CPU in tests: {own:.1f} s own + {children:.1f} s children", end="; ")
    print(f"outside tests (start-up, collection): {outside:.1f} s")
    print(f"garbage collection, in tests and outside: {collector:.1f} s")
    print("   own  child   wall tests file")
    for name, (o, c, w, n) in sorted(files.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))[:count]:
        print(f"{o:6.2f} {c:6.2f} {w:6.2f} {int(n):5d} {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    # As the Makefile's PYTEST_WORKERS: one per usable CPU, plus one.
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = str((cpus or 1) + 1)
    parser.add_argument(
        "--workers", default=workers, help="pytest-xdist -n (default, as make test: CPUs + 1)"
    )
    parser.add_argument("--top", type=int, default=10, help="slowest tests to list")
    parser.add_argument(
        "--by-file", type=int, default=0, metavar="N", help="CPU of the N costliest test files"
    )
    parser.add_argument("pytest_args", nargs="*", help="after --: more pytest arguments")
    args = parser.parse_args()
    cpus = cpus or 1
    print(f"offline suite, -n {args.workers}, {cpus} cores")
    results = []
    account = Path(tempfile.mkdtemp(prefix="suite-cpu-")) if args.by_file else None
    for i in range(args.runs):
        load = os.getloadavg()[0]
        if account is not None:
            for part in account.glob("*.json"):
                part.unlink()
        wall, cpu, summary, slowest = one_run(args.workers, args.top, args.pytest_args, account)
        results.append((wall, cpu, slowest))
        print(f"run {i + 1}: {wall:6.1f} s wall {cpu:6.1f} s CPU  (load {load:.2f})  {summary}")
    wall, cpu, slowest = min(results, key=lambda r: r[0])
    least = min(r[1] for r in results)
    print(f"min: {wall:6.1f} s wall {least:6.1f} s CPU")
    # The suite is almost all CPU (run with --workers 0: wall ~ CPU): no scheduling beats this.
    print(f"floor on {cpus} cores: {least / cpus:.1f} s wall (the least CPU / cores)")
    print(f"slowest {args.top} of the fastest run:")
    for line in slowest:
        print(f"  {line}")
    if account is not None:
        by_file(account, args.by_file)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
