"""Cross-checks between a scenario and its manifests.

Every namespaced object names one of the scenario's namespaces explicitly (manifests are
applied with the namespace they carry, and a scenario must stay inside its own namespaces to
run in parallel with others); `targetRefs`, route `parentRefs` and `backendRefs` name
Services/Gateways the scenario defines (its backends' `<service>` and `<service>-<version>`
Services, its waypoints, and Service/Gateway objects in its manifests), with a port those
Services have; a pod `selector` names a workload of the scenario; AuthorizationPolicy
principals and namespaces name identities of the scenario (istio-system excepted).

Principals of foreign namespaces are errors too: such a rule can never match a client of the
scenario, so the scenario would pass or fail for a reason its author did not intend.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.lint.findings import Findings, hint, listing
from harness.lint.resolution import Resolution, split_api_version
from harness.model.scenario import Scenario
from harness.model.source import Document, PathKey
from harness.model.topology import principal_of
from harness.predict.world import scenario_topology

GATEWAY_GROUP = "gateway.networking.k8s.io"
ROUTE_KINDS = frozenset({"HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute"})
# Namespaces a scenario may refer to without owning them: the mesh's own.
SHARED_NAMESPACES = frozenset({"istio-system"})
# Istio's root namespace: a policy there applies mesh-wide, so to every scenario running
# beside this one on the cluster (docs/scenario-reference.md, "Namespaces").
ROOT_NAMESPACE = "istio-system"
MESH_WIDE_KINDS = frozenset(
    {"AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication", "Telemetry",
     "Sidecar", "EnvoyFilter", "WasmPlugin", "ProxyConfig"}
)  # fmt: skip
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"})
_PRINCIPAL = re.compile(r"^[^/]+/ns/([^/]+)/sa/([^/]+)$")


@dataclass
class Context:
    scenario: Scenario
    namespaces: list[str]
    # (namespace, Service name) -> its ports, or None when unknown (e.g. a Gateway's Service).
    services: dict[tuple[str, str], tuple[int, ...] | None] = field(default_factory=dict)
    gateways: set[tuple[str, str]] = field(default_factory=set)
    gateway_classes: set[str] = field(default_factory=set)  # GatewayClass objects of manifests
    # (namespace, app label) -> versions of that app, or None for "any".
    apps: dict[tuple[str, str], set[str] | None] = field(default_factory=dict)
    identities: set[tuple[str, str]] = field(default_factory=set)  # (namespace, SA)
    # Every "<version>" and "<service>-<version>" an echo backend can report as x-served-by.
    served_by: set[str] = field(default_factory=set)
    # (namespace, Service) -> what its own echo backends report as x-served-by.
    versions: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    # Names a route object of the manifests mentions (a route may send a Service elsewhere).
    routed: set[str] = field(default_factory=set)

    @staticmethod
    def in_namespace(table: Iterable[tuple[str, str]], ns: str) -> set[str]:
        """Names of `table`'s (namespace, name) entries in namespace `ns`."""
        return {name for (n, name) in table if n == ns}


