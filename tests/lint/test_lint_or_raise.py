"""`lint_or_raise`: the gate every planning or applying path goes through."""

from __future__ import annotations

import pytest
from helpers import SCENARIOS
from lint_corpus import CORPUS

from harness.errors import HarnessError
from harness.lint import LintFailed, lint_or_raise


def test_a_clean_scenario_passes() -> None:
    lint_or_raise([SCENARIOS / "ambient-authz-l4" / "scenario.yaml"])
    lint_or_raise([SCENARIOS / "ambient-authz-l4"])  # its directory is accepted too


def test_a_failing_scenario_raises_every_located_problem() -> None:
    case = CORPUS / "crd-unknown-field"
    with pytest.raises(LintFailed) as info:
        lint_or_raise([SCENARIOS / "ambient-authz-l4", case / "scenario.yaml"])
    assert isinstance(info.value, HarnessError)
    assert info.value.problems == [
        f'{case}/manifests/policy.yaml:10: spec.acton: unknown field "acton" '
        '(did you mean "action"?)',
        f"{case}/manifests/policy.yaml:13: spec.rules[0].from[0].sources: "
        'unknown field "sources" (did you mean "source"?)',
    ]
    assert str(info.value) == "\n".join(info.value.problems)


def test_notes_do_not_fail() -> None:
    lint_or_raise([CORPUS / "unknown-group-note"])
