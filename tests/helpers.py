"""Plain helpers shared by test modules (fixtures live in conftest.py).

Imported as `from helpers import ...`: pytest puts tests/ on sys.path (no __init__.py), the
same way `fake_apiserver` and `envoy_fixture` are found. Never `from tests.conftest import`:
that only works when the current directory happens to be on sys.path (`python -m pytest`),
not under the plain `pytest` entry point, and it imports conftest a second time.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from harness.host import paths

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"


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
