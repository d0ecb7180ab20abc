"""The probe path: from the client identity through ztunnel, sidecars and waypoints to a
backend, one decision at each hop (docs/architecture.md §3, §5).

- client namespace `sidecar`: the client sidecar routes and injects faults (VirtualService,
  DestinationRule), the server sidecar authorizes
  (https://istio.io/latest/docs/concepts/traffic-management/);
- client `ambient`: the client ztunnel sends to the Service's waypoint if one serves it, else
  straight to the destination ztunnel (https://istio.io/latest/docs/ambient/architecture/data-plane/);
- client `none`: plaintext to the pod; the destination ztunnel or sidecar sees no identity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import harness.predict.authz as authz
import harness.predict.routes as routes
from harness.model.scenario import Probe
from harness.predict.prediction import (
    ALLOWED,
    DENIED_L4,
    DENIED_L7,
    STATUS,
    UNREACHABLE,
    Decision,
    Prediction,
)
from harness.predict.world import Pod, Service, Waypoint, World, resolve_host

# The prober's default x-probe-timeout (harness/probe/prober.py): slower answers are the
# agent's `timeout`, i.e. unreachable.
PROBE_TIMEOUT_S = 5.0
# Echo (harness/inpod/agent.py): /status/<code> answers that code, /delay/<s> sleeps first.
STATUS_PATH = re.compile(r"(?:^|/)status/(\d{3})/?$")
DELAY_PATH = re.compile(r"(?:^|/)delay/(\d+(?:\.\d+)?)/?$")
MAX_ECHO_DELAY_S = 30.0


@dataclass
class Answer:
    """What one attempt at one backend pod came back with, as the caller sees it."""

    outcome: str
    status: int | None
    decision: Decision
    hops: list[str]
    pod: Pod | None = None
    delay_s: float = 0.0
    l7: bool = False
    reached: bool = False  # the backend received the request
    uncertain: str | None = None
    decisions: list[Decision] = field(default_factory=list)


@dataclass(frozen=True)
class Call:
    """The request as the probe sends it."""

    method: str
    host: str
    port: int
    path: str
    headers: Mapping[str, str]


def _verdict(component: str, v: authz.Verdict) -> Decision:
    return Decision(
        component, "allow" if v.allowed else "deny", v.because, str(v.policy) if v.policy else None
    )


# Follows harness/inpod/agent.py
def _echo(pod: Pod, path: str, l7: bool, hops: list[str]) -> Answer:
    status = STATUS_PATH.search(path)
    delay = DELAY_PATH.search(path)
    code = int(status.group(1)) if status else 200
    outcome = ALLOWED if 200 <= code < 300 else STATUS
    d = Decision(f"backend {pod.name}", "answer", f"echo answers {code}")
    secs = min(float(delay.group(1)), MAX_ECHO_DELAY_S) if delay else 0.0
    return Answer(outcome, code, d, [*hops, pod.name], pod, secs, l7, True)


# Follows https://istio.io/latest/docs/ambient/architecture/data-plane/
def _server_side(
    world: World,
    pod: Pod,
    port: int,
    call: Call,
    req: authz.Request,
    hops: list[str],
    l7: bool,
    http: bool,
) -> Answer:
    """The destination pod's inbound: its ztunnel (ambient) or its sidecar, then echo."""
    mode = world.mode(pod.namespace)
    decisions: list[Decision] = []
    if mode == "ambient":
        where = f"ztunnel ({pod.name})"
        hops = [*hops, where]
        component = "destination ztunnel"
        mtls, pa = authz.mtls_mode(world, pod, port)
        if req.principal is None and mtls == "STRICT":
            # ztunnel enforces STRICT as a DENY of connections without a peer identity.
            d = Decision(component, "deny", f"{pa}: mTLS STRICT refuses a plaintext connection")
            return Answer(DENIED_L4, None, d, hops, decisions=[d])
        v = authz.ztunnel_check(authz.workload_policies(world, pod), req)
        d = _verdict(component, v)
        decisions.append(d)
        if not v.allowed:
            return Answer(DENIED_L4, None, d, hops, decisions=decisions)
    elif mode == "sidecar":
        component = f"server sidecar ({pod.name})"
        hops = [*hops, f"sidecar ({pod.name})"]
        mtls, pa = authz.mtls_mode(world, pod, port)
        if req.principal is None and mtls == "STRICT":
            d = Decision(component, "deny", f"{pa}: mTLS STRICT refuses a plaintext connection")
            return Answer(DENIED_L4, None, d, hops, decisions=[d])
        v = authz.envoy_check(authz.workload_policies(world, pod), req, tcp=not http)
        d = _verdict(component, v)
        decisions.append(d)
        if not v.allowed:
            if not http:
                return Answer(DENIED_L4, None, d, hops, decisions=decisions, uncertain=v.uncertain)
            return Answer(DENIED_L7, 403, d, hops, decisions=decisions, uncertain=v.uncertain)
        l7 = l7 or http  # the inbound HTTP chain adds x-request-id
    answer = _echo(pod, call.path, l7, hops)
    answer.decisions = [*decisions, answer.decision]
    return answer


