"""Which mesh component decided what a probe saw: the talk's "enforcement point".

The answer is read from the observation first, because that is what the mesh actually did,
and from the scenario only where the observation is silent:

- ztunnel never writes an HTTP response: in ambient mode a reset is ztunnel, and any HTTP
  status the backend did not produce came from a waypoint;
- only an Envoy adds `x-request-id`, so `l7: true` in ambient mode means a waypoint carried
  the request;
- in sidecar mode routing and fault injection happen at the *client* sidecar, authorization at
  the *server* sidecar (docs/architecture.md §5).

`classify` turns (data plane, probe result, waypoint) into an `Effect`; `WORDING` maps
(effect, data plane) to the sentence. Both are small on purpose: the table is the spec.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit

from harness.model.outcome import Kind, Outcome
from harness.model.results import ProbeResult
from harness.model.scenario import Expect, Scenario

NOT_APPLICABLE: Final = "—"
FAULT_BODY: Final = "fault filter abort"  # Envoy's fault filter answers with this body
UPSTREAM_RESET_BODY: Final = "upstream connect error"  # Envoy: its upstream reset/refused
# Statuses an Envoy also produces on its own (no route, upstream trouble): not a fault unless
# the body says so.
PROXY_STATUSES: Final = frozenset({404, 502, 503, 504})


class Effect(StrEnum):
    ALLOWED_L4 = "allowed-l4"
    ALLOWED_L7 = "allowed-l7"
    DENIED_L4 = "denied-l4"
    DENIED_L7 = "denied-l7"
    FAULT = "fault"
    UPSTREAM_REJECTED = "upstream-rejected"  # a proxy's upstream reset it: 503 to the client
    ROUTED_L4 = "routed-l4"
    ROUTED_L7 = "routed-l7"
    PROXY_STATUS = "proxy-status"  # another status made by a proxy
    BACKEND_STATUS = "backend-status"  # the backend itself answered with this status
    UNREACHABLE = "unreachable"
    PROBE_ERROR = "probe-error"
    NOTHING = "nothing"  # no observation


# (effect, data plane) -> wording; {svc} is the destination service, {status} the status,
# {error} the agent's probe error.
WORDING: Final[dict[tuple[Effect, str], str]] = {
    (Effect.ALLOWED_L4, "ambient"): "allowed by ztunnel (L4 only)",
    (Effect.ALLOWED_L7, "ambient"): "allowed through the {svc} waypoint (L7)",
    (Effect.ALLOWED_L4, "sidecar"): "allowed by the server sidecar",
    (Effect.ALLOWED_L7, "sidecar"): "allowed by the server sidecar",
    (Effect.DENIED_L4, "ambient"): "denied by ztunnel (L4)",
    (Effect.DENIED_L4, "sidecar"): "denied by the server sidecar (connection reset)",
    (Effect.DENIED_L7, "ambient"): "denied by the {svc} waypoint (L7)",
    (Effect.DENIED_L7, "sidecar"): "denied by the server sidecar",
    (Effect.FAULT, "ambient"): "fault injected by the {svc} waypoint",
    (Effect.FAULT, "sidecar"): "fault injected by the client sidecar",
    (Effect.UPSTREAM_REJECTED, "ambient"): (
        "503 from the {svc} waypoint (its identity is not allowed by the L4 policy)"
    ),
    (Effect.UPSTREAM_REJECTED, "sidecar"): "503 from the client sidecar (upstream reset)",
    (Effect.ROUTED_L4, "ambient"): "balanced by ztunnel (L4, no waypoint routes it)",
    (Effect.ROUTED_L7, "ambient"): "routed by the {svc} waypoint",
    (Effect.ROUTED_L4, "sidecar"): "routed by the client sidecar",
    (Effect.ROUTED_L7, "sidecar"): "routed by the client sidecar",
    (Effect.PROXY_STATUS, "ambient"): "status {status} from the {svc} waypoint",
    (Effect.PROXY_STATUS, "sidecar"): "status {status} from a sidecar",
    (Effect.BACKEND_STATUS, "ambient"): "status {status} from the backend",
    (Effect.BACKEND_STATUS, "sidecar"): "status {status} from the backend",
    (Effect.UNREACHABLE, "ambient"): "not reached ({error})",
    (Effect.UNREACHABLE, "sidecar"): "not reached ({error})",
    (Effect.PROBE_ERROR, "ambient"): "probe error (not a mesh decision)",
    (Effect.PROBE_ERROR, "sidecar"): "probe error (not a mesh decision)",
}


def destination_service(url: str) -> str:
    """`http://ratings.ns.svc:9080/x` -> `ratings`: the first label of the URL's host."""
    host = urlsplit(url).hostname or ""
    return host.split(".", 1)[0]


