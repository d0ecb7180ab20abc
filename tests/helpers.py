"""Plain helpers shared by test modules (fixtures live in conftest.py).

Imported as `from helpers import ...`: pytest puts tests/ on sys.path (no __init__.py), the
same way `fake_apiserver` and `envoy_fixture` are found. Never `from tests.conftest import`:
that only works when the current directory happens to be on sys.path (`python -m pytest`),
not under the plain `pytest` entry point, and it imports conftest a second time.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from harness.host import paths

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
# The catalogue the project ships (README's table, tests/catalogue's rows). Tests that hold
# every catalogue scenario to a golden file or to the model iterate this, never a listing of
# scenarios/: a user's own scenario beside them has no golden file and is no test's concern.
SHIPPED_SCENARIOS: tuple[str, ...] = (
    "ambient-authz-l4",
    "ambient-authz-l7-no-waypoint",
    "ambient-authz-l7-waypoint",
    "ambient-fault-vs-authz",
    "ambient-l7-features",
    "ambient-mtls-strict",
    "ambient-routing-header",
    "ambient-tcproute",
    "ambient-traffic-shift",
    "sidecar-authz-l4",
    "sidecar-authz-l7",
    "sidecar-fault-vs-authz",
    "sidecar-traffic-shift",
)


def shipped_catalogue(root: Path) -> list[Path]:
    """The shipped scenarios under `root` (a scenarios/ directory), in name order; anything
    else there (a user's own scenario) is left out."""
    return [root / name for name in SHIPPED_SCENARIOS if (root / name / "scenario.yaml").is_file()]


def _crd_dir() -> Path:
    """The CRD directory exactly as the Makefile resolves it (and exports to the CLI):
    $AMBIENT_HARNESS_CRD_DIR, else ../shared/crds beside the repo (CI, developers), else the
    user cache the CLI defaults to (`ambient-harness schemas fetch` fills it)."""
    configured = os.environ.get(paths.CRD_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    beside = REPO.parent / "shared" / "crds"
    return beside if beside.is_dir() else paths.crd_dir()


CRDS = _crd_dir()


def closed_port() -> int:
    """A loopback port nobody listens on: bound by the kernel, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main_in_process(
    capsys: pytest.CaptureFixture[str], *args: str
) -> subprocess.CompletedProcess[str]:
    """`ambient-harness ARGS` as the command's `main` in this process, in the current
    directory: the exit status and output `python -m harness` (whose __main__ only calls
    it) gives, without starting an interpreter."""
    from harness.cli.main import main

    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["ambient-harness", *args], code, out, err)


def fresh_python_json(script: str, *args: str) -> Any:
    """`script` run by a fresh interpreter from the repository root (`python -c SCRIPT ARGS`):
    the JSON of the last line it printed. A failed run fails the test with its output."""
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_cli(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m harness ARGS` from the repository root, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,  # only bounds a hang; every command here answers in well under a second
        env={**os.environ, **(env or {})},
        check=False,
    )


def copy_scenario(
    source: str,
    root: Path,
    name: str,
    *,
    features: list[str] | None = None,
    edit: Mapping[str, str] | None = None,
) -> Path:
    """A copy of the catalogue's `source` scenario as `root/scenarios/<name>`, renamed (its
    namespaces and principals follow the name), with other `features` and text `edit`s
    (old -> new, in every file). Returns the scenario directory."""
    target = root / "scenarios" / name
    shutil.copytree(SCENARIOS / source, target)
    for file in target.rglob("*.yaml"):
        text = file.read_text(encoding="utf-8").replace(source, name)
        for old, new in (edit or {}).items():
            text = text.replace(old, new)
        if features is not None and file.name == "scenario.yaml":
            lines = [
                f"features: [{', '.join(features)}]" if line.startswith("features:") else line
                for line in text.splitlines()
            ]
            text = "\n".join(lines) + "\n"
        file.write_text(text, encoding="utf-8")
    return target