# Follows https://kubernetes.io/docs/concepts/services-networking/service/
def _candidates(
    world: World, backends: list[routes.Backend]
) -> list[tuple[Pod | None, float, routes.Backend]]:
    """Weighted pods; a backend that resolves to nothing keeps its weight (and fails)."""
    out: list[tuple[Pod | None, float, routes.Backend]] = []
    total = sum(b.weight for b in backends)
    for b in backends:
        if b.weight <= 0 or total <= 0:
            continue
        pods = [] if b.service is None else world.endpoints(b.service)
        pods = [p for p in pods if all(p.labels.get(k) == v for k, v in b.subset.items())]
        if not pods:
            out.append((None, b.weight / total, b))
            continue
        replicas = sum(p.replicas for p in pods)
        out += [(p, b.weight / total * p.replicas / replicas, b) for p in pods]
    return out


# Follows https://istio.io/latest/docs/concepts/traffic-management/
def _through_envoy(
    world: World,
    component: str,
    route: routes.Route,
    call: Call,
    upstream: authz.Request,
    hops: list[str],
    http: bool,
) -> list[tuple[float, Answer]]:
    """What an Envoy (client sidecar or waypoint) makes of one routed request."""
    rd = Decision(component, "route", route.summary(), str(route.obj) if route.obj else None)
    if route.abort is not None and route.abort_percent > 0:
        d = Decision(
            component, "fault", f"{route.where()}: fault abort {route.abort}", str(route.obj)
        )
        return [
            (
                1.0,
                Answer(STATUS, route.abort, d, hops, decisions=[rd, d], uncertain=route.uncertain),
            )
        ]
    if route.direct_status is not None:
        d = Decision(component, "status", f"{route.where()}: answers {route.direct_status} itself")
        return [(1.0, Answer(STATUS, route.direct_status, d, hops, decisions=[rd, d]))]
    cands = _candidates(world, route.backends)
    if not cands:
        d = Decision(component, "status", f"{route.where()}: no backend to send to (500)")
        return [(1.0, Answer(STATUS, 500, d, hops, decisions=[rd, d]))]
    out = []
    headers = {**call.headers, **route.request_headers}
    sent = Call(call.method, call.host, call.port, call.path, headers)
    for pod, weight, backend in cands:
        if pod is None:
            d = Decision(
                component, "status", f"{route.where()}: {backend.label} has no endpoints (503)"
            )
            out.append((weight, Answer(STATUS, 503, d, hops, decisions=[rd, d])))
            continue
        target = backend.service.port(call.port) if backend.service else None
        pod_port = target.target if target else call.port
        req = authz.Request(
            upstream.principal, pod_port, call.method, call.path, call.host, headers
        )
        a = _server_side(world, pod, pod_port, sent, req, hops, http, http)
        a.decisions = [rd, *a.decisions] if route.obj else a.decisions
        if a.outcome == DENIED_L4:
            # The proxy's upstream connection is refused or reset: it answers 503 itself.
            d = Decision(
                a.decision.component, "deny", f"{a.decision.because}; so {component} answers 503"
            )
            a = Answer(
                STATUS, 503, d, a.hops, decisions=[*a.decisions[:-1], d], uncertain=a.uncertain
            )
        else:
            a.delay_s += route.delay_s if route.delay_percent > 0 else 0.0
            if route.timeout_s is not None and a.reached and a.delay_s > route.timeout_s:
                d = Decision(
                    component,
                    "status",
                    f"{route.where()}: timeout {route.timeout_s:g}s < {a.delay_s:g}s answer (504)",
                )
                a = Answer(STATUS, 504, d, a.hops, decisions=[*a.decisions, d])
        out.append((weight, a))
    return out


