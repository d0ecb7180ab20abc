"""What every pytest process of the suite pays before its first test, and what each test costs
pytest, pytest-xdist and the harness's pytest11 plugin (issue 15).

    .venv/bin/python benchmarks/collection_cost.py [--repeat 5] [--tests 1620] [--workers 3]

Prints CPU (user + system, children included), min and median of --repeat interleaved runs:

- collection: one process collecting the whole suite, as each xdist worker does
  (`pytest --collect-only -p no:xdist`, from the repository root);
- per test: --tests trivial tests (a generated module in a temporary directory; the installed
  plugins load as in the suite, pytest-kind-ng's and anyio's blocked as in pyproject.toml):
  collected only, run in one process, run with -n WORKERS; derived from them what a test costs
  in one process and what xdist adds per test (the workers' own start-up taken out);
- the harness plugin's per-test hooks: their CPU per test, profiled in this process (cProfile
  inflates small functions: an upper bound).

Needs the CRD schemas (AMBIENT_HARNESS_CRD_DIR or `ambient-harness schemas fetch`).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
TRIVIAL = """import pytest


@pytest.mark.parametrize("i", range({tests}))
def test_trivial(i):
    assert i >= 0
"""
INI = "[pytest]\naddopts = -p no:pytest-kind-ng -p no:anyio\n"


def cpu(argv: list[str], cwd: Path) -> float:
    """CPU of one run, the processes it started included (xdist workers are waited for)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def plugin_hooks_per_test(directory: Path, tests: int) -> tuple[float, float]:
    """(the harness plugin's per-test hooks, the whole run) per test, in seconds, profiled."""
    import pytest

    profile = cProfile.Profile()
    old = Path.cwd()
    os.chdir(directory)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            profile.runcall(pytest.main, ["-p", "no:cacheprovider", "-q", "-p", "no:xdist"])
    finally:
        os.chdir(old)
    stats = pstats.Stats(profile)
    plugin = str(REPO / "harness" / "pytest_plugin")
    ours = total = 0.0
    for (file, _, name), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        total = max(total, cumulative)
        if file.startswith(plugin) and name.startswith("pytest_runtest"):
            ours += cumulative
    return ours / tests, total / tests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tests", type=int, default=1620, help="trivial tests")
    parser.add_argument("--workers", type=int, default=3, help="pytest-xdist -n")
    args = parser.parse_args()
    trivial = Path(tempfile.mkdtemp(prefix="collection-cost-"))
    (trivial / "test_trivial.py").write_text(TRIVIAL.format(tests=args.tests))
    (trivial / "pytest.ini").write_text(INI)
    runs: dict[str, tuple[list[str], Path]] = {
        "suite --collect-only (one worker's start-up)": (
            [*PYTEST, "--collect-only", "-p", "no:xdist"],
            REPO,
        ),
        "trivial --collect-only": ([*PYTEST, "--collect-only", "-p", "no:xdist"], trivial),
        "trivial -n 0": ([*PYTEST, "-n", "0"], trivial),
        f"trivial -n {args.workers}": ([*PYTEST, "-n", str(args.workers)], trivial),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeat):  # interleaved: the machine's speed drifts
        for name, (argv, cwd) in runs.items():
            times[name].append(cpu(argv, cwd))
    print(f"CPU s, min / median of {args.repeat} (load {os.getloadavg()[0]:.2f})")
    for name, values in times.items():
        print(f"  {min(values):6.2f} / {statistics.median(values):6.2f}  {name}")
    collect, serial, spread = (statistics.median(times[k]) for k in list(runs)[1:])
    per_test = (serial - collect) / args.tests
    xdist = (spread - serial - args.workers * collect) / args.tests
    print(f"per test in one process: {per_test * 1e3:.2f} ms")
    print(f"xdist adds per test (-n {args.workers}, start-ups taken out): {xdist * 1e3:.2f} ms")
    ours, whole = plugin_hooks_per_test(trivial, args.tests)
    print(
        f"harness plugin's per-test hooks, profiled: {ours * 1e6:.1f} us per test "
        f"(the whole profiled run: {whole * 1e6:.0f} us per test)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
