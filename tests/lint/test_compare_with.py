"""`compare_with`: the partner a scenario names for the demo's matrix exists beside it (a typo
would silently drop the talk's comparison). One on the same data plane is never paired
(tests/report/test_report.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import SCENARIOS, copy_scenario

from harness.lint import load_and_lint
from harness.model.source import SourceError


def _problems(scenario: Path) -> list[str]:
    _, problems = load_and_lint(scenario, use_schemas=False)
    return problems


def test_the_catalogue_partner_is_found() -> None:
    assert _problems(SCENARIOS / "ambient-authz-l7-waypoint") == []


def test_a_partner_missing_from_the_same_directory_is_a_problem(tmp_path: Path) -> None:
    target = copy_scenario("ambient-authz-l7-waypoint", tmp_path, "mine")  # partner not copied
    copy_scenario("sidecar-authz-l4", tmp_path, "sidecar-authz-l8")
    [problem] = _problems(target)
    assert problem.startswith(f"{target / 'scenario.yaml'}:31: compare_with: ")
    assert f"no scenario 'sidecar-authz-l7' in {tmp_path / 'scenarios'}" in problem
    assert '(did you mean "sidecar-authz-l8"?)' in problem
    # Beside it, the same file passes.
    shutil.copytree(SCENARIOS / "sidecar-authz-l7", tmp_path / "scenarios" / "sidecar-authz-l7")
    assert _problems(target) == []


def test_a_scenario_compared_with_itself_does_not_load(tmp_path: Path) -> None:
    target = copy_scenario(
        "ambient-authz-l7-waypoint",
        tmp_path,
        "mine",
        edit={"compare_with: sidecar-authz-l7": "compare_with: mine"},
    )
    with pytest.raises(SourceError, match="compare_with: names this scenario itself"):
        load_and_lint(target, use_schemas=False)
