"""`ambient-harness lint` end to end: the malformed corpus, the repo's scenarios, the summary,
against the real pinned CRDs."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import REPO, SCENARIOS, main_in_process
from lint_corpus import CASES, CORPUS, case_targets, lint_output

from harness.lint import crds
from harness.lint.objects import validate_object
from harness.lint.resolution import resolve
from harness.model.source import parse_documents


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25
    assert all((CORPUS / c / "expected.txt").is_file() for c in CASES)


def test_no_crds_are_copied_into_the_repo() -> None:
    yaml_files = [p for d in ("harness", "tests", "scenarios") for p in (REPO / d).rglob("*.yaml")]
    assert yaml_files
    assert not [p for p in yaml_files if b"kind: CustomResourceDefinition" in p.read_bytes()]


@pytest.mark.parametrize("name", CASES)
def test_malformed_case(name: str) -> None:
    case = CORPUS / name
    expected = (case / "expected.txt").read_text()
    rc, out = lint_output(case_targets(case), strip=case)
    assert out == expected
    summary = expected.splitlines()[-1]
    assert rc == (0 if summary.startswith("no problems") else 2)


def test_every_failing_case_has_a_located_problem() -> None:
    """`file:line: ...` for every failing case; the valid ones (notes at most) pass."""
    for name in CASES:
        lines = (CORPUS / name / "expected.txt").read_text().splitlines()
        located = [ln for ln in lines if ln.split(":")[1:2] and ln.split(":")[1].isdigit()]
        if lines[-1].startswith("no problems"):
            assert all(": note: " in ln for ln in located), name
        else:
            assert any(": note: " not in ln for ln in located), name


def test_repo_scenarios_pass_lint() -> None:
    rc, out = lint_output([SCENARIOS])
    count = len(list(SCENARIOS.glob("*/scenario.yaml")))
    assert out.splitlines()[-1] == f"no problems in {count} scenario" + ("s" if count != 1 else "")
    assert rc == 0, out


def test_repo_manifests_were_really_validated() -> None:
    """The clean result above is not vacuous: a typo in a repo manifest is caught."""
    rc, out = lint_output([SCENARIOS])
    assert rc == 0 and "note:" not in out
    manifests = sorted(SCENARIOS.glob("*/manifests/*.yaml"))
    assert manifests
    index = crds.load_index()
    for path in manifests:
        for doc in parse_documents(path, path.read_text()):
            res = resolve(index, doc.data["apiVersion"], doc.data["kind"])
            assert res.error is None and res.schema is not None, path
            broken = {**doc.data, "spec": {**doc.data.get("spec", {}), "specc": 1}}
            errors = [str(e) for e in validate_object(broken, res)]
            assert 'spec.specc: unknown field "specc"' in errors[0], path


def test_summary_counts_problems_and_failing_scenarios() -> None:
    rc, out = lint_output(
        [CORPUS / "crd-bad-enum", CORPUS / "bad-url", SCENARIOS / "ambient-authz-l4"]
    )
    assert rc == 2
    assert out.splitlines()[-1] == "4 problems in 2 of 3 scenarios"


def test_output_is_sorted_by_file_and_line() -> None:
    case = CORPUS / "scenario-error-manifest-checked"
    rc, out = lint_output([case], strip=case)
    assert rc == 2
    assert out.splitlines()[:2] == [
        'manifests/policy.yaml:10: spec.acton: unknown field "acton" (did you mean "action"?)',
        "scenario.yaml:5: dataplan: unknown field (did you mean 'dataplane'?); valid fields: "
        "name, title, description, references, dataplane, features, compare_with, namespaces, "
        "backends, clients, waypoints, steps",
    ]


def test_nothing_to_lint_is_an_error(tmp_path: Path) -> None:
    rc, out = lint_output([tmp_path])
    assert (rc, out) == (2, f"error: no scenario.yaml found under {tmp_path}\n")
    rc, out = lint_output([tmp_path / "missing"])
    assert (rc, out) == (2, f"error: {tmp_path / 'missing'}: no such file or directory\n")


Linted = subprocess.CompletedProcess[str]


@pytest.fixture
def cli_lint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Linted]:
    """`ambient-harness lint ARGS` from the repository root, in this process (the command's
    own wiring: its options, judge's samples check, the exit status; tests/lint/
    test_corpus_cli.py runs the real `python -m harness lint` process)."""

    def lint(*args: str) -> Linted:
        monkeypatch.chdir(REPO)
        return main_in_process(capsys, "lint", *args)

    return lint


def test_cli_lint_bad_case_prints_locations_and_exits_2(cli_lint: Callable[..., Linted]) -> None:
    proc = cli_lint("tests/malformed/crd-unknown-field")
    assert proc.returncode == 2
    assert proc.stdout.splitlines() == [
        "tests/malformed/crd-unknown-field/manifests/policy.yaml:10: spec.acton: "
        'unknown field "acton" (did you mean "action"?)',
        "tests/malformed/crd-unknown-field/manifests/policy.yaml:13: "
        'spec.rules[0].from[0].sources: unknown field "sources" (did you mean "source"?)',
        "2 problems in 1 of 1 scenario",
    ]


def test_cli_lint_repo_scenarios_exits_0(cli_lint: Callable[..., Linted]) -> None:
    proc = cli_lint("scenarios/")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("no problems in ")


def test_cli_lint_warns_when_samples_are_below_the_tolerance(
    tmp_path: Path, cli_lint: Callable[..., Linted]
) -> None:
    """The command passes judge's samples check into lint (lint itself does not import judge)."""
    scenario = tmp_path / "ambient-tcproute"
    shutil.copytree(SCENARIOS / "ambient-tcproute", scenario)
    text = (scenario / "scenario.yaml").read_text()
    probe = "        expect: {split: {v1: 50, v2: 50}, l7: false}\n"
    assert probe in text
    (scenario / "scenario.yaml").write_text(text.replace(probe, probe + "        samples: 20\n"))
    proc = cli_lint(str(scenario))
    assert proc.returncode == 0, proc.stdout
    (warning,) = [ln for ln in proc.stdout.splitlines() if ": warning: " in ln]
    assert warning.startswith(f"{scenario}/scenario.yaml:58: warning: samples 20 is below the ")


def test_a_misnamed_scenario_in_a_catalogue_is_not_skipped(tmp_path: Path) -> None:
    catalogue = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS / "ambient-authz-l4", catalogue / "ambient-authz-l4")
    shutil.copytree(SCENARIOS / "ambient-mtls-strict", catalogue / "ambient-mtls-strict")
    (catalogue / "ambient-mtls-strict" / "scenario.yaml").rename(
        catalogue / "ambient-mtls-strict" / "scenario.yml"
    )
    (catalogue / "notes").mkdir()  # not a scenario: no scenario file of any name
    (catalogue / "notes" / "todo.yaml").write_text("- later\n")
    rc, out = lint_output([catalogue], strip=catalogue)
    assert (rc, out) == (
        2,
        "ambient-mtls-strict/scenario.yaml:1: file not found: a scenario directory holds "
        "scenario.yaml; found scenario.yml: rename it to scenario.yaml\n"
        "1 problem in 1 of 2 scenarios\n",
    )
