"""The command line follows kubectl's and pytest's habits: `--context`, `-o FORMAT`, scenarios by
name or path, options only where they mean something, a dry run that does not pose as a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers import REPO

from harness.cli import main as cli
from harness.cli.exitcodes import EXIT_OK, EXIT_USAGE


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def test_context_is_kubectls_spelling_and_kube_context_still_works(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for spelling in ("--context", "--kube-context"):
        code, out, err = run(
            capsys, "run", "ambient-authz-l4", "--dry-run", spelling, "mine", "--kubeconfig", "kc"
        )
        assert code == EXIT_OK, err
        assert "existing cluster, context 'mine' of kc" in out
        assert "--context=mine" in out or "--context mine" in out


def test_pytest_takes_context_too(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)  # pytester moved to its own directory
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--help")
    assert "--context=KUBE_CONTEXT, --kube-context=KUBE_CONTEXT" in result.stdout.str()


def test_plan_output_formats_and_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, as_json, err = run(capsys, "plan", "ambient-authz-l4", "-o", "json")
    assert code == EXIT_OK, err
    code, as_yaml, err = run(capsys, "plan", "ambient-authz-l4", "--output", "yaml")
    assert code == EXIT_OK, err
    assert yaml.safe_load(as_yaml) == json.loads(as_json)
    code, old, _ = run(capsys, "plan", "scenarios/ambient-authz-l4", "--format", "json")
    assert old == as_json  # by path, and with the older option name, the same plan
    code, text, _ = run(capsys, "plan", "ambient-authz-l4", "sidecar-authz-l4")
    assert code == EXIT_OK
    assert text.startswith("ambient-authz-l4 — ") and "\n\nsidecar-authz-l4 — " in text


def test_an_unknown_name_lists_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["plan", "no-such"], ["run", "no-such", "--dry-run"]):
        code, out, err = run(capsys, *command)
        assert code == EXIT_USAGE
        assert out == ""
        assert "no scenario file, directory or name no-such" in err
        assert "ambient-authz-l4" in err


def test_run_takes_names_and_directories(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "run", "sidecar-authz-l4", "scenarios/ambient-tcproute", "--dry-run"
    )
    assert code == EXIT_OK, err
    assert "\nscenario sidecar-authz-l4 — " in out and "\nscenario ambient-tcproute — " in out
    assert out.count("\nscenario ") == 2


@pytest.mark.parametrize(
    "option", ["--keep", "--keep-cluster", "--artifacts=x", "--istio-version=1.2.3"]
)
def test_cluster_refuses_options_that_mean_nothing_there(
    option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["cluster", "status", option])
    assert exc.value.code == EXIT_USAGE
    assert "unrecognized arguments" in capsys.readouterr().err


def test_a_dry_run_refuses_to_write_a_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    code, out, err = run(capsys, "run", "ambient-authz-l4", "--dry-run", f"--report-json={report}")
    assert code == EXIT_USAGE
    assert out == ""
    assert "--dry-run runs nothing" in err
    assert not report.exists()
