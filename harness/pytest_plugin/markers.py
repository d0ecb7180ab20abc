"""Scenario features as pytest markers: which names are taken, which features exist.

A feature is a label for selection (`-m l7`); it must never change an outcome, so a feature
named like a marker that pytest or another plugin registered (`skip`, `xfail`, `timeout`,
`usefixtures`, ...) is refused (the item errors) instead of applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.errors import HarnessError
from harness.pytest_plugin.session import harness_session

if TYPE_CHECKING:
    from harness.model.scenario import Scenario
    from harness.model.source import Document

# The scenarios `features_in` parsed, by resolved path: collection lints these instead of
# reading and validating every file a second time.
PARSED = pytest.StashKey[dict[Path, tuple["Document", "Scenario"]]]()
# Set once the features are registered as markers (`register_features`).
FEATURES_REGISTERED = pytest.StashKey[bool]()


def registered_markers(config: pytest.Config) -> frozenset[str]:
    """Names of every marker registered so far (pytest's own, plugins', the ini file's)."""
    names = set()
    for line in config.getini("markers"):
        name = line.split(":", 1)[0].split("(", 1)[0].strip()
        if name:
            names.add(name)
    return frozenset(names)


def _scenario_roots(config: pytest.Config) -> Iterable[Path]:
    yield config.rootpath / "scenarios"
    for arg in config.args:
        path = Path(arg.split("::", 1)[0])
        yield path if path.is_absolute() else config.invocation_params.dir / path


def features_in(config: pytest.Config) -> dict[str, set[str]]:
    """marker name -> the scenarios declaring it, for the scenarios this run can see (each one
    parsed is kept in `config.stash[PARSED]` for its collection)."""
    # The scenario model (pydantic) only when features are asked for: see __init__.py.
    from harness.model.scenario import discover, one_document, parse_scenario
    from harness.model.source import load_documents

    found: dict[str, set[str]] = {}
    parsed = config.stash.setdefault(PARSED, {})
    for file in discover([p for p in _scenario_roots(config) if p.exists()]):
        try:
            doc = one_document(file, load_documents(file))
            scenario = parse_scenario(doc, file.parent)
        except HarnessError:  # reported when the file is collected
            continue
        parsed[file.resolve()] = (doc, scenario)
        for marker in scenario.markers[1:]:  # [0] is the data plane
            found.setdefault(marker, set()).add(scenario.name)
    return found


def register_features(config: pytest.Config) -> None:
    """Each scenario's features as a marker (once per run), so `pytest --markers` lists them and
    --strict-markers accepts them; one that is already a marker (pytest's, another plugin's) is
    refused when its scenario is collected, never registered here."""
    if config.stash.get(FEATURES_REGISTERED, False):
        return
    config.stash[FEATURES_REGISTERED] = True
    foreign = harness_session(config).foreign_markers
    for feature, scenarios in sorted(features_in(config).items()):
        if feature not in foreign:
            config.addinivalue_line(
                "markers", f"{feature}: scenario feature ({', '.join(sorted(scenarios))})"
            )
