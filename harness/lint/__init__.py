"""Lint: scenario files and their manifests against the real CRD schemas, the built-in kinds
and each other. `lint_or_raise` is what every path that plans or applies calls first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.errors import HarnessError


class LintFailed(HarnessError):
    """A scenario failed lint: nothing of it may be planned or applied (exit 2)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def lint_or_raise(scenario_files: Sequence[Path]) -> None:
    """Lint the given scenario.yaml files; raise `LintFailed` with every located problem."""
    from harness.lint import checks  # placeholder until the lint split lands

    findings = checks.Findings()
    index = checks._load_index(findings)
    problems = [str(p) for p in findings.problems]
    for file in scenario_files:
        problems.extend(str(p) for p in checks.lint_scenario(file, index).problems)
    if problems:
        raise LintFailed(problems)
