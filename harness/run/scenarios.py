"""Which scenarios a command means: paths (files or directories) turned into loaded scenarios."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.model.scenario import Scenario, discover, load_scenario
from harness.model.source import SourceError
from harness.run.errors import NoScenarioFound


def load_scenarios(paths: Sequence[Path]) -> list[Scenario]:
    """Scenarios under `paths` (default: scenarios/); raises SourceError listing problems."""
    files = discover(list(paths) or [Path("scenarios")])
    if not files:
        where = ", ".join(str(p) for p in paths) or "scenarios/"
        raise NoScenarioFound(f"no scenario found in {where}")
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
