"""The acceptance test of the mesh model: every probe of every catalogue scenario is predicted
from the topology and the manifests alone, and the prediction agrees with what the scenario
declares — 100 %, with no knowledge of any scenario in the model itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from helpers import REPO, SCENARIOS, SHIPPED_SCENARIOS, copy_scenario, shipped_catalogue
from predict_builders import policy, principal, probe, write_scenario

from harness.model.scenario import load_scenario
from harness.predict import contradictions, predict_scenario, probe_disagreements

CATALOGUE = [p.name for p in shipped_catalogue(SCENARIOS)]
MODEL = REPO / "harness" / "predict"


def test_the_catalogue_has_its_thirteen_scenarios() -> None:
    assert CATALOGUE == list(SHIPPED_SCENARIOS) == sorted(SHIPPED_SCENARIOS)
    assert len(CATALOGUE) == 13


def test_a_users_own_scenario_is_not_part_of_the_catalogue(tmp_path: Path) -> None:
    """The list the catalogue tests iterate: a user's scenario beside the shipped ones (as
    scenarios/myteam-check/) is left out, a shipped one removed is missing from it."""
    root = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, root)
    copy_scenario("ambient-authz-l4", tmp_path, "myteam-added")
    assert (root / "myteam-added" / "scenario.yaml").is_file()
    assert [p.name for p in shipped_catalogue(root)] == list(SHIPPED_SCENARIOS)
    shutil.rmtree(root / "sidecar-authz-l7")
    assert "sidecar-authz-l7" not in [p.name for p in shipped_catalogue(root)]


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


def test_a_contradiction_is_reported_at_the_probe(tmp_path: Path) -> None:
    """The model disagrees with a scenario that expects a 403 where ztunnel resets: reported
    at the line of that probe's expect, with the model's reason."""
    pol = policy(
        {
            "selector": {"matchLabels": {"app": "ratings"}},
            "rules": [{"from": [{"source": {"principals": [principal("productpage")]}}]}],
        }
    )
    probes = [probe("productpage"), probe("reviews", expect="denied-l7")]
    directory = write_scenario(tmp_path, manifests=[pol], probes=probes)
    (problem,) = contradictions(load_scenario(directory))
    lines = (directory / "scenario.yaml").read_text(encoding="utf-8").splitlines()
    assert problem.file == directory / "scenario.yaml"
    assert lines[problem.line - 1].strip().removeprefix("- ") == "expect: denied-l7"
    assert problem.message.startswith("steps[0].probes[1].expect: expects denied-l7, the model")
    assert "destination ztunnel" in problem.message and "rules/p (ALLOW)" in problem.message


def test_a_step_applies_then_deletes_as_the_runner_does(tmp_path: Path) -> None:
    """An object in both a step's apply and delete files is gone after the step."""
    deny_all = policy({"selector": {"matchLabels": {"app": "ratings"}}})
    directory = write_scenario(tmp_path, manifests=[deny_all], probes=[probe("productpage")])
    path = directory / "scenario.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["steps"][0]["delete"] = ["manifests/m0.yaml"]
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    (item,) = predict_scenario(load_scenario(directory))
    assert item.prediction.outcome == "allowed"
