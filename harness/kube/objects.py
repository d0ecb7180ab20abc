"""Manifests and object references: what an object is called, and in which order a set of
them is applied (and deleted).

Order of apply (`APPLY_ORDER`; stable within a rank, reversed for delete):
  0 CustomResourceDefinition
  1 Namespace
  2 identity and configuration: ServiceAccount, ConfigMap, Secret, RBAC, admission policies
  3 Service
  4 workloads: Deployment, DaemonSet, StatefulSet, ReplicaSet, Job, CronJob, Pod
  5 gateways: GatewayClass, Gateway (waypoints)
  6 everything else: policies and routes (AuthorizationPolicy, HTTPRoute, VirtualService, ...)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.kube.errors import ManifestError
from harness.model.yaml_loaders import load_all_plain

Manifest = dict[str, Any]

FIELD_MANAGER = "ambient-harness"
CRD_API_VERSION = "apiextensions.k8s.io/v1"

APPLY_ORDER: tuple[frozenset[str], ...] = (
    frozenset({"CustomResourceDefinition"}),
    frozenset({"Namespace"}),
    frozenset(
        {
            "ServiceAccount",
            "ConfigMap",
            "Secret",
            "Role",
            "ClusterRole",
            "RoleBinding",
            "ClusterRoleBinding",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "PersistentVolumeClaim",
        }
    ),
    frozenset({"Service"}),
    frozenset({"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job", "CronJob", "Pod"}),
    frozenset({"GatewayClass", "Gateway"}),
)

# Kinds whose controllers create objects owned by them (ownerReferences): deleting one with
# Foreground propagation waits for those to be gone. Istio owns a waypoint's Deployment by its
# Gateway. (Service's EndpointSlices are owned too, but nothing waits for them to go.)
OWNER_KINDS = frozenset(
    {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "Gateway"}
)


def apply_rank(kind: str) -> int:
    """Position of `kind` in `APPLY_ORDER`; unknown kinds (policies, routes) come last."""
    for rank, kinds in enumerate(APPLY_ORDER):
        if kind in kinds:
            return rank
    return len(APPLY_ORDER)


def sort_for_apply(docs: Iterable[Manifest]) -> list[Manifest]:
    return sorted(docs, key=lambda d: apply_rank(str(d.get("kind", ""))))


def sort_for_delete(docs: Iterable[Manifest]) -> list[Manifest]:
    return list(reversed(sort_for_apply(docs)))


def load_manifests(path: Path) -> list[Manifest]:
    """The non-empty YAML documents of a file (libyaml's events when available: bundles are
    ~1 MB, and the safe loader's documents built without positions cost about half)."""
    with path.open(encoding="utf-8") as f:
        docs = load_all_plain(f)  # the safe loader's documents; its marks name the file
    out: list[Manifest] = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ManifestError(f"{path}: document {i + 1} is not a mapping")
        out.append(doc)
    return out


@dataclass(frozen=True, order=True)
class ObjectRef:
    """Which object: printed as `AuthorizationPolicy ambient-authz-l4/ratings-allow`."""

    api_version: str
    kind: str
    namespace: str | None
    name: str

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> ObjectRef:
        """The reference a manifest names, as written (scope is not known without a server)."""
        meta = doc.get("metadata")
        if not isinstance(meta, dict):
            raise ManifestError(f"{doc.get('kind', '?')}: metadata is missing")
        api_version, kind, name = doc.get("apiVersion"), doc.get("kind"), meta.get("name")
        if not (isinstance(api_version, str) and isinstance(kind, str) and isinstance(name, str)):
            raise ManifestError(
                f"a manifest needs apiVersion, kind and metadata.name (got apiVersion="
                f"{api_version!r}, kind={kind!r}, name={name!r})"
            )
        ns = meta.get("namespace")
        return cls(api_version, kind, ns if isinstance(ns, str) and ns else None, name)


def loose_ref(doc: Mapping[str, Any]) -> ObjectRef:
    """What a manifest names even when it is incomplete, for messages about it:
    `(no apiVersion) Deployment demo/ratings`, `(no kind) (no name)`. Never raises."""
    meta = doc.get("metadata")
    meta = meta if isinstance(meta, dict) else {}

    def text(value: Any, missing: str) -> str:
        return value if isinstance(value, str) and value else missing

    api_version = text(doc.get("apiVersion"), "")
    kind = text(doc.get("kind"), "(no kind)")
    if not api_version:
        kind = f"(no apiVersion) {kind}"
    ns = meta.get("namespace")
    return ObjectRef(
        api_version,
        kind,
        ns if isinstance(ns, str) and ns else None,
        text(meta.get("name"), "(no name)"),
    )


def namespace_ref(name: str) -> ObjectRef:
    return ObjectRef("v1", "Namespace", None, name)


def crd_ref(name: str) -> ObjectRef:
    return ObjectRef(CRD_API_VERSION, "CustomResourceDefinition", None, name)


def deployment_ref(namespace: str, name: str) -> ObjectRef:
    return ObjectRef("apps/v1", "Deployment", namespace, name)


def daemonset_ref(namespace: str, name: str) -> ObjectRef:
    return ObjectRef("apps/v1", "DaemonSet", namespace, name)


def service_ref(namespace: str, name: str) -> ObjectRef:
    return ObjectRef("v1", "Service", namespace, name)


def is_crd(doc: Mapping[str, Any]) -> bool:
    return doc.get("kind") == "CustomResourceDefinition" and str(
        doc.get("apiVersion", "")
    ).startswith("apiextensions.k8s.io/")


def is_namespace(doc: Mapping[str, Any]) -> bool:
    return doc.get("kind") == "Namespace" and doc.get("apiVersion") == "v1"


def crd_type(doc: Mapping[str, Any]) -> tuple[str, str]:
    """(group, kind) a CRD defines."""
    spec = doc.get("spec") or {}
    return str(spec.get("group", "")), str((spec.get("names") or {}).get("kind", ""))


def is_prerequisite(doc: Mapping[str, Any]) -> bool:
    """A CRD or Namespace: what other objects of the same step may need to exist first."""
    return is_crd(doc) or is_namespace(doc)