Answers = list[tuple[float, Answer]]


# Follows istio/istio/pilot/pkg/networking/core/listener_waypoint.go
def _via_waypoint(
    world: World, wp: Waypoint, svc: Service, call: Call, principal: str | None, hops: list[str]
) -> tuple[Answers, routes.Route | None]:
    component = f"waypoint {wp.namespace}/{wp.name}"
    hops = [*hops, f"waypoint {wp.namespace}/{wp.name}"]
    port = svc.port(call.port)
    http = port is not None and port.is_http
    # The waypoint authorizes before it routes or injects faults: the RBAC filter precedes
    # the fault filter in its HTTP chain (pilot/pkg/networking/core/listener_waypoint.go).
    req = authz.Request(principal, call.port, call.method, call.path, call.host, call.headers)
    v = authz.envoy_check(authz.waypoint_policies(world, wp, svc), req, tcp=not http)
    d = _verdict(component, v)
    if v.policy is None:
        d = Decision(
            component,
            d.verdict,
            "no AuthorizationPolicy targets the waypoint or the Service: allowed",
        )
    if not http:
        d = Decision(
            component,
            d.verdict,
            f"port {call.port} is TCP: a TCP proxy, no HTTP parsing; {d.because}",
            d.obj,
        )
    if not v.allowed:
        outcome, status = (DENIED_L7, 403) if http else (DENIED_L4, None)
        return [(1.0, Answer(outcome, status, d, hops, decisions=[d], uncertain=v.uncertain))], None
    if http:
        route = (
            routes.http_route(world, svc, call.port, call.method, call.path, call.headers)
            or routes.virtual_service(world, svc, call.port, call.method, call.path, call.headers)
            or routes.default_route(svc)
        )
        route.ignored = routes.ignored_tcp_route(world, svc, call.port)
    else:
        route = routes.tcp_route(world, svc, call.port) or routes.default_route(svc)
    # Upstream, the destination ztunnel sees the waypoint's identity, not the client's.
    upstream = authz.Request(wp.principal, call.port)
    out = _through_envoy(world, component, route, call, upstream, hops, http)
    for _, a in out:
        a.decisions = [d, *a.decisions]
        a.uncertain = a.uncertain or v.uncertain
        if a.decision.verdict == "fault":
            # The talk's contrast: in a waypoint the fault comes after authorization.
            a.decision = Decision(
                component,
                "fault",
                f"{a.decision.because}, after authorization ({d.because})",
                a.decision.obj,
            )
        a.l7 = a.l7 or (http and a.reached)
    return out, route


