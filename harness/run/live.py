"""`LiveOps`: the runner's `ClusterOps` against a real cluster, over harness.kube, harness.mesh,
the diagnostics collectors, kubectl port-forwards and the probe (`ForwardedAgent`).

`harness.run.session.LiveSession` builds one per session, after the cluster and mesh are up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness import mesh
from harness.kube.client import Kube
from harness.kube.objects import Manifest, ObjectRef, namespace_ref
from harness.model.results import StepResult
from harness.model.scenario import Scenario
from harness.model.topology import AGENT_PORT, AgentPlan, NamespacePlan, WaypointPlan, topology
from harness.probe.backends import KubeBackendReadiness
from harness.probe.forwarded import ForwardedAgent
from harness.probe.link import AgentLink
from harness.run import diagnostics as diag

NAMESPACE_GONE_TIMEOUT_S = 180.0
READY_TIMEOUT_S = 180.0
WAYPOINT_TIMEOUT_S = 180.0  # Programmed, then a Ready proxy: its image may still be pulling
ENROLLMENT_TIMEOUT_S = 30.0
PULL_ALLOWANCE_S = 600.0  # extra time while an image pull visibly progresses (a slow link)


# --- ClusterOps over a real cluster --------------------------------------------------------


@dataclass
class LiveOps:
    """`ports.ClusterOps` against a cluster reachable through `kube`."""

    kube: Kube
    kubectl: Path
    istioctl: Path | None = None
    artifacts: Path | None = Path("artifacts")
    ready_timeout_s: float = READY_TIMEOUT_S
    enrollment_timeout_s: float = ENROLLMENT_TIMEOUT_S
    waypoint_timeout_s: float = WAYPOINT_TIMEOUT_S
    pull_allowance_s: float = PULL_ALLOWANCE_S
    output: Callable[[str], None] | None = None  # progress of long waits (image pulls)
    links: list[ForwardedAgent] = field(default_factory=list)
    collected: dict[str, list[diag.Diagnostics]] = field(default_factory=dict)

    def create_namespace(self, plan: NamespacePlan) -> None:
        ref = namespace_ref(plan.name)
        if self.kube.get(ref) is not None:
            # A leftover (an earlier --keep run, or still terminating): its policies would
            # change this run's results, so start from an empty namespace.
            self.kube.delete_namespace(plan.name, wait=True, timeout=NAMESPACE_GONE_TIMEOUT_S)
        mesh.enroll_namespace(self.kube, plan)

    def apply_workloads(self, objects: Sequence[Manifest]) -> None:
        self.kube.apply_step(objects)

    def wait_available(self, deployments: Sequence[tuple[str, str]]) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        for ns, name in deployments:
            left = max(1.0, deadline - time.monotonic())
            self.kube.wait_deployment_available(ns, name, timeout=left)

    def check_enrollment(self, plan: NamespacePlan) -> None:
        if plan.mode == "ambient":
            mesh.wait_ambient_redirection(self.kube, plan.name, timeout=self.enrollment_timeout_s)
        elif plan.mode == "sidecar":
            mesh.require_sidecars(self.kube, plan.name)

    def setup_waypoint(self, plan: WaypointPlan) -> None:
        mesh.apply_waypoint(
            self.kube,
            plan,
            timeout=self.waypoint_timeout_s,
            output=self.output,
            pull_allowance=self.pull_allowance_s,
        )

    def connect(self, agent: AgentPlan) -> AgentLink:
        # Waits for a Ready agent pod and follows its replacements (docs/architecture.md §3);
        # a denied-l4 while a backend restarts is reported as such, not as ztunnel's decision.
        link = ForwardedAgent.open(
            self.kube,
            self.kubectl,
            agent.namespace,
            f"app={agent.deployment}",
            AGENT_PORT,
            backends=KubeBackendReadiness(self.kube, agent.namespace),
        )
        self.links.append(link)
        return link

    def apply_step(self, objects: Sequence[Manifest], namespace: str) -> list[ObjectRef]:
        return self.kube.apply_step(objects, default_namespace=namespace)

    def delete(self, objects: Sequence[Manifest], namespace: str) -> list[ObjectRef]:
        return self.kube.delete(objects, wait=True, default_namespace=namespace)

    def diagnostics(
        self, scenario: Scenario, step: StepResult | None, manifests: Mapping[str, str]
    ) -> str | None:
        topo = topology(scenario)
        request = diag.Request(
            scenario=scenario.name,
            step=step.name if step is not None else "set-up",
            namespaces=[n.name for n in topo.namespaces],
            manifests=dict(manifests),
            probes=list(step.probes) if step is not None else [],
            waypoints=topo.waypoints,
        )
        found = diag.collect(
            self.kube, request, artifacts_dir=self.artifacts, istioctl=self.istioctl
        )
        self.collected.setdefault(scenario.name, []).append(found)
        if found.directory is not None:
            return str(found.directory)
        return found.write_error

    def delete_namespaces(self, names: Sequence[str], *, wait: bool) -> None:
        # All deletions are requested first, then awaited within one budget.
        refs = [namespace_ref(name) for name in names]
        self.kube.delete(refs, wait=wait, timeout=NAMESPACE_GONE_TIMEOUT_S)

    def disconnect(self) -> None:
        links, self.links = self.links, []
        for link in links:
            link.close()
