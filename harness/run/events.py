"""What the runner tells whoever is watching: the demo narrates, pytest stays quiet.

The runner calls these hooks in order; every method has a no-op default so an observer
implements only what it shows.
"""

from __future__ import annotations

from harness.model.results import ProbeResult, ScenarioResult, StepResult
from harness.model.scenario import Scenario, Step


class RunObserver:
    def phase(self, message: str) -> None:
        """A long set-up operation starts (cluster, Istio install, workloads ready, ...)."""

    def phase_done(self, message: str, elapsed_s: float) -> None:
        """The operation announced by `phase` finished."""

    def scenario_started(self, scenario: Scenario) -> None: ...

    def step_started(self, scenario: Scenario, step: Step, manifests: dict[str, str]) -> None:
        """`manifests` maps each applied/deleted path to its YAML text, for showing."""

    def probe_finished(self, scenario: Scenario, step: Step, result: ProbeResult) -> None: ...

    def step_finished(self, scenario: Scenario, result: StepResult) -> None: ...

    def scenario_finished(self, result: ScenarioResult) -> None: ...