def dict_or_empty(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def meta_of(data: dict[str, Any]) -> dict[str, Any]:
    return dict_or_empty(data.get("metadata"))


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def object_namespace(data: dict[str, Any], ctx: Context) -> str:
    return str_or_none(meta_of(data).get("namespace")) or ctx.scenario.namespace


def type_of(data: dict[str, Any]) -> tuple[str, str]:
    """(group, kind) of a manifest document, '' where missing."""
    api = str_or_none(data.get("apiVersion")) or ""
    return split_api_version(api)[0], str_or_none(data.get("kind")) or ""


def build_context(s: Scenario, manifests: list[Document]) -> Context:
    topo = scenario_topology(s)
    ctx = Context(s, [n.name for n in s.namespaces])
    for e in topo.echoes:
        ctx.services[(e.namespace, e.service)] = (e.port,)
        ctx.services[(e.namespace, e.version_service)] = (e.port,)
        versions = ctx.apps.setdefault((e.namespace, e.service), set())
        if versions is not None:
            versions.add(e.version)
        ctx.identities.add((e.namespace, e.service_account))
        ctx.served_by.update({e.version, e.deployment})
        for svc in (e.service, e.version_service):
            ctx.versions.setdefault((e.namespace, svc), set()).update({e.version, e.deployment})
    for a in topo.agents:
        ctx.apps[(a.namespace, a.deployment)] = None
        ctx.identities.add((a.namespace, a.service_account))
    for w in topo.waypoints:
        ctx.gateways.add((w.namespace, w.name))
        ctx.services.setdefault((w.namespace, w.name), None)
        ctx.identities.add((w.namespace, w.name))
    for doc in manifests:
        if isinstance(doc.data, dict):
            _define(ctx, doc.data)
    return ctx


def _define(ctx: Context, data: dict[str, Any]) -> None:
    """Record what one manifest object adds to the scenario's world."""
    group, kind = type_of(data)
    name = str_or_none(meta_of(data).get("name"))
    if name is None:
        return
    ns = object_namespace(data, ctx)
    spec = dict_or_empty(data.get("spec"))
    if kind in ROUTE_KINDS or kind in ("VirtualService", "DestinationRule"):
        ctx.routed.update(s.split(".", 1)[0] for s in _all_strings(spec))
    if group == "" and kind == "Service":
        ports = (p.get("port") for _, p in mappings(spec.get("ports")))
        ctx.services[(ns, name)] = tuple(p for p in ports if type(p) is int)
    elif group == "" and kind == "ServiceAccount":
        ctx.identities.add((ns, name))
    elif group == GATEWAY_GROUP and kind == "GatewayClass":
        ctx.gateway_classes.add(name)
    elif group == GATEWAY_GROUP and kind == "Gateway":
        ctx.gateways.add((ns, name))
        # Istio deploys a Gateway as Deployment/Service/ServiceAccount `<name>-<class>`
        # (waypoints: `<name>`).
        cls = str_or_none(spec.get("gatewayClassName")) or ""
        for svc in {name, f"{name}-{cls}"}:
            ctx.services.setdefault((ns, svc), None)
            ctx.identities.add((ns, svc))
    elif group == "apps" or (group == "" and kind == "Pod") or kind in WORKLOAD_KINDS:
        labels = _pod_labels(kind, data)
        app = str_or_none(labels.get("app"))
        if app is not None:
            ctx.apps[(ns, app)] = None


def _all_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _all_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _all_strings(v)


def _pod_labels(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    meta = (
        meta_of(data)
        if kind == "Pod"
        else dict_or_empty(
            dict_or_empty(dict_or_empty(data.get("spec")).get("template")).get("metadata")
        )
    )
    return dict_or_empty(meta.get("labels"))


def check_namespace(
    doc: Document, data: dict[str, Any], res: Resolution, ctx: Context, out: Findings
) -> None:
    meta = meta_of(data)
    ns = meta.get("namespace")
    declared = listing(ctx.namespaces)
    if res.scope == "Cluster":
        if ns is not None:
            out.add(doc, ["metadata", "namespace"], f"{res.kind} is cluster-scoped: remove it")
        elif res.kind == "Namespace":
            name = str_or_none(meta.get("name")) or ""
            if name and not name.startswith(ctx.scenario.name):
                out.add(
                    doc,
                    ["metadata", "name"],
                    f'namespace "{name}" must start with the scenario name "{ctx.scenario.name}"',
                )
        return
    if ns is None:
        if res.scope == "Namespaced":
            out.add(
                doc,
                ["metadata", "namespace"],
                f"required: manifests are applied to the namespace they name; one of: {declared}",
            )
    elif ns == ROOT_NAMESPACE and ns not in ctx.namespaces:
        what = (
            "a policy there applies to the whole mesh"
            if res.kind in MESH_WIDE_KINDS
            else "objects there belong to the control plane the whole mesh shares"
        )
        out.add(
            doc,
            ["metadata", "namespace"],
            f'"{ns}" is Istio\'s root namespace: {what} and would change the other scenarios '
            "running beside this one; scenarios may only use their own "
            f"namespaces (declared: {declared})",
        )
    elif isinstance(ns, str) and ns not in ctx.namespaces:
        out.add(
            doc,
            ["metadata", "namespace"],
            f'"{ns}" is not a namespace of this scenario{hint(ns, ctx.namespaces)}; '
            f"declared: {declared}",
        )


@dataclass(frozen=True)
class Ref:
    path: PathKey
    ref: dict[str, Any]
    default_group: str | None  # None: no default (the field is required or kind decides)
    default_kind: str | None


def _refs(data: dict[str, Any], group: str, kind: str) -> Iterator[Ref]:
    spec = data.get("spec")
    if not isinstance(spec, dict):
        return
    base: PathKey = ("spec",)
    if isinstance(spec.get("targetRef"), dict):
        yield Ref((*base, "targetRef"), spec["targetRef"], None, None)
    for i, r in mappings(spec.get("targetRefs")):
        yield Ref((*base, "targetRefs", i), r, None, None)
    if group != GATEWAY_GROUP or kind not in ROUTE_KINDS:
        return
    for i, r in mappings(spec.get("parentRefs")):
        yield Ref((*base, "parentRefs", i), r, GATEWAY_GROUP, "Gateway")
    for i, rule in mappings(spec.get("rules")):
        for j, r in mappings(rule.get("backendRefs")):
            yield Ref((*base, "rules", i, "backendRefs", j), r, "", "Service")
        for j, f in mappings(rule.get("filters")):
            mirror = f.get("requestMirror")
            if isinstance(mirror, dict) and isinstance(mirror.get("backendRef"), dict):
                path = (*base, "rules", i, "filters", j, "requestMirror", "backendRef")
                yield Ref(path, mirror["backendRef"], "", "Service")


def mappings(value: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield i, item


def _ref_target(ref: Ref) -> str | None:
    """'Service' or 'Gateway' when the reference is to one of those, else None."""
    kind = ref.ref.get("kind", ref.default_kind)
    group = ref.ref.get("group", ref.default_group)
    if kind == "Service" and group in ("", "core", None):
        return "Service"
    if kind == "Gateway" and group in (GATEWAY_GROUP, None):
        return "Gateway"
    return None


def check_refs(
    doc: Document, data: dict[str, Any], group: str, kind: str, ctx: Context, out: Findings
) -> None:
    own_ns = object_namespace(data, ctx)
    for ref in _refs(data, group, kind):
        target = _ref_target(ref)
        name = str_or_none(ref.ref.get("name"))
        if target is None or name is None:
            continue
        ns = str_or_none(ref.ref.get("namespace")) or own_ns
        if ns in SHARED_NAMESPACES:
            continue
        if ns not in ctx.namespaces:
            out.add(
                doc,
                (*ref.path, "namespace"),
                f'"{ns}" is not a namespace of this scenario; declared: {listing(ctx.namespaces)}',
            )
            continue
        known = ctx.in_namespace(ctx.services if target == "Service" else ctx.gateways, ns)
        if name not in known:
            out.add(
                doc,
                (*ref.path, "name"),
                f'{target} "{name}" is not defined by this scenario in namespace {ns}'
                f"{hint(name, known)}; defined: {listing(known)}",
            )
            continue
        port = ref.ref.get("port")
        ports = ctx.services.get((ns, name)) if target == "Service" else None
        if isinstance(port, int) and ports and port not in ports:
            shown = ", ".join(map(str, ports))
            out.add(
                doc, (*ref.path, "port"), f'Service "{name}" has no port {port}; ports: {shown}'
            )


def check_selectors(
    doc: Document, data: dict[str, Any], group: str, ctx: Context, out: Findings
) -> None:
    if not group.endswith(".istio.io"):
        return
    spec = dict_or_empty(data.get("spec"))
    ns = object_namespace(data, ctx)
    selectors: list[tuple[PathKey, dict[str, Any]]] = [
        (
            ("spec", "selector", "matchLabels"),
            dict_or_empty(dict_or_empty(spec.get("selector")).get("matchLabels")),
        ),
        (
            ("spec", "workloadSelector", "labels"),
            dict_or_empty(dict_or_empty(spec.get("workloadSelector")).get("labels")),
        ),
    ]
    for path, labels in selectors:
        app = str_or_none(labels.get("app"))
        if app is None:
            continue
        known = ctx.in_namespace(ctx.apps, ns)
        if app not in known:
            out.add(
                doc,
                (*path, "app"),
                f'no workload of this scenario has app "{app}" in namespace {ns}'
                f"{hint(app, known)}; apps: {listing(known)}",
            )
            continue
        versions = ctx.apps.get((ns, app))
        version = str_or_none(labels.get("version"))
        if versions is not None and version is not None and version not in versions:
            out.add(
                doc,
                (*path, "version"),
                f'backend {app} has no version "{version}"; versions: {listing(versions)}',
            )


def check_sources(doc: Document, data: dict[str, Any], ctx: Context, out: Findings) -> None:
    """Principals/namespaces an AuthorizationPolicy matches must be the scenario's."""
    spec = data.get("spec")
    if not isinstance(spec, dict):
        return
    for i, rule in mappings(spec.get("rules")):
        for j, frm in mappings(rule.get("from")):
            source = frm.get("source")
            if not isinstance(source, dict):
                continue
            base: PathKey = ("spec", "rules", i, "from", j, "source")
            for key in ("principals", "notPrincipals"):
                for k, value in strings(source.get(key)):
                    msg = _principal_problem(value, ctx)
                    if msg:
                        out.add(doc, (*base, key, k), msg)
            for key in ("namespaces", "notNamespaces"):
                for k, value in strings(source.get(key)):
                    if "*" in value or value in SHARED_NAMESPACES or value in ctx.namespaces:
                        continue
                    near = hint(value, ctx.namespaces)
                    out.add(
                        doc,
                        (*base, key, k),
                        f'"{value}" is not a namespace of this scenario{near}; '
                        f"declared: {listing(ctx.namespaces)}",
                    )


def strings(value: Any) -> Iterator[tuple[int, str]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                yield i, item


def _form_problem(principal: str, ctx: Context) -> str | None:
    """Istio matches `principals` against `<trust domain>/ns/<ns>/sa/<sa>` and adds the
    `spiffe://` itself (pilot/pkg/security/authz/model/generator.go, srcPrincipalGenerator), so
    a bare name or a spiffe:// value silently matches no identity."""
    if "*" in principal:
        return None  # a prefix/suffix/any match: Istio's own forms
    if principal.startswith("spiffe://"):
        return (
            f'principal "{principal}": Istio adds spiffe:// itself and compares '
            f'"spiffe://{principal}", which matches no workload; write '
            f'"{principal.removeprefix("spiffe://")}"'
        )
    if "/" not in principal:
        fix = sorted(principal_of(n, a) for (n, a) in ctx.identities if a == principal)
        said = f' (did you mean "{fix[0]}"?)' if fix else ""
        return (
            f'principal "{principal}" is a bare name, not cluster.local/ns/<ns>/sa/<sa>: Istio '
            f"compares it with the whole identity, so it matches no workload{said}"
        )
    return None


def _principal_problem(principal: str, ctx: Context) -> str | None:
    form = _form_problem(principal, ctx)
    if form is not None:
        return form
    m = _PRINCIPAL.match(principal)
    if m is None or "*" in principal:
        return None  # a wildcard or another form: nothing reliable to compare
    ns, sa = m.group(1), m.group(2)
    if ns in SHARED_NAMESPACES:
        return None
    if ns not in ctx.namespaces:
        return (
            f'principal "{principal}" is in namespace "{ns}", not one of this scenario\'s '
            f"({listing(ctx.namespaces)}): it matches none of its workloads"
        )
    accounts = {a for (n, a) in ctx.identities if n == ns}
    if sa not in accounts:
        return (
            f'principal "{principal}": no workload of this scenario runs as "{sa}" in {ns}'
            f"{hint(sa, accounts)}; service accounts: {listing(accounts)}"
        )
    return None