def waypoint_serves(scenario: Scenario, service: str) -> bool:
    """Whether one of the scenario's waypoints is labelled to serve `service`."""
    return any(
        w.for_ in ("service", "all") and (service in w.services or w.enroll_namespace)
        for w in scenario.waypoints
    )


def _is_routing(result: ProbeResult) -> bool:
    return (
        bool(result.split_counts)
        or result.expect.split is not None
        or (result.expect.served_by is not None)
    )


def _is_fault(obs: Outcome, expect: Expect) -> bool:
    if obs.body_excerpt.strip().startswith(FAULT_BODY):
        return True
    # A status the scenario asked for (e.g. 418) that no proxy makes on its own.
    return expect.status == obs.status and obs.status not in PROXY_STATUSES


def classify(dataplane: str, result: ProbeResult, waypoint: bool | None = None) -> Effect:
    """What happened to the probe, in terms of the mesh. `waypoint=None`: not known."""
    if not result.observations:
        if not result.split_counts:
            return Effect.NOTHING
        return Effect.ROUTED_L4 if waypoint is False else Effect.ROUTED_L7
    obs = result.observations[-1]
    kind = obs.kind
    if kind is Kind.DENIED_L4:
        return Effect.DENIED_L4
    if kind is Kind.DENIED_L7:
        return Effect.DENIED_L7
    if kind is Kind.UNREACHABLE:
        return Effect.UNREACHABLE
    if kind is Kind.ERROR:
        return Effect.PROBE_ERROR
    if kind is Kind.ALLOWED:
        if _is_routing(result):
            # A TCPRoute through a waypoint adds no x-request-id: the scenario says who routed.
            return Effect.ROUTED_L7 if obs.l7 or waypoint else Effect.ROUTED_L4
        return Effect.ALLOWED_L7 if obs.l7 else Effect.ALLOWED_L4
    # An HTTP status other than 2xx and the RBAC 403.
    if obs.served_by is not None:
        return Effect.BACKEND_STATUS
    if _is_fault(obs, result.expect):
        return Effect.FAULT
    if obs.status == 503 and (UPSTREAM_RESET_BODY in obs.body_excerpt or waypoint):
        return Effect.UPSTREAM_REJECTED
    return Effect.PROXY_STATUS


def enforcement_point(dataplane: str, result: ProbeResult, waypoint: bool | None = None) -> str:
    """The sentence for the demo and the reports, e.g. "denied by ztunnel (L4)"."""
    effect = classify(dataplane, result, waypoint)
    template = WORDING.get((effect, dataplane))
    if template is None:
        return NOT_APPLICABLE
    obs = result.observations[-1] if result.observations else None
    return template.format(
        svc=destination_service(result.url),
        status=obs.status if obs else "",
        error=obs.probe_error.value if obs and obs.probe_error else "",
    )


def scenario_enforcement_point(scenario: Scenario, result: ProbeResult) -> str:
    """`enforcement_point` with the waypoint knowledge of the scenario that ran the probe."""
    service = destination_service(result.url)
    return enforcement_point(scenario.dataplane, result, waypoint_serves(scenario, service))
