"""The fake API server's data: resource types, recorded requests, error answers, stored
objects, and the selector and merge-patch semantics it serves them with."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from fakes.field_owners import (
    Owner,
)

Obj = dict[str, Any]
JsonT = TypeVar("JsonT", Obj, list[Obj])
ReadHook = Callable[[Obj, int], None]

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCHES = ("application/merge-patch+json", "application/strategic-merge-patch+json")


@dataclass(frozen=True)
class ResourceType:
    """One kind the server serves, as discovery describes it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    subresources: tuple[str, ...] = ("status",)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def _t(gv: str, kind: str, plural: str, namespaced: bool, *subs: str) -> ResourceType:
    group, _, version = gv.rpartition("/")
    return ResourceType(group, version, kind, plural, namespaced, subs or ("status",))


CORE_TYPES: tuple[ResourceType, ...] = (
    _t("v1", "Namespace", "namespaces", False, "status", "finalize"),
    _t("v1", "Node", "nodes", False),
    _t("v1", "Pod", "pods", True, "status", "log"),
    _t("v1", "Service", "services", True),
    _t("v1", "ServiceAccount", "serviceaccounts", True),
    _t("v1", "ConfigMap", "configmaps", True),
    _t("v1", "Secret", "secrets", True),
    _t("v1", "Event", "events", True),
    _t("apps/v1", "Deployment", "deployments", True),
    _t("apps/v1", "DaemonSet", "daemonsets", True),
    _t("apps/v1", "StatefulSet", "statefulsets", True),
    _t("apps/v1", "ReplicaSet", "replicasets", True),
    _t("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", False),
    _t(
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        False,
    ),
    _t(
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        False,
    ),
    _t("rbac.authorization.k8s.io/v1", "Role", "roles", True),
    _t("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True),
    _t("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False),
    _t("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False),
)

# The Istio kinds scenarios use (served as if their CRDs were installed).
ISTIO_TYPES: tuple[ResourceType, ...] = tuple(
    _t(f"{group}/{version}", kind, plural, True)
    for group, kinds in (
        (
            "security.istio.io",
            (
                ("AuthorizationPolicy", "authorizationpolicies"),
                ("PeerAuthentication", "peerauthentications"),
                ("RequestAuthentication", "requestauthentications"),
            ),
        ),
        (
            "networking.istio.io",
            (
                ("VirtualService", "virtualservices"),
                ("DestinationRule", "destinationrules"),
                ("ServiceEntry", "serviceentries"),
                ("Sidecar", "sidecars"),
            ),
        ),
    )
    for version in ("v1", "v1beta1")
    for kind, plural in kinds
)

GATEWAY_API_TYPES: tuple[ResourceType, ...] = (
    _t("gateway.networking.k8s.io/v1", "GatewayClass", "gatewayclasses", False),
    _t("gateway.networking.k8s.io/v1", "Gateway", "gateways", True),
    _t("gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes", True),
    _t("gateway.networking.k8s.io/v1", "GRPCRoute", "grpcroutes", True),
    _t("gateway.networking.k8s.io/v1beta1", "ReferenceGrant", "referencegrants", True),
    _t("gateway.networking.k8s.io/v1alpha2", "TCPRoute", "tcproutes", True),
)

DEFAULT_TYPES: tuple[ResourceType, ...] = CORE_TYPES + ISTIO_TYPES + GATEWAY_API_TYPES


def types_from_crd(crd: Mapping[str, Any]) -> list[ResourceType]:
    """The served versions of a CustomResourceDefinition, as resource types."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    namespaced = spec.get("scope") == "Namespaced"
    out = []
    for v in spec.get("versions") or []:
        if not v.get("served", True):
            continue
        subs = ("status",) if (v.get("subresources") or {}).get("status") is not None else ()
        out.append(
            ResourceType(spec["group"], v["name"], names["kind"], names["plural"], namespaced, subs)
        )
    return out


@dataclass
class RecordedRequest:
    """One request as the server saw it (body parsed from JSON/YAML when possible)."""

    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str | None
    body: Any

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    @property
    def dry_run(self) -> bool:
        return self.param("dryRun") == "All"

    @property
    def is_apply(self) -> bool:
        return self.method == "PATCH" and self.content_type == APPLY_PATCH

    def __str__(self) -> str:
        q = "&".join(f"{k}={v}" for k, vs in self.query.items() for v in vs)
        return f"{self.method} {self.path}{'?' + q if q else ''}"


class ApiStatus(Exception):
    """An error answer, rendered as a `Status` object."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def body(self) -> Obj:
        out: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        # The real server omits an empty reason (StatusReasonUnknown) and empty details.
        if self.reason:
            out["reason"] = self.reason
        if self.details:
            out["details"] = self.details
        out["code"] = self.code
        return out


@dataclass
class Stored:
    obj: Obj
    reads: int = 0
    linger: int | None = None  # reads left before a deleted object disappears
    patched_labels: set[str] = field(default_factory=set)
    owners: dict[str, Owner] = field(default_factory=dict)  # field manager -> its fields


@dataclass(frozen=True)
class Route:
    rtype: ResourceType
    namespace: str | None  # from the path; None for cluster-scoped or all-namespace lists
    name: str | None
    sub: str | None


Key = tuple[str, str, str, str]  # group, plural, namespace ("" if cluster-scoped), name


def clone(value: JsonT) -> JsonT:
    """Deep copy of JSON data (several times faster than copy.deepcopy on 1 MB CRDs)."""
    copied: JsonT = json.loads(json.dumps(value))
    return copied


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def undeclared_fields(schema: Mapping[str, Any], value: Any, path: str) -> list[str]:
    """Paths (`.spec.acton`, `.spec.rules[0].to`) of `value` that `schema` does not declare,
    as structured-merge-diff names them; `x-kubernetes-preserve-unknown-fields` allows all."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    out: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if k in props:
                out += undeclared_fields(props[k], v, f"{path}.{k}")
            elif isinstance(extra, dict):
                out += undeclared_fields(extra, v, f"{path}.{k}")
            elif extra is not True:
                out.append(f"{path}.{k}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            out += undeclared_fields(schema["items"], v, f"{path}[{i}]")
    return out


def dig_dotted(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def label_match(labels: Mapping[str, str], selector: str) -> bool:
    """Equality-based label selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-joined."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = re.split(r"==?", term, maxsplit=1)
            if labels.get(k) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def field_match(obj: Obj, selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        negate = "!=" in term
        k, v = re.split(r"!=|==?", term, maxsplit=1)
        actual = dig_dotted(obj, k)
        actual_s = "" if actual is None else str(actual)
        if (actual_s == v) == negate:
            return False
    return True


def discovery_document(path: str, git_version: str, types: list[ResourceType]) -> Obj | None:
    """The answer to a discovery GET (`/version`, `/api`, `/apis`, a group version), or None."""
    if path == "/version":
        major, minor = git_version.lstrip("v").split(".")[:2]
        return {
            "major": major,
            "minor": minor,
            "gitVersion": git_version,
            "platform": "linux/amd64",
        }
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if path == "/apis":
        groups: dict[str, list[str]] = {}
        for t in types:
            if t.group and t.version not in groups.setdefault(t.group, []):
                groups[t.group].append(t.version)
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                    "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
                }
                for g, vs in groups.items()
            ],
        }
    m = re.fullmatch(r"/api/(v1)|/apis/([^/]+)/([^/]+)", path)
    if not m:
        return None
    group, version = ("", "v1") if m.group(1) else (m.group(2), m.group(3))
    selected = [t for t in types if t.group == group and t.version == version]
    if not selected:
        return None
    resources: list[Obj] = []
    for t in selected:
        verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
        resources.append(
            {
                "name": t.plural,
                "singularName": t.kind.lower(),
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": verbs,
            }
        )
        resources += [
            {
                "name": f"{t.plural}/{s}",
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": "Pod" if s == "log" else t.kind,
                "verbs": ["get"],
            }
            for s in t.subresources
        ]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }
