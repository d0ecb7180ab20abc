"""The production hot paths of the offline run: `run --dry-run`, its session plan, the prober.

Prints, min of --repeat runs each:

- `ambient-harness run --dry-run` of the whole catalogue (a subprocess, start-up included):
  CPU (user+sys) and wall seconds, and which of the cluster client's modules it imported,
- `print_session_plan` (the Gateway API bundle's CRDs awaited): first call and repeated, ms,
- building `Prober`s (one httpx client each): ms CPU per Prober and how many TLS contexts
  (`ssl.create_default_context`, ~26 ms each loading the CA bundle) that took.

    .venv/bin/python benchmarks/dry_run.py [--repeat 5]

Needs the CRD schemas (AMBIENT_HARNESS_CRD_DIR or `ambient-harness schemas fetch`).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import ssl
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CLIENT_MODULES = ("kubernetes", "urllib3", "httpx")
PROBE = f"""
import contextlib, io, json, sys
from harness.cli import main as cli
with contextlib.redirect_stdout(io.StringIO()):
    code = cli.main(["run", "--dry-run"])
print(json.dumps({{"rc": code, "imported": [m for m in {CLIENT_MODULES!r} if m in sys.modules]}}))
"""


def dry_run_process() -> tuple[float, float]:
    """(CPU, wall) seconds of one `ambient-harness run --dry-run` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "ambient-harness"), "run", "--dry-run"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def dry_run_imports() -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def session_plan_ms(repeat: int) -> tuple[float, float]:
    from harness.lint import crds
    from harness.run.dryrun import Printer, print_session_plan
    from harness.run.options import SessionOptions

    crds.load_index()  # lint's, done before the plan in a dry run
    options = replace(SessionOptions(), cluster="kind")
    provider = options.provider()

    def once() -> float:
        start = time.process_time()
        print_session_plan(Printer(io.StringIO()), options, provider)
        return (time.process_time() - start) * 1000

    first = once()
    return first, min(once() for _ in range(repeat))


def probers(n: int) -> tuple[float, int]:
    """(ms CPU per Prober, TLS contexts made) for `n` Probers in this process."""
    from harness.probe.prober import Prober

    made = 0
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        nonlocal made
        made += 1
        return real(*args, **kwargs)

    ssl.create_default_context = counting  # type: ignore[assignment]
    try:
        start = time.process_time()
        built = [Prober("127.0.0.1", 1 + i) for i in range(n)]
        elapsed = time.process_time() - start
    finally:
        ssl.create_default_context = real
    for p in built:
        p.close()
    return elapsed * 1000 / n, made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.chdir(REPO)
    runs = [dry_run_process() for _ in range(args.repeat)]
    cpu, wall = min(r[0] for r in runs), min(r[1] for r in runs)
    seen = dry_run_imports()
    n = args.repeat
    print(f"run --dry-run (the catalogue): {cpu:.2f} s CPU, {wall:.2f} s wall (min of {n})")
    print(f"  cluster client modules imported: {', '.join(seen['imported']) or 'none'}")
    first, repeated = session_plan_ms(args.repeat)
    print(f"print_session_plan: {first:.0f} ms first, {repeated:.1f} ms repeated")
    per, made = probers(20)
    print(f"Prober(): {per:.1f} ms CPU each; 20 Probers made {made} TLS context(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
