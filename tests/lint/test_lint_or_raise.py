"""`lint_or_raise`: the gate every planning or applying path goes through."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import SCENARIOS
from lint_corpus import CORPUS

from harness.errors import HarnessError
from harness.lint import LintFailed, lint_or_raise, load_and_lint
from harness.model import source
from harness.model.scenario import load_scenario
from harness.model.source import SourceError


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


def test_load_and_lint_parses_a_scenario_once_and_agrees_with_the_two_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pytest plugin's collection: one parse of scenario.yaml gives what `load_scenario`
    then `lint_or_raise` gave (the same scenario, the same problems, the same load errors)."""
    parsed: list[Path] = []
    real = source.parse_documents

    def counting(file: Path, text: str) -> list[source.Document]:
        parsed.append(file)
        return real(file, text)

    files = sorted(CORPUS.glob("*/scenario.yaml")) + sorted(SCENARIOS.glob("*/scenario.yaml"))
    assert len(files) > 20
    for file in files:
        try:
            expected = load_scenario(file)
        except SourceError as exc:
            with pytest.raises(SourceError) as info:
                load_and_lint(file)
            assert info.value.problems == exc.problems, file
            continue
        try:
            lint_or_raise([file])
            problems: list[str] = []
        except LintFailed as exc:
            problems = exc.problems
        monkeypatch.setattr(source, "parse_documents", counting)
        parsed.clear()
        assert load_and_lint(file) == (expected, problems), file
        monkeypatch.undo()
        assert parsed.count(file) == 1, file
