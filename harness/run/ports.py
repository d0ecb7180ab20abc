"""The runner's two ports: `ClusterOps` (every action on a cluster, in the order the runner
calls them) and `Checker` (how one probe is judged).

Implementations: `harness.run.live.LiveOps` and `harness.run.dryrun.DryRunOps`;
`harness.run.checker.EventuallyChecker` and `harness.run.dryrun.PlanChecker`. The tests' ready
fakes are in tests/fakes/scripted_cluster.py (`ScriptedOps`, `ScriptedLink`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from harness.kube.objects import Manifest, ObjectRef
from harness.model.results import ProbeResult, StepResult
from harness.model.scenario import Probe, Scenario
from harness.model.topology import AgentPlan, NamespacePlan, Topology, WaypointPlan
from harness.probe.link import AgentLink


class ClusterOps(Protocol):
    """Every action of a scenario run, in the order the runner calls them."""

    def create_namespace(self, plan: NamespacePlan) -> None:
        """A fresh namespace with its enrollment labels (an old one is removed first)."""

    def apply_workloads(self, objects: Sequence[Manifest]) -> None:
        """Server-side apply of the generated agent/echo objects."""

    def wait_available(self, deployments: Sequence[tuple[str, str]]) -> None:
        """Each (namespace, name) Deployment Available."""

    def check_enrollment(self, plan: NamespacePlan) -> None:
        """Ambient: pods redirected; sidecar: pods injected. Raise if not."""

    def setup_waypoint(self, plan: WaypointPlan) -> None:
        """Apply the waypoint, wait for Programmed, label what uses it."""

    def connect(self, agent: AgentPlan) -> AgentLink:
        """A port-forward to the agent, healthy."""

    def apply_step(self, objects: Sequence[Manifest], namespace: str) -> list[ObjectRef]:
        """Preflight every object (dryRun=All), then apply them; nothing if preflight fails."""

    def delete(self, objects: Sequence[Manifest], namespace: str) -> list[ObjectRef]:
        """Delete and wait until gone."""

    def diagnostics(
        self, scenario: Scenario, step: StepResult | None, manifests: Mapping[str, str]
    ) -> str | None:
        """Collect what explains a failure (step None: the set-up); returns where it went."""

    def delete_namespaces(self, names: Sequence[str], *, wait: bool) -> None: ...

    def disconnect(self) -> None:
        """Close every port-forward this scenario opened."""


class Checker(Protocol):
    def check(self, link: AgentLink, probe: Probe, since: float) -> ProbeResult:
        """Judge one probe; `since` is the clock reading when the step's changes were done."""


@runtime_checkable
class TopologyChecker(Checker, Protocol):
    """A `Checker` whose derived figures (a named version's streak) depend on the scenario's
    topology; the runner hands it each scenario's before its probes."""

    def with_topology(self, topology: Topology) -> Checker:
        """This checker for a scenario with `topology` (the versions behind each Service)."""
        ...


def checker_for(checker: Checker, topology: Topology) -> Checker:
    return checker.with_topology(topology) if isinstance(checker, TopologyChecker) else checker
