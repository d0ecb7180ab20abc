"""A ready fake of the runner's ports (harness/run/ports.py): `ScriptedOps` records every
`ClusterOps` call and answers probes through `ScriptedLink` from a script of
(client, headers, seconds since the step's apply) -> Outcome, on a `FakeClock`; `Recorder`
keeps the observer's events."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.kube.objects import Manifest, ObjectRef
from harness.model.outcome import Outcome, ProbeError
from harness.model.results import ProbeResult, ScenarioResult, StepResult
from harness.model.scenario import Scenario, Step
from harness.model.topology import AgentPlan, NamespacePlan, WaypointPlan
from harness.probe.prober import AgentUnreachable
from harness.run.events import RunObserver


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


ALLOWED = Outcome(status=200, served_by="ratings-v1")
RESET = Outcome(status=502, probe_error=ProbeError.RESET)

# (client, headers, seconds since the policy was applied or None) -> Outcome
Script = Callable[[str, Mapping[str, str], float | None], Outcome]


def enforced_after(delay: float) -> Script:
    """b is reset `delay` seconds after the policy is applied; a is always allowed."""

    def script(client: str, headers: Mapping[str, str], since: float | None) -> Outcome:
        if client == "b" and since is not None and since >= delay:
            return RESET
        return ALLOWED

    return script


class ScriptedLink:
    def __init__(self, ops: ScriptedOps, client: str) -> None:
        self.ops = ops
        self.client = client

    def probe(self, method: str, url: str, headers: Mapping[str, str], timeout: float) -> Outcome:
        self.ops.clock.now += 0.01  # a request takes 10 ms
        self.ops.requests += 1
        if self.ops.interrupt_on_request == self.ops.requests:
            raise KeyboardInterrupt
        if self.client in self.ops.unreachable:
            raise AgentUnreachable(f"agent {self.client}: connection refused")
        return self.ops.script(self.client, headers, self.ops.since_apply())

    def sample(
        self, method: str, url: str, n: int, headers: Mapping[str, str], timeout: float
    ) -> list[Outcome]:
        return [self.probe(method, url, headers, timeout) for _ in range(n)]


class ScriptedOps:
    def __init__(self, clock: FakeClock, script: Script) -> None:
        self.clock = clock
        self.script = script
        self.calls: list[tuple[Any, ...]] = []
        self.applied_at: float | None = None
        self.fail: dict[str, BaseException] = {}
        self.unreachable: set[str] = set()
        self.requests = 0
        self.interrupt_on_request: int | None = None
        self.diagnosed: list[tuple[str | None, list[str]]] = []

    def since_apply(self) -> float | None:
        return None if self.applied_at is None else self.clock.now - self.applied_at

    def _call(self, *call: Any) -> None:
        self.calls.append(call)
        exc = self.fail.get(call[0])
        if exc is not None:
            raise exc

    def create_namespace(self, plan: NamespacePlan) -> None:
        self._call("create_namespace", plan.name, dict(plan.labels))

    def apply_workloads(self, objects: Sequence[Manifest]) -> None:
        self._call(
            "apply_workloads", tuple(f"{o['kind']}/{o['metadata']['name']}" for o in objects)
        )

    def wait_available(self, deployments: Sequence[tuple[str, str]]) -> None:
        self._call("wait_available", tuple(deployments))

    def check_enrollment(self, plan: NamespacePlan) -> None:
        self._call("check_enrollment", plan.name, plan.mode)

    def setup_waypoint(self, plan: WaypointPlan) -> None:
        self._call("setup_waypoint", plan.name)

    def connect(self, agent: AgentPlan) -> ScriptedLink:
        self._call("connect", agent.client)
        return ScriptedLink(self, agent.client)

    def apply_step(self, objects: Sequence[Manifest], namespace: str) -> list[ObjectRef]:
        self._call("apply_step", tuple(o["metadata"]["name"] for o in objects), namespace)
        self.clock.now += 0.2  # the API server round trips
        self.applied_at = self.clock.now
        return [ObjectRef.of(o) for o in objects]

    def delete(self, objects: Sequence[Manifest], namespace: str) -> list[ObjectRef]:
        self._call("delete", tuple(o["metadata"]["name"] for o in objects), namespace)
        return []

    def diagnostics(
        self, scenario: Scenario, step: StepResult | None, manifests: Mapping[str, str]
    ) -> str | None:
        self.calls.append(("diagnostics", step.name if step else None))
        self.diagnosed.append((step.name if step else None, sorted(manifests)))
        return f"artifacts/{scenario.name}/{step.name if step else 'set-up'}"

    def delete_namespaces(self, names: Sequence[str], *, wait: bool) -> None:
        self._call("delete_namespaces", tuple(names), wait)

    def disconnect(self) -> None:
        self._call("disconnect")


class Recorder(RunObserver):
    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def phase(self, message: str) -> None:
        self.events.append(("phase", message))

    def phase_done(self, message: str, elapsed_s: float) -> None:
        self.events.append(("phase_done", message))

    def scenario_started(self, scenario: Scenario) -> None:
        self.events.append(("scenario_started", scenario.name))

    def step_started(self, scenario: Scenario, step: Step, manifests: dict[str, str]) -> None:
        self.events.append(("step_started", step.name, *sorted(manifests)))

    def probe_finished(self, scenario: Scenario, step: Step, result: ProbeResult) -> None:
        self.events.append(("probe_finished", step.name, result.client, result.verdict))

    def step_finished(self, scenario: Scenario, result: StepResult) -> None:
        self.events.append(("step_finished", result.name, result.verdict))

    def scenario_finished(self, result: ScenarioResult) -> None:
        self.events.append(("scenario_finished", result.name, result.verdict))
