"""Putting namespaces in the mesh, and checking that their pods are (docs/architecture.md §5).

Ambient enrollment is the namespace label `istio.io/dataplane-mode=ambient` (no restart); an
enrolled pod gets the annotation `ambient.istio.io/redirection: enabled` from istio-cni.
Sidecar injection (`istio-injection=enabled`) only affects pods created after the label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.kube.client import Kube
from harness.kube.errors import KubeError, WaitTimeout
from harness.kube.objects import ObjectRef, namespace_ref
from harness.mesh.waypoints import GATEWAY_NAME_LABEL
from harness.model.topology import NamespacePlan

REDIRECTION_ANNOTATION = "ambient.istio.io/redirection"
DATAPLANE_MODE_LABEL = "istio.io/dataplane-mode"
SIDECAR_CONTAINER = "istio-proxy"


class EnrollmentError(KubeError):
    """A namespace cannot be enrolled as planned (e.g. pods predate sidecar injection)."""


def _has_sidecar(pod: dict[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    # Native sidecars (Kubernetes >= 1.29) put istio-proxy among the init containers.
    names = [c.get("name") for c in (spec.get("containers") or [])]
    names += [c.get("name") for c in (spec.get("initContainers") or [])]
    return SIDECAR_CONTAINER in names


def require_sidecars(kube: Kube, namespace: str) -> None:
    """Every Running pod of a sidecar namespace has `istio-proxy`, or `EnrollmentError`."""
    missing = sorted(
        str((p.get("metadata") or {}).get("name"))
        for p in kube.pods(namespace)
        if (p.get("status") or {}).get("phase") == "Running" and not _has_sidecar(p)
    )
    if missing:
        raise EnrollmentError(
            f"namespace {namespace}: pods without the {SIDECAR_CONTAINER} sidecar: "
            f"{', '.join(missing)} (is istio-injection=enabled set and istiod's injection "
            "webhook working?)"
        )


def _injection_opted_out(pod: dict[str, Any]) -> bool:
    meta = pod.get("metadata") or {}
    flag = "sidecar.istio.io/inject"
    return "false" in (
        str((meta.get("labels") or {}).get(flag, "")).lower(),
        str((meta.get("annotations") or {}).get(flag, "")).lower(),
    )


def enroll_namespace(kube: Kube, plan: NamespacePlan) -> ObjectRef:
    """Create (or update) the namespace with its enrollment labels.

    Call this before any workload of the namespace is applied. Sidecar injection only
    happens when a pod is created, so for mode `sidecar` an existing pod without the
    `istio-proxy` container is an error (it would silently stay outside the mesh); ambient
    enrollment needs no restart.
    """
    if plan.mode == "sidecar" and kube.get(namespace_ref(plan.name)) is not None:
        late = [
            str((p.get("metadata") or {}).get("name"))
            for p in kube.pods(plan.name)
            if (p.get("status") or {}).get("phase") in ("Pending", "Running")
            and not _has_sidecar(p)
            and not _injection_opted_out(p)
        ]
        if late:
            raise EnrollmentError(
                f"namespace {plan.name}: pods started before sidecar injection was enabled "
                f"(no istio-proxy container): {', '.join(sorted(late))}; label the namespace "
                "before creating workloads, or delete these pods"
            )
    return kube.ensure_namespace(plan.name, plan.labels)


# --- ambient redirection -------------------------------------------------------------------


@dataclass(frozen=True)
class RedirectionReport:
    namespace: str
    checked: list[str]
    offenders: list[str]
    skipped: list[str]  # Running pods that are never redirected (waypoints, opted out)

    @property
    def ok(self) -> bool:
        return not self.offenders

    @property
    def message(self) -> str:
        if self.ok:
            return f"{self.namespace}: all {len(self.checked)} running pods are redirected"
        return (
            f"{self.namespace}: pods not redirected by ambient "
            f"(no annotation {REDIRECTION_ANNOTATION}: enabled): {', '.join(self.offenders)}; "
            "check istio-cni-node on their nodes and the namespace label "
            f"{DATAPLANE_MODE_LABEL}=ambient"
        )


class RedirectionError(KubeError):
    pass


def check_ambient_redirection(kube: Kube, namespace: str) -> RedirectionReport:
    """Every Running pod of an ambient namespace must carry the redirection annotation.

    Skipped: waypoint pods (label gateway.networking.k8s.io/gateway-name), pods opted out
    with istio.io/dataplane-mode=none, and hostNetwork pods: ambient never redirects those.
    """
    checked: list[str] = []
    offenders: list[str] = []
    skipped: list[str] = []
    for pod in kube.pods(namespace):
        meta = pod.get("metadata") or {}
        name = str(meta.get("name"))
        if (pod.get("status") or {}).get("phase") != "Running":
            continue
        labels = meta.get("labels") or {}
        if (
            GATEWAY_NAME_LABEL in labels
            or labels.get(DATAPLANE_MODE_LABEL) == "none"
            or (pod.get("spec") or {}).get("hostNetwork")
        ):
            skipped.append(name)
            continue
        checked.append(name)
        if (meta.get("annotations") or {}).get(REDIRECTION_ANNOTATION) != "enabled":
            offenders.append(name)
    return RedirectionReport(namespace, checked, sorted(offenders), skipped)


def wait_ambient_redirection(
    kube: Kube, namespace: str, *, timeout: float = 30.0
) -> RedirectionReport:
    """`check_ambient_redirection` until it passes; `RedirectionError` naming the pods.

    istio-cni annotates a pod as it sets up its redirection, normally before the pod is
    Ready; the budget covers a slow istio-cni-node, not a missing one.
    """
    try:
        return kube.poll_until(
            f"the pods of {namespace}",
            lambda: check_ambient_redirection(kube, namespace),
            lambda report: report.ok,
            want=f"annotated {REDIRECTION_ANNOTATION}=enabled",
            timeout=timeout,
            describe=lambda report: report.message,
        )
    except WaitTimeout as exc:
        raise RedirectionError(exc.last_seen) from None
