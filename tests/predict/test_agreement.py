"""The acceptance test of the mesh model: every probe of every catalogue scenario is predicted
from the topology and the manifests alone, and the prediction agrees with what the scenario
declares — 100 %, with no knowledge of any scenario in the model itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import REPO, SCENARIOS

from harness.model.scenario import discover, load_scenario
from harness.predict import contradictions, predict_scenario, probe_disagreements

CATALOGUE = [p.parent.name for p in discover([SCENARIOS])]
MODEL = REPO / "harness" / "predict"


def test_the_catalogue_has_its_thirteen_scenarios() -> None:
    assert len(CATALOGUE) == 13


@pytest.mark.parametrize("name", CATALOGUE)
def test_every_probe_agrees_with_the_model(name: str) -> None:
    scenario = load_scenario(SCENARIOS / name)
    items = list(predict_scenario(scenario))
    assert len(items) == sum(len(st.probes) for st in scenario.steps) > 0
    wrong = {
        f"{it.step.name}[{it.probe_index}]": probe_disagreements(it)
        for it in items
        if probe_disagreements(it)
    }
    assert wrong == {}
    # A claim, not a shrug: the model is certain of every catalogue probe and names who decides.
    assert [it.prediction.uncertain for it in items] == [None] * len(items)
    assert all(it.prediction.enforced_by and it.prediction.because for it in items)


@pytest.mark.parametrize("name", CATALOGUE)
def test_no_contradiction_in_the_catalogue(name: str) -> None:
    assert contradictions(load_scenario(SCENARIOS / name)) == []


def test_the_model_knows_no_scenario() -> None:
    """No per-scenario special case: no scenario name, namespace or manifest file in the model."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in MODEL.glob("*.py"))
    names = set(CATALOGUE) | {
        Path(rel).name
        for name in CATALOGUE
        for st in load_scenario(SCENARIOS / name).steps
        for rel in [*st.apply, *st.delete]
    }
    assert sorted(n for n in names if n in source) == []
