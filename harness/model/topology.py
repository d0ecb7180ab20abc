"""What a scenario needs in the cluster before its first step: derived, not declared twice.

Namespaces with their enrollment labels, one agent per client identity, one echo Deployment
per backend version with a Service per backend and per version, and the waypoints with the
objects that are labelled to use them. `plan`, the dry run and the live run all read this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.model.scenario import NamespaceMode, Scenario

AMBIENT_LABEL = ("istio.io/dataplane-mode", "ambient")
SIDECAR_LABEL = ("istio-injection", "enabled")
USE_WAYPOINT = "istio.io/use-waypoint"
WAYPOINT_FOR = "istio.io/waypoint-for"
WAYPOINT_CLASS = "istio-waypoint"
WAYPOINT_PORT = 15008
AGENT_PORT = 14000  # agent loopback port in the pod; Istio reserves 15000-15090 (Envoy admin 15000)


def principal_of(namespace: str, service_account: str) -> str:
    """The identity Istio gives a workload (the SPIFFE ID without `spiffe://`)."""
    return f"cluster.local/ns/{namespace}/sa/{service_account}"


def enrollment_labels(mode: NamespaceMode) -> dict[str, str]:
    if mode == "ambient":
        return dict([AMBIENT_LABEL])
    if mode == "sidecar":
        return dict([SIDECAR_LABEL])
    return {}


@dataclass(frozen=True)
class NamespacePlan:
    name: str
    mode: NamespaceMode
    labels: dict[str, str]


@dataclass(frozen=True)
class AgentPlan:
    """The client identity `client` as a Deployment running the agent in proxy mode."""

    client: str
    namespace: str
    service_account: str

    @property
    def deployment(self) -> str:
        return f"agent-{self.client}"

    @property
    def principal(self) -> str:
        return principal_of(self.namespace, self.service_account)


@dataclass(frozen=True)
class EchoPlan:
    """One version of a backend: Deployment `<service>-<version>` behind Services."""

    service: str
    version: str
    namespace: str
    service_account: str
    port: int
    replicas: int

    @property
    def deployment(self) -> str:
        return f"{self.service}-{self.version}"

    @property
    def version_service(self) -> str:
        """Per-version Service, the backendRef of weighted routes."""
        return f"{self.service}-{self.version}"


@dataclass(frozen=True)
class WaypointPlan:
    name: str
    namespace: str
    traffic_type: str
    services: tuple[str, ...]
    enroll_namespace: bool

    @property
    def identity(self) -> str:
        # Default waypoint ServiceAccount is the waypoint's name.
        return principal_of(self.namespace, self.name)


@dataclass(frozen=True)
class Topology:
    namespaces: list[NamespacePlan] = field(default_factory=list)
    agents: list[AgentPlan] = field(default_factory=list)
    echoes: list[EchoPlan] = field(default_factory=list)
    waypoints: list[WaypointPlan] = field(default_factory=list)

    def agent(self, client: str) -> AgentPlan:
        for a in self.agents:
            if a.client == client:
                return a
        raise KeyError(client)


def topology(s: Scenario) -> Topology:
    """Derive the cluster-side objects a scenario needs."""
    waypoints = [
        WaypointPlan(
            name=w.name,
            namespace=s.namespace_of(w.namespace),
            traffic_type=w.for_,
            services=tuple(w.services),
            enroll_namespace=w.enroll_namespace,
        )
        for w in s.waypoints
    ]
    # istio.io/use-waypoint is not set here: mesh.apply_waypoint labels the namespace (or its
    # Services) once the waypoint is Programmed, so nothing points at a missing waypoint.
    namespaces = []
    for ns in s.namespaces:
        mode = s.mode_of(ns.name)
        namespaces.append(NamespacePlan(ns.name, mode, {**enrollment_labels(mode), **ns.labels}))
    agents = [AgentPlan(c.name, s.namespace_of(c.namespace), c.account) for c in s.clients]
    echoes = [
        EchoPlan(b.service, v, s.namespace_of(b.namespace), b.account, b.port, b.replicas)
        for b in s.backends
        for v in b.versions
    ]
    return Topology(namespaces, agents, echoes, waypoints)
