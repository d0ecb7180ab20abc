"""What a report records of the scenario beside its results, so it can be read (and a demo
replayed, `ambient-harness demo --replay`) without the scenario files: descriptions, step
narratives, the manifests' text, each probe's identity and whether a waypoint serves it.

The runner calls `record_step` when a step ends and `record_scenario` when the scenario does.
"""

from __future__ import annotations

from harness.judge.enforcement import destination_service, waypoint_serves
from harness.model.results import ProbeResult, ScenarioResult, StepResult
from harness.model.scenario import Probe, Scenario, Step
from harness.model.topology import Topology, topology


def _record_probe(result: ProbeResult, probe: Probe, scenario: Scenario, topo: Topology) -> None:
    try:
        result.identity = topo.agent(probe.from_).principal
    except KeyError:
        result.identity = None  # the loader refuses unknown clients; nothing to name
    result.waypoint = waypoint_serves(scenario, destination_service(probe.url))


def record_step(result: StepResult, step: Step, scenario: Scenario) -> None:
    """The step's narrative and manifests, and each probe's identity and waypoint."""
    result.narrative = step.narrative
    result.manifests = {
        p: scenario.manifest_path(p).read_text(encoding="utf-8")
        for p in (*step.apply, *step.delete)
        if scenario.manifest_path(p).is_file()
    }
    topo = topology(scenario)
    for pr, probe in zip(result.probes, step.probes, strict=False):
        _record_probe(pr, probe, scenario, topo)


def record_scenario(result: ScenarioResult, scenario: Scenario) -> None:
    """The description and references, and every recorded step (run or not)."""
    result.description = scenario.description
    result.references = list(scenario.references)
    result.compare_with = scenario.compare_with
    steps = {st.name: st for st in scenario.steps}
    for sr in result.steps:
        step = steps.get(sr.name)
        if step is not None:
            record_step(sr, step, scenario)
