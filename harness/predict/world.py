"""The cluster as the model sees it at one step: the scenario's topology plus every manifest
applied (and not deleted) up to that step.

Manifests are read with `harness.model.source` (YAML with positions), so the model stays on
the model layer and every object keeps the file and line it came from.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.model.scenario import NamespaceMode, Scenario, Step
from harness.model.source import Document, load_documents
from harness.model.topology import (
    USE_WAYPOINT,
    WAYPOINT_CLASS,
    WAYPOINT_FOR,
    Topology,
    principal_of,
    topology,
)

ROOT_NAMESPACE = "istio-system"  # meshConfig.rootNamespace default
USE_WAYPOINT_NAMESPACE = "istio.io/use-waypoint-namespace"
# Port protocol selection: https://istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/
HTTP_PROTOCOLS = ("http", "http2", "grpc", "grpc-web", "h2c")


@dataclass(frozen=True)
class Obj:
    """One applied manifest document."""

    kind: str
    namespace: str
    name: str
    data: Mapping[str, Any]
    doc: Document | None = None

    # Follows https://kubernetes.io/docs/concepts/overview/working-with-objects/
    @property
    def spec(self) -> Mapping[str, Any]:
        spec = self.data.get("spec")
        return spec if isinstance(spec, dict) else {}

    # Follows https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/
    @property
    def labels(self) -> Mapping[str, str]:
        meta = self.data.get("metadata") or {}
        labels = meta.get("labels") if isinstance(meta, dict) else None
        return labels if isinstance(labels, dict) else {}

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Pod:
    """A workload instance (one per Deployment replica set: replicas weigh load balancing)."""

    name: str  # deployment name, e.g. ratings-v1 or agent-productpage
    namespace: str
    labels: Mapping[str, str]
    service_account: str
    replicas: int = 1

    # Follows https://istio.io/latest/docs/concepts/security/#istio-identity
    @property
    def principal(self) -> str:
        return principal_of(self.namespace, self.service_account)


@dataclass(frozen=True)
class Port:
    port: int
    target: int
    name: str
    app_protocol: str

    # Follows https://istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/
    @property
    def is_http(self) -> bool:
        # appProtocol first, then the name prefix `<protocol>[-<suffix>]`; an undeclared
        # port is sniffed, and plain HTTP/1.1 is detected as HTTP.
        proto = (self.app_protocol or self.name.split("-", 1)[0]).lower()
        return proto in HTTP_PROTOCOLS or proto == ""


@dataclass(frozen=True)
class Service:
    name: str
    namespace: str
    labels: Mapping[str, str]
    selector: Mapping[str, str]
    ports: tuple[Port, ...]
    origin: str = "topology"

    # Follows https://kubernetes.io/docs/concepts/services-networking/service/
    def port(self, number: int) -> Port | None:
        return next((p for p in self.ports if p.port == number), None)


@dataclass(frozen=True)
class Waypoint:
    name: str
    namespace: str
    for_: str

    # Follows https://istio.io/latest/docs/concepts/security/#istio-identity
    @property
    def principal(self) -> str:
        # The waypoint's ServiceAccount is named after its Gateway (docs/architecture.md §5).
        return principal_of(self.namespace, self.name)

    def __str__(self) -> str:
        return f"{self.name} waypoint"


@dataclass
class World:
    scenario: Scenario
    namespaces: dict[str, NamespaceMode] = field(default_factory=dict)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    pods: list[Pod] = field(default_factory=list)
    services: dict[tuple[str, str], Service] = field(default_factory=dict)
    waypoints: dict[tuple[str, str], Waypoint] = field(default_factory=dict)
    objects: dict[tuple[str, str, str], Obj] = field(default_factory=dict)

    def of_kind(self, *kinds: str) -> Iterator[Obj]:
        for obj in self.objects.values():
            if obj.kind in kinds:
                yield obj

    # Follows https://istio.io/latest/docs/ambient/usage/add-workloads/
    def mode(self, namespace: str) -> NamespaceMode:
        return self.namespaces.get(namespace, "none")

    def client_pod(self, client: str) -> Pod:
        return next(p for p in self.pods if p.name == f"agent-{client}")

    # Follows https://kubernetes.io/docs/concepts/services-networking/service/
    def endpoints(self, svc: Service) -> list[Pod]:
        if not svc.selector:
            return []
        return [
            p
            for p in self.pods
            if p.namespace == svc.namespace
            and all(p.labels.get(k) == v for k, v in svc.selector.items())
        ]

    def service_waypoint(self, svc: Service) -> Waypoint | None:
        """The waypoint that service-addressed traffic to `svc` goes through.

        The Service's `istio.io/use-waypoint` label wins over its namespace's; `none` opts
        out; the waypoint must accept service traffic (`istio.io/waypoint-for` service or
        all). https://istio.io/latest/docs/ambient/usage/waypoint/#configure-a-service-to-use-a-specific-waypoint
        """
        return self._waypoint_for(svc.labels, svc.namespace, ("service", "all"))

    # Follows istio/istio/pilot/pkg/serviceregistry/kube/controller/ambient/waypoints.go
    def _waypoint_for(
        self, labels: Mapping[str, str], namespace: str, accepted: tuple[str, ...]
    ) -> Waypoint | None:
        ns_labels = self.namespace_labels.get(namespace, {})
        source = labels if USE_WAYPOINT in labels else ns_labels
        name = source.get(USE_WAYPOINT)
        if not name or name == "none":
            return None
        wp_ns = source.get(USE_WAYPOINT_NAMESPACE, namespace)
        wp = self.waypoints.get((wp_ns, name))
        # A label naming no waypoint sends nothing anywhere new: istiod finds no waypoint.
        return wp if wp is not None and wp.for_ in accepted else None


_LAST_TOPOLOGY: list[tuple[Scenario, Topology]] = []


def scenario_topology(s: Scenario) -> Topology:
    """`topology(s)`, kept for the last scenario asked about: a scenario is frozen, and lint
    asks for its topology three times (references, the model's walk, silent mistakes)."""
    if _LAST_TOPOLOGY and _LAST_TOPOLOGY[0][0] is s:
        return _LAST_TOPOLOGY[0][1]
    topo = topology(s)
    _LAST_TOPOLOGY[:] = [(s, topo)]
    return topo


# Follows https://istio.io/latest/docs/ambient/usage/waypoint/
def _topology(world: World, s: Scenario) -> None:
    topo = scenario_topology(s)
    for ns in topo.namespaces:
        world.namespaces[ns.name] = ns.mode
        world.namespace_labels[ns.name] = dict(ns.labels)
    for a in topo.agents:
        world.pods.append(Pod(a.deployment, a.namespace, {"app": a.deployment}, a.service_account))
    seen: set[tuple[str, str]] = set()
    for e in topo.echoes:
        labels = {"app": e.service, "version": e.version}
        world.pods.append(Pod(e.deployment, e.namespace, labels, e.service_account, e.replicas))
        port = (Port(e.port, e.port, "http", ""),)
        if (e.namespace, e.service) not in seen:
            seen.add((e.namespace, e.service))
            world.services[(e.namespace, e.service)] = Service(
                e.service, e.namespace, {"app": e.service}, {"app": e.service}, port
            )
        world.services[(e.namespace, e.version_service)] = Service(
            e.version_service, e.namespace, {"app": e.service}, labels, port
        )
    for w in topo.waypoints:
        world.waypoints[(w.namespace, w.name)] = Waypoint(w.name, w.namespace, w.traffic_type)
        for svc_name in w.services:
            svc = world.services.get((w.namespace, svc_name))
            if svc is not None:
                world.services[(w.namespace, svc_name)] = Service(
                    svc.name,
                    svc.namespace,
                    {**svc.labels, USE_WAYPOINT: w.name},
                    svc.selector,
                    svc.ports,
                )
        if w.enroll_namespace:
            world.namespace_labels.setdefault(w.namespace, {})[USE_WAYPOINT] = w.name


# Follows https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/
def _key(doc: Document, default_ns: str) -> tuple[str, str, str] | None:
    data = doc.data
    if not isinstance(data, dict):
        return None
    meta = data.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    kind, name, ns = data.get("kind"), meta.get("name"), meta.get("namespace")
    if not (isinstance(kind, str) and isinstance(name, str)):
        return None
    # A namespaced object without a namespace lands in the scenario's default namespace.
    namespace = "" if kind == "Namespace" else ns if isinstance(ns, str) and ns else default_ns
    return kind, namespace, name


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


# Follows https://istio.io/latest/docs/ambient/usage/waypoint/
def _reindex(world: World, obj: Obj) -> None:
    """Objects the data plane derives state from: Services, waypoints, namespace labels."""
    if obj.kind == "Service":
        ports = []
        for p in obj.spec.get("ports") or []:
            if isinstance(p, dict):
                number = _int(p.get("port"), 0)
                target = _int(p.get("targetPort"), number)
                ports.append(
                    Port(number, target, str(p.get("name", "")), str(p.get("appProtocol", "")))
                )
        selector = obj.spec.get("selector")
        world.services[(obj.namespace, obj.name)] = Service(
            obj.name,
            obj.namespace,
            dict(obj.labels),
            dict(selector) if isinstance(selector, dict) else {},
            tuple(ports),
            origin=str(obj),
        )
    elif obj.kind == "Gateway" and obj.spec.get("gatewayClassName") == WAYPOINT_CLASS:
        for_ = obj.labels.get(WAYPOINT_FOR, "service")
        world.waypoints[(obj.namespace, obj.name)] = Waypoint(obj.name, obj.namespace, for_)
    elif obj.kind == "Namespace":
        world.namespace_labels.setdefault(obj.name, {}).update(obj.labels)


# Follows https://istio.io/latest/docs/ambient/usage/waypoint/
def _unindex(world: World, obj: Obj) -> None:
    if obj.kind == "Service":
        world.services.pop((obj.namespace, obj.name), None)
    elif obj.kind == "Gateway":
        world.waypoints.pop((obj.namespace, obj.name), None)


Manifests = Mapping[str, list[Document]]


# Follows https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/
def manifest_objects(s: Scenario, relative: str, parsed: Manifests | None = None) -> list[Obj]:
    """The objects of one manifest; `parsed`: documents already loaded, by normalised path
    relative to the scenario (lint's), so a file is parsed once per lint run."""
    rel = posixpath.normpath(relative)
    docs = parsed.get(rel) if parsed is not None else None
    if docs is None:
        docs = load_documents(s.manifest_path(relative))
    out = []
    for doc in docs:
        key = _key(doc, s.namespace)
        if key is not None:
            out.append(Obj(key[0], key[1], key[2], doc.data, doc))
    return out


# Follows harness/run/runner.py
def worlds(s: Scenario, manifests: Manifests | None = None) -> Iterator[tuple[Step, World]]:
    """The world after each step, in order (steps are cumulative). A step applies, then
    deletes, as the runner does (harness/run/runner.py). `manifests`: parsed documents by
    normalised relative path; a file not in it is read once for this walk."""
    parsed: dict[str, list[Document]] = dict(manifests or {})
    world = World(s)
    _topology(world, s)
    for step in s.steps:
        for rel, apply in [*((r, True) for r in step.apply), *((r, False) for r in step.delete)]:
            key = posixpath.normpath(rel)
            if key not in parsed:
                parsed[key] = load_documents(s.manifest_path(rel))
            for obj in manifest_objects(s, rel, parsed):
                if apply:
                    world.objects[(obj.kind, obj.namespace, obj.name)] = obj
                    _reindex(world, obj)
                else:
                    gone = world.objects.pop((obj.kind, obj.namespace, obj.name), None)
                    if gone is not None:
                        _unindex(world, gone)
        yield step, world


# Follows https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/
def resolve_host(world: World, host: str, client_ns: str) -> Service | None:
    """`ratings`, `ratings.ns`, `ratings.ns.svc[.cluster.local]` as the pod's DNS search
    path resolves them."""
    parts = host.split(".")
    ns = parts[1] if len(parts) > 1 and parts[1] != "svc" else client_ns
    return world.services.get((ns, parts[0]))


def manifest_file(obj: Obj) -> Path | None:
    return obj.doc.file if obj.doc else None
