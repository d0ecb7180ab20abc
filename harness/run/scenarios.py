"""Which scenarios a command means: paths (files or directories) turned into loaded scenarios."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.lint import lint_or_raise
from harness.model.files import SCENARIO_FILE
from harness.model.scenario import Scenario, discover, load_scenario
from harness.model.source import SourceError
from harness.run.errors import NoScenarioFound


def catalogue_dir() -> Path:
    """./scenarios when run from a checkout, else the one beside the package."""
    here = Path("scenarios")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[2] / "scenarios"


def scenario_paths(targets: Sequence[str | Path]) -> list[Path]:
    """Each target as a path: an existing file or directory, else a catalogue scenario's name
    (as `demo --scenario` takes it). No targets: the whole catalogue."""
    if not targets:
        return [catalogue_dir()]
    found: list[Path] = []
    unknown: list[str] = []
    for target in targets:
        path = Path(target)
        named = catalogue_dir() / str(target) / SCENARIO_FILE
        if path.exists():
            found.append(path)
        elif "/" not in str(target) and named.is_file():
            found.append(named.parent)
        else:
            unknown.append(str(target))
    if unknown:
        names = sorted(p.parent.name for p in catalogue_dir().glob(f"*/{SCENARIO_FILE}"))
        raise NoScenarioFound(
            f"no scenario file, directory or name {', '.join(unknown)}; "
            f"the catalogue ({catalogue_dir()}) has: {', '.join(names) or 'none'}"
        )
    return found


def load_scenarios(targets: Sequence[str | Path]) -> list[Scenario]:
    """The scenarios `targets` name (see `scenario_paths`), linted first: raises `LintFailed`
    with every located problem, `NoScenarioFound` when there is none."""
    paths = scenario_paths(targets)
    files = discover(paths)
    if not files:
        raise NoScenarioFound(f"no scenario found in {', '.join(str(p) for p in paths)}")
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