# Follows https://istio.io/latest/docs/ambient/architecture/data-plane/
def _direct(
    world: World, svc: Service, call: Call, principal: str | None, hops: list[str]
) -> list[tuple[float, Answer]]:
    """No proxy chooses: the Service's endpoints, balanced per connection."""
    port = svc.port(call.port)
    http = port is not None and port.is_http
    out = []
    for pod, weight, _ in _candidates(world, [routes.Backend(svc, 1)]):
        assert pod is not None
        req = authz.Request(
            principal,
            port.target if port else call.port,
            call.method,
            call.path,
            call.host,
            call.headers,
        )
        out.append((weight, _server_side(world, pod, req.port, call, req, hops, False, http)))
    if not out:
        d = Decision(
            "client", "unreachable", f"Service {svc.namespace}/{svc.name} has no endpoints"
        )
        out.append((1.0, Answer(UNREACHABLE, None, d, hops, decisions=[d])))
    return out


# Follows https://istio.io/latest/docs/concepts/traffic-management/
def _route_for_sidecar(world: World, svc: Service, call: Call) -> routes.Route:
    return routes.virtual_service(
        world, svc, call.port, call.method, call.path, call.headers
    ) or routes.default_route(svc)


# Follows https://istio.io/latest/docs/ambient/architecture/data-plane/
def _answers(
    world: World, client: Pod, svc: Service, call: Call
) -> tuple[Answers, routes.Route | None]:
    mode = world.mode(client.namespace)
    hops = [client.name.removeprefix("agent-")]
    wp = world.service_waypoint(svc) if mode != "none" else None
    if mode == "ambient":
        hops.append("ztunnel (client)")
        if wp is not None:
            return _via_waypoint(world, wp, svc, call, client.principal, hops)
        return _direct(world, svc, call, client.principal, hops), None
    if mode == "sidecar":
        hops.append("sidecar (client)")
        if wp is not None:
            # Sidecars send to a Service's waypoint and leave routing to it
            # (pilot/pkg/serviceregistry/kube/controller/ambient/sidecar_interop.go).
            return _via_waypoint(world, wp, svc, call, client.principal, hops)
        port = svc.port(call.port)
        http = port is None or port.is_http
        route = _route_for_sidecar(world, svc, call) if http else routes.default_route(svc)
        client_req = authz.Request(client.principal, call.port)
        out = _through_envoy(
            world,
            f"client sidecar ({client.name.removeprefix('agent-')})",
            route,
            call,
            client_req,
            hops,
            http,
        )
        for _, a in out:
            a.l7 = a.l7 or (http and a.reached)
            if a.decision.verdict == "fault":
                # The client sidecar answers itself: the server sidecar's policy never runs.
                a.decision = Decision(
                    a.decision.component,
                    "fault",
                    f"{a.decision.because}, before any server-side authorization",
                    a.decision.obj,
                )
        return out, route
    return _direct(world, svc, call, None, hops), None


# Follows https://istio.io/latest/docs/ambient/architecture/data-plane/
def predict_probe(world: World, probe: Probe) -> Prediction:
    client = world.client_pod(probe.from_)
    url = urlsplit(probe.url)
    host, port = url.hostname or "", url.port or 80
    call = Call(
        probe.method,
        f"{host}:{port}" if url.port else host,
        port,
        url.path or "/",
        {k.lower(): v for k, v in probe.headers.items()},
    )
    svc = resolve_host(world, host, client.namespace)
    if svc is None:
        d = Decision("client", "unreachable", f"DNS: no Service {host!r} from {client.namespace}")
        return Prediction(UNREACHABLE, path=[probe.from_], decisions=[d], deciding=d)
    if svc.port(port) is None:
        d = Decision(
            "client", "unreachable", f"Service {svc.namespace}/{svc.name} has no port {port}"
        )
        return Prediction(UNREACHABLE, path=[probe.from_], decisions=[d], deciding=d)
    answers, route = _answers(world, client, svc, call)
    return _merge(answers, route)


