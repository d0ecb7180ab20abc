"""What a command costs before it does anything: CLI and pytest start-up, and the imports
behind them.

Times, min of --repeat interleaved runs, from the repository root (so pyproject's addopts
apply, as they do for a developer):

- `ambient-harness --help` and `ambient-harness lint` of one scenario (CLI start-up),
- `pytest --collect-only` of a plain test module (no scenario: the plugin's bare start-up),
- `pytest --collect-only` of one scenario, as configured (pytest-kind-ng's plugin blocked) and
  with pytest-kind-ng's plugin loaded (`-o addopts=...` without the block): what the block saves,
- `python -X importtime` of the harness modules a start imports (cumulative ms, min of runs),
  and whether collection imports pykube / requests at all.

    .venv/bin/python benchmarks/startup.py [--repeat 7]

Needs the CRD schemas (AMBIENT_HARNESS_CRD_DIR or `ambient-harness schemas fetch`).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCENARIO = "scenarios/ambient-authz-l4"
PLAIN_TESTS = "tests/test_errors.py"  # a test module without scenarios
MODULES = ("harness.model.scenario", "harness.lint", "harness.pytest_plugin", "harness.cli.main")


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed


def import_ms(module: str) -> float:
    """Cumulative import time of `module` in a fresh interpreter (-X importtime), in ms."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    pattern = re.compile(rf"^import time:\s+\d+ \|\s+(\d+) \| {re.escape(module)}$", re.M)
    found = pattern.search(proc.stderr)
    return int(found.group(1)) / 1000 if found else float("nan")


def collection_imports(names: tuple[str, ...]) -> dict[str, bool]:
    probe = (
        "import sys, pytest; "
        f"pytest.main(['-p', 'no:cacheprovider', '--collect-only', '-q', {SCENARIO!r}]); "
        f"print([n in sys.modules for n in {names!r}])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    flags = eval(proc.stdout.strip().splitlines()[-1])  # a list of bools we printed
    return dict(zip(names, flags, strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    cli = str(Path(sys.executable).parent / "ambient-harness")
    pytest = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q"]
    commands = {
        "ambient-harness --help": [cli, "--help"],
        f"ambient-harness lint {SCENARIO}": [cli, "lint", SCENARIO],
        f"pytest --collect-only {SCENARIO}": [*pytest, SCENARIO],
        # A run with no scenario in it: what every xdist worker pays before its first test.
        f"pytest --collect-only {PLAIN_TESTS}": [*pytest, PLAIN_TESTS],
        "  same, pytest-kind-ng's plugin loaded": [
            *pytest,
            "-o",
            "addopts=-ra --strict-markers",
            SCENARIO,
        ],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeat):  # interleaved, so a busy moment hits every command alike
        for name, argv in commands.items():
            times[name].append(timed(argv))
    print(f"start-up, min of {args.repeat} interleaved runs (s)")
    for name, runs in times.items():
        print(f"  {min(runs):6.3f}  {name}")
    print(f"imports, cumulative ms (-X importtime, min of {args.repeat})")
    for module in MODULES:
        best = min(import_ms(module) for _ in range(args.repeat))
        print(f"  {best:6.1f}  {module}")
    seen = collection_imports(("pykube", "requests", "pytest_kind"))
    print("imported by a collection: " + ", ".join(f"{n} {v}" for n, v in seen.items()))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    raise SystemExit(main())
