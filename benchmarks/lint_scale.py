"""What lint and pytest collection cost per scenario, at catalogue size and at 1000 scenarios.

Generates N scenarios by copying the catalogue (scenarios/) under new names (each copy's name,
namespaces and principals renamed together, so every copy passes lint), then times, as a user
runs them:

- `ambient-harness lint DIR` (a subprocess: start-up included; one process per CPU from 64
  files) and `ambient-harness lint -j 1 DIR` (one process),
- `pytest --collect-only -q DIR/scenarios` (the pytest plugin loading every scenario),

at 13 and 1000 scenarios, min of --repeat runs each, and prints the seconds (wall, and lint's
CPU time, steadier on a loaded machine), the cost per added scenario and the ratio of the two
sizes (issue 15's target: lint of 1000 within 6x the 13-scenario catalogue). It also times
the YAML layer alone over the generated files with libyaml and with the pure-Python parser
(`harness.model.source`), the part libyaml speeds up.

    .venv/bin/python benchmarks/lint_scale.py [--sizes 13 1000] [--repeat 3]

Needs the CRD schemas (AMBIENT_HARNESS_CRD_DIR or `ambient-harness schemas fetch`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.model import source  # noqa: E402 (after the path set-up above)

CATALOGUE = REPO / "scenarios"


def generate(root: Path, count: int) -> Path:
    """`count` scenarios under root/scenarios: copies of the catalogue, renamed."""
    target = root / "scenarios"
    target.mkdir(parents=True)
    originals = sorted(p.parent for p in CATALOGUE.glob("*/scenario.yaml"))
    for i in range(count):
        original = originals[i % len(originals)]
        name = original.name if i < len(originals) else f"{original.name}-g{i}"
        dest = target / name
        shutil.copytree(original, dest)
        if name != original.name:
            for f in dest.rglob("*.yaml"):
                f.write_text(f.read_text().replace(original.name, name))
    return target


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def best_of(repeat: int, argv: list[str], cwd: Path, cpu: list[float] | None = None) -> float:
    """The least wall time of `repeat` runs; `cpu` gets the least CPU time (user + sys), the
    steadier figure on a machine others load."""
    times, cpus = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), _children_cpu()
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        cpus.append(_children_cpu() - start_cpu)
        if proc.returncode not in (0, 5):  # 5: pytest collected nothing to run (not an error here)
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}")
    if cpu is not None:
        cpu.append(min(cpus))
    return min(times)


def yaml_layer(files: list[Path], fast: bool) -> float:
    saved = source._FAST_LOADER
    if not fast:
        source._FAST_LOADER = None
    try:
        start = time.perf_counter()
        for f in files:
            with contextlib.suppress(source.SourceError):
                source.load_documents(f)
        return time.perf_counter() - start
    finally:
        source._FAST_LOADER = saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[13, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    lint = [str(bin_dir / "ambient-harness"), "lint"]
    collect = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    results: dict[int, tuple[float, float, float, float]] = {}
    lint_cpu: dict[int, float] = {}
    serial: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="lint-scale-") as tmp:
        for n in args.sizes:
            root = Path(tmp) / f"n{n}"
            scenarios = generate(root, n)
            cpu: list[float] = []
            t_lint = best_of(args.repeat, [*lint, str(scenarios)], root, cpu)
            lint_cpu[n] = cpu[0]
            # One process (`-j 1`): the per-scenario cost itself, whatever the cores.
            serial[n] = best_of(args.repeat, [*lint, "-j", "1", str(scenarios)], root)
            t_collect = best_of(args.repeat, [*collect, str(scenarios)], root)
            files = sorted(scenarios.rglob("*.yaml"))
            t_fast = yaml_layer(files, fast=True)
            t_pure = yaml_layer(files, fast=False)
            results[n] = (t_lint, t_collect, t_fast, t_pure)
    print(f"libyaml available: {source._FAST_LOADER is not None}  (repeat={args.repeat}, min)")
    header = ("scenarios", "lint s", "lint cpu s", "collect s", "yaml libyaml s", "yaml pure s")
    print("  ".join(f"{h:>{w}}" for h, w in zip(header, (9, 7, 10, 9, 14, 11), strict=True)))
    for n, (tl, tc, tf, tp) in results.items():
        print(f"{n:>9}  {tl:7.2f}  {lint_cpu[n]:10.2f}  {tc:9.2f}  {tf:14.3f}  {tp:11.3f}")
    small, large = min(results), max(results)
    if small != large:
        added = large - small
        (l0, c0, *_), (l1, c1, *_) = results[small], results[large]
        print(
            f"per added scenario: lint {1000 * (l1 - l0) / added:.2f} ms, "
            f"collection {1000 * (c1 - c0) / added:.2f} ms"
        )
        print(
            f"ratio {large}/{small}: lint {l1 / l0:.1f}x, collection {c1 / c0:.1f}x "
            "(issue 15 target for lint: <= 6x)"
        )
        j0, j1 = serial[small], serial[large]
        print(
            f"lint -j 1: {j0:.2f} s and {j1:.2f} s, {1000 * (j1 - j0) / added:.2f} ms per added "
            f"scenario, ratio {j1 / j0:.1f}x (the default forks one process per CPU from 64 files)"
        )
        k0, k1 = lint_cpu[small], lint_cpu[large]
        print(
            f"lint CPU: {1000 * (k1 - k0) / added:.2f} ms per added scenario, ratio {k1 / k0:.1f}x"
        )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    raise SystemExit(main())