# Follows docs/mental-model.md
def _deciding(a: Answer, route: routes.Route | None) -> Decision:
    """The decision that explains the outcome: the one that stopped the request; else the
    backend's own status (and whether it was retried); else the route; else the policy that
    allowed it; else the component that carried it without a policy."""
    if not a.reached:
        return a.decision
    if a.outcome == STATUS:
        retry = ""
        if route is not None and a.status is not None:
            retry = "; " + _retry_wording(route, a.status)
        return Decision(a.decision.component, "answer", a.decision.because + retry)
    for d in a.decisions:
        if d.verdict == "route" and d.obj:
            return d
    if route is not None and route.ignored and a.decisions:
        return Decision(a.decisions[0].component, "route", route.summary())
    for d in a.decisions:
        if d.verdict == "allow" and d.obj:
            return d
    return next((d for d in a.decisions if d.verdict == "allow"), a.decision)


# Follows istio/istio/pilot/pkg/networking/core/route/retry/retry.go
def _retry_wording(route: routes.Route, status: int) -> str:
    """Why the backend's status is retried or not, from the route's own retry settings."""
    if route.retried(status):
        return f"{route.where()} retries it {route.retries} times"
    if not route.retry_codes and not route.retry_any_5xx:
        # Istio's default policy: connect-failure, refused-stream, unavailable, cancelled
        # (pilot/pkg/networking/core/route/retry/retry.go), no response status at all.
        where = "no route" if route.obj is None else f"{route.where()} sets no retry"
        return (
            f"{status} is not retried ({where}: Istio's default retry policy retries "
            f"connection failures, not a {status} answer)"
        )
    if route.retries <= 0:
        return f"{status} is not retried ({route.where()} allows 0 retries)"
    codes = ", ".join(str(c) for c in sorted(route.retry_codes)) or "5xx"
    if route.retry_any_5xx and route.retry_codes:
        codes += ", 5xx"
    return f"{status} is not retried ({route.where()} retries only on {codes})"


# Follows https://istio.io/latest/docs/concepts/traffic-management/
def _merge(answers: Answers, route: routes.Route | None) -> Prediction:
    """One prediction from the weighted answers: the same outcome everywhere, or uncertain."""
    weights: dict[tuple[str, int | None], float] = {}
    for w, a in answers:
        weights[(a.outcome, a.status)] = weights.get((a.outcome, a.status), 0.0) + w
    (outcome, status), _ = max(weights.items(), key=lambda kv: kv[1])
    chosen = [(w, a) for w, a in answers if (a.outcome, a.status) == (outcome, status)]
    first = max(chosen, key=lambda wa: wa[0])[1]
    p = Prediction(
        outcome,
        status,
        path=first.hops,
        decisions=first.decisions,
        deciding=_deciding(first, route),
    )
    p.uncertain = next((a.uncertain for _, a in answers if a.uncertain), None)
    if len(weights) > 1:
        p.uncertain = "outcomes differ per backend: " + ", ".join(
            f"{o}{' ' + str(s) if s else ''} {w * 100:g}%" for (o, s), w in weights.items()
        )
    if first.reached and all(a.reached for _, a in chosen):
        split: dict[str, float] = {}
        for w, a in chosen:
            assert a.pod is not None
            key = a.pod.labels.get("version", a.pod.name)
            split[key] = split.get(key, 0.0) + w
        total = sum(split.values())
        if len(split) == 1:
            p.served_by = first.pod.name if first.pod else None
        else:
            p.split = {k: round(v / total * 100, 6) for k, v in sorted(split.items())}
        p.l7 = first.l7
        if first.l7:
            p.attempts = (
                1 + route.retries
                if route is not None and status is not None and route.retried(status)
                else 1
            )
    if route is not None and route.obj is not None and first.reached:
        p.headers = dict(route.response_headers)
        p.backend_saw = dict(route.request_headers)
    total_delay = first.delay_s if first.reached else 0.0
    if first.reached and total_delay >= PROBE_TIMEOUT_S:
        d = Decision(
            "agent",
            "timeout",
            f"the answer takes {total_delay:g}s, more than the probe timeout {PROBE_TIMEOUT_S:g}s",
        )
        return Prediction(UNREACHABLE, path=first.hops, decisions=[*first.decisions, d], deciding=d)
    return p
