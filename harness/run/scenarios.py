"""Which scenarios a command means: paths (files or directories) turned into loaded scenarios."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.lint import lint_or_raise
from harness.model.scenario import Scenario, discover, load_scenario
from harness.model.source import SourceError
from harness.run.errors import NoScenarioFound


def load_scenarios(paths: Sequence[Path]) -> list[Scenario]:
    """Scenarios under `paths` (default: scenarios/), linted first: raises `LintFailed` with
    every located problem, `NoScenarioFound` when there is none."""
    files = discover(list(paths) or [Path("scenarios")])
    if not files:
        where = ", ".join(str(p) for p in paths) or "scenarios/"
        raise NoScenarioFound(f"no scenario found in {where}")
    lint_or_raise(files)
    loaded: list[Scenario] = []
    problems = []
    for f in files:
        try:
            loaded.append(load_scenario(f))
        except SourceError as exc:
            problems += exc.problems
    if problems:
        raise SourceError(problems)
    return loaded
