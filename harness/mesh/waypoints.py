"""Waypoints: a Gateway of class `istio-waypoint` per plan, then the labels that use it.

Istio facts (docs/architecture.md §5): a waypoint has the HBONE listener on 15008 and is
`Programmed=True` once its Service exists (its Envoy pod, label
`gateway.networking.k8s.io/gateway-name=<name>`, may still be starting); nothing uses it until
labelled `istio.io/use-waypoint=<name>`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from harness.kube.client import Kube
from harness.kube.errors import WaitTimeout
from harness.kube.objects import Manifest, ObjectRef, namespace_ref, service_ref
from harness.mesh.gateway_api import GATEWAY_API_GROUP_VERSION
from harness.mesh.readiness import Budget, Output, reporting
from harness.model.topology import (
    USE_WAYPOINT,
    WAYPOINT_CLASS,
    WAYPOINT_FOR,
    WAYPOINT_PORT,
    WaypointPlan,
)

GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"


def waypoint_ref(plan: WaypointPlan) -> ObjectRef:
    return ObjectRef(GATEWAY_API_GROUP_VERSION, "Gateway", plan.namespace, plan.name)


def waypoint_manifest(plan: WaypointPlan) -> Manifest:
    """The declarative form of `istioctl waypoint apply` for this plan."""
    return {
        "apiVersion": GATEWAY_API_GROUP_VERSION,
        "kind": "Gateway",
        "metadata": {
            "name": plan.name,
            "namespace": plan.namespace,
            "labels": {WAYPOINT_FOR: plan.traffic_type},
        },
        "spec": {
            "gatewayClassName": WAYPOINT_CLASS,
            "listeners": [{"name": "mesh", "port": WAYPOINT_PORT, "protocol": "HBONE"}],
        },
    }


@dataclass(frozen=True)
class LabelChange:
    ref: ObjectRef
    labels: dict[str, str]

    def __str__(self) -> str:
        return f"{self.ref}: " + ", ".join(f"{k}={v}" for k, v in self.labels.items())


def use_waypoint_labels(plan: WaypointPlan) -> list[LabelChange]:
    """`istio.io/use-waypoint=<name>` on each Service it serves (same namespace as the
    waypoint), and on the namespace when `enroll_namespace`."""
    labels = {USE_WAYPOINT: plan.name}
    changes = [LabelChange(service_ref(plan.namespace, s), dict(labels)) for s in plan.services]
    if plan.enroll_namespace:
        changes.append(LabelChange(namespace_ref(plan.namespace), dict(labels)))
    return changes


def waypoint_pod_selector(plan: WaypointPlan) -> str:
    return f"{GATEWAY_NAME_LABEL}={plan.name}"


def apply_waypoint(
    kube: Kube,
    plan: WaypointPlan,
    *,
    timeout: float = 120.0,
    label: bool = True,
    output: Output | None = None,
    pull_allowance: float = 0.0,
) -> ObjectRef:
    """Apply the waypoint Gateway, wait for Programmed=True and a Ready waypoint pod, then
    label its users (all within `timeout`).

    Istio reports Programmed once the waypoint's Service exists, not when its Envoy is up;
    on a fresh node the proxy image is still being pulled, and labelling then would send
    the first probes into a waypoint that is not there yet. The Services must exist
    already (labelling is a patch of the existing object). While the pod is not Ready,
    `output` gets what it is doing (`harness.mesh.progress`); an image pull still in
    progress when `timeout` runs out gets up to `pull_allowance` more seconds.
    """
    budget = Budget(time.monotonic() + timeout, pull_allowance)
    ref = waypoint_ref(plan)
    kube.apply_step([waypoint_manifest(plan)])
    kube.wait_condition(ref, "Programmed", "True", timeout=timeout)
    selector = waypoint_pod_selector(plan)
    with reporting(
        kube, f"waypoint {plan.namespace}/{plan.name}", plan.namespace, selector, output
    ):
        while True:
            try:
                kube.wait_pod_ready(plan.namespace, selector, timeout=budget.left())
                break
            except WaitTimeout:
                if not budget.extend_for_pull(kube, plan.namespace, selector, output):
                    raise
    if label:
        for change in use_waypoint_labels(plan):
            kube.label(change.ref, change.labels)
    return ref
