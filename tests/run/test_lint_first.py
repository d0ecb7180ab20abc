"""Every path that plans or applies lints first: `plan`, `run`, `run --dry-run`, `demo` refuse a
scenario lint rejects with exit 2 and do nothing of it (the pytest items: test_pytest_plugin)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from fakes.fake_kind import kubeconfig_text
from helpers import CRDS, closed_port, copy_scenario, main_in_process

from harness.cli.exitcodes import EXIT_USAGE

TYPO = {"action: ALLOW": "acton: ALLOW"}  # spec.acton: the API server would prune it silently


Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """The command's `main` in this process, in `cwd` (helpers.main_in_process)."""

    def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(CRDS))
        monkeypatch.chdir(cwd)
        return main_in_process(capsys, *args)

    return run


@pytest.fixture
def rejected(tmp_path: Path) -> Path:
    return copy_scenario("ambient-authz-l4", tmp_path, "typo", edit=TYPO)


def assert_refused(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == EXIT_USAGE, proc.stdout + proc.stderr
    assert 'spec.acton: unknown field "acton"' in proc.stderr
    assert "ratings-allow-productpage.yaml:11" in proc.stderr


def test_plan_lints_first(cli: Cli, rejected: Path, tmp_path: Path) -> None:
    proc = cli(tmp_path, "plan", str(rejected))
    assert_refused(proc)
    assert proc.stdout == ""


def test_dry_run_lints_first(cli: Cli, rejected: Path, tmp_path: Path) -> None:
    proc = cli(tmp_path, "run", str(rejected), "--dry-run")
    assert_refused(proc)
    assert proc.stdout == ""  # no plan of a scenario that would not do what it says


def test_run_lints_before_touching_the_cluster(cli: Cli, rejected: Path, tmp_path: Path) -> None:
    port = closed_port()
    kubeconfig = tmp_path / "kc.yaml"
    kubeconfig.write_text(kubeconfig_text(f"https://127.0.0.1:{port}", "mine"))
    report = tmp_path / "report.json"
    proc = cli(
        tmp_path, "run", str(rejected), f"--kubeconfig={kubeconfig}", f"--report-json={report}"
    )
    assert_refused(proc)
    assert str(port) not in proc.stderr  # the cluster was never contacted
    assert not report.exists()


def test_demo_lints_first(cli: Cli, rejected: Path, tmp_path: Path) -> None:
    # `demo` finds its catalogue in ./scenarios; an existing cluster skips the Docker check.
    proc = cli(tmp_path, "demo", "--kube-context", "mine", "--scenario", "typo")
    assert_refused(proc)


def test_a_valid_copy_passes_lint_so_the_refusals_are_about_the_typo(
    cli: Cli, tmp_path: Path
) -> None:
    fine = copy_scenario("ambient-authz-l4", tmp_path, "fine")
    proc = cli(tmp_path, "plan", str(fine))
    assert proc.returncode == 0, proc.stderr
