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
    assert "--context CONTEXT" in proc.stderr
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
         # A directory of no test module and no scenario: the run collects nothing without
         # importing tests/conftest.py (the fakes) or the scenario model.
         "PYTEST_ARGS=-q docs"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    assert "error: pytest collected no tests" in done.stderr


def _dry_demo(demo_args: str, bin_dir: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`make -n demo`: the recipe make would run, with no Docker on PATH."""
    return subprocess.run(
        ["make", "--no-print-directory", "-n", "demo", f"DEMO_ARGS={demo_args}",
         f"VENV={tmp_path / 'venv-not-created'}"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PATH": str(bin_dir)},
    )  # fmt: skip


def test_make_demo_on_an_existing_cluster_needs_no_docker(tmp_path: Path) -> None:
    """--context (the documented spelling), its alias --kube-context and --kubeconfig each
    name a cluster that exists: the recipe has no Docker check, only the demo itself."""
    bin_dir = tool_dir(tmp_path, "make", "sh")
    for args in ("--context x", "--context=x", "--kube-context x", "--kubeconfig /k/config"):
        proc = _dry_demo(args, bin_dir, tmp_path)
        assert proc.returncode == 0, (args, proc.stderr)
        assert "docker info" not in proc.stdout, args
        assert f"ambient-harness demo {args}" in proc.stdout, args
    assert "docker info" in _dry_demo("--scenario ambient-authz-l4", bin_dir, tmp_path).stdout


def test_every_hint_names_the_documented_spelling_context() -> None:
    """`--context` is the documented spelling (`--kube-context` stays an alias): the skip
    reason of every scenario item and e2e test, `run`'s and `make demo`'s hints say it."""
    from harness.cli.run import NO_CLUSTER_MESSAGE
    from harness.host.docker import NO_CLUSTER_HINT as DOCKER_HINT
    from harness.pytest_plugin import NO_CLUSTER

    assert NO_CLUSTER == "no cluster: pass --cluster=kind, --context=CONTEXT or --kubeconfig=PATH"
    for hint in (NO_CLUSTER_MESSAGE, DOCKER_HINT, (REPO / "Makefile").read_text()):
        assert "--context" in hint
    readme = (REPO / "README.md").read_text()
    assert f"`{NO_CLUSTER[:40]}" in readme.replace("\n", " ")


def test_the_readme_says_how_make_reports_the_cli_exit_code(tmp_path: Path) -> None:
    """make turns the CLI's 3 into its own 2 and prints `Error 3`: the README says both."""
    bin_dir = tool_dir(tmp_path, "make", "sh")
    proc = make_demo(str(bin_dir), tmp_path)
    assert proc.returncode == 2 and "] Error 3" in proc.stderr
    readme = (REPO / "README.md").read_text().replace("\n", " ")
    assert "The `make` targets exit 2 on any failure" in readme
    assert "demo] Error 3` is the CLI's 3" in readme
