"""`make demo` without Docker stops before installing anything, with a message that helps."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from helpers import REPO

FAKE_DOCKER = """#!/bin/sh
echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2
exit 1
"""


def make_demo(path: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # VENV points at a directory that does not exist: had make got past the check, it would
    # have started creating a virtualenv there.
    venv = tmp_path / "venv-not-created"
    env = {**os.environ, "PATH": path}
    return subprocess.run(
        ["make", "--no-print-directory", "demo", f"VENV={venv}"],
        cwd=REPO, capture_output=True, text=True, env=env, timeout=60,
    )


def tool_dir(tmp_path: Path, *tools: str) -> Path:
    """A PATH entry with only the tools the Makefile needs before its Docker check."""
    d = tmp_path / "bin"
    d.mkdir(exist_ok=True)
    for name in tools:
        found = shutil.which(name)
        assert found, name
        (d / name).symlink_to(found)
    return d


def test_make_demo_without_docker_engine(tmp_path: Path) -> None:
    bin_dir = tool_dir(tmp_path, "make", "sh")
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    proc = make_demo(str(bin_dir), tmp_path)
    assert proc.returncode != 0
    assert "make demo needs a running Docker engine" in proc.stderr
    assert "docker info failed" in proc.stderr
    assert "ambient-harness plan scenarios/ambient-authz-l4" in proc.stderr
    assert "--kube-context CONTEXT" in proc.stderr
    assert not (tmp_path / "venv-not-created").exists()


def test_make_demo_without_docker_cli(tmp_path: Path) -> None:
    bin_dir = tool_dir(tmp_path, "make", "sh")
    proc = make_demo(str(bin_dir), tmp_path)
    assert proc.returncode != 0
    assert "(docker is not installed)" in proc.stderr
    assert not (tmp_path / "venv-not-created").exists()


def test_make_help_lists_every_documented_target() -> None:
    import re

    makefile = (REPO / "Makefile").read_text()
    documented = set(re.findall(r"^([A-Za-z0-9_-]+):[^\n]*##", makefile, re.M))
    out = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    listed = {line.split("\t")[0] for line in out.splitlines()}
    assert "e2e" in documented and listed == documented


def test_make_test_says_when_nothing_was_collected() -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "test", "PYTEST_WORKERS=0",
         # A scenario, not a test module: nothing imports tests/conftest.py (the fakes, the
         # Kubernetes client) for a run that selects nothing.
         "PYTEST_ARGS=-q -k no_test_is_named_like_this scenarios/ambient-authz-l4"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    assert "error: pytest collected no tests" in done.stderr
