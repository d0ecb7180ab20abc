"""Which mesh component decided what a probe saw: the talk's "enforcement point".

Two things are said, and kept apart, because a report must not claim more than was observed:

- what the observation *shows* (`SHOWN`): a reset, an RBAC 403 from an Envoy, an Envoy in the
  path (`x-request-id` reached the backend), a status the backend answered itself;
- which component that was (`COMPONENT`): an inference from the data plane and the
  scenario's waypoints, never observed directly, so it is always marked "inferred from the
  data plane". ztunnel never writes an HTTP response, so in ambient mode a reset is ztunnel
  and an HTTP status the backend did not produce came from a waypoint; in sidecar mode
  routing and fault injection happen at the *client* sidecar, authorization at the *server*
  sidecar (docs/architecture.md §5).

`classify` turns (data plane, probe result, waypoint) into an `Effect`; `attribute` gives the
`Attribution` (shown, component). Both tables are small on purpose: the table is the spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit

from harness.model.outcome import Kind, Outcome, ProbeError
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


INFERRED: Final = "inferred from the data plane"

# effect -> what the observation shows; {status}: the status, {error}: the agent's probe error,
# {conn}: how the connection ended.
SHOWN: Final[dict[Effect, str]] = {
    Effect.ALLOWED_L4: "allowed, no Envoy seen",
    Effect.ALLOWED_L7: "allowed through an Envoy",
    Effect.DENIED_L4: "{conn}",
    Effect.DENIED_L7: "RBAC 403 from an Envoy",
    Effect.FAULT: "injected fault (status {status})",
    Effect.UPSTREAM_REJECTED: "503 after an upstream reset",
    Effect.ROUTED_L4: "routed, no Envoy seen",
    Effect.ROUTED_L7: "routed through an Envoy",
    Effect.PROXY_STATUS: "status {status} from a proxy",
    Effect.BACKEND_STATUS: "status {status} from the backend",
    Effect.UNREACHABLE: "not reached ({error})",
    Effect.PROBE_ERROR: "probe error (not a mesh decision)",
}

# (effect, data plane) -> the component that did it, inferred; {svc}: the destination service.
# Absent: nothing to infer (the backend answered, nothing was reached, or no Envoy handled a
# request a sidecar would have handled).
COMPONENT: Final[dict[tuple[Effect, str], str]] = {
    (Effect.ALLOWED_L4, "ambient"): "ztunnel",
    (Effect.ALLOWED_L7, "ambient"): "the {svc} waypoint",
    (Effect.ALLOWED_L7, "sidecar"): "the server sidecar",
    (Effect.DENIED_L4, "ambient"): "ztunnel",
    (Effect.DENIED_L4, "sidecar"): "the server sidecar",
    (Effect.DENIED_L7, "ambient"): "the {svc} waypoint",
    (Effect.DENIED_L7, "sidecar"): "the server sidecar",
    (Effect.FAULT, "ambient"): "the {svc} waypoint",
    (Effect.FAULT, "sidecar"): "the client sidecar",
    (Effect.UPSTREAM_REJECTED, "ambient"): "the {svc} waypoint, refused by the L4 policy",
    (Effect.UPSTREAM_REJECTED, "sidecar"): "the client sidecar",
    (Effect.ROUTED_L4, "ambient"): "ztunnel, no waypoint routes it",
    (Effect.ROUTED_L7, "ambient"): "the {svc} waypoint",
    (Effect.ROUTED_L7, "sidecar"): "the client sidecar",
    (Effect.PROXY_STATUS, "ambient"): "the {svc} waypoint",
    (Effect.PROXY_STATUS, "sidecar"): "a sidecar",
}

_CONNECTION_END: Final = {ProbeError.RESET: "connection reset", ProbeError.EOF: "connection closed"}


@dataclass(frozen=True)
class Attribution:
    """What the observation shows, and the component inferred from the data plane (or None)."""

    shown: str
    component: str | None = None

    @property
    def text(self) -> str:
        """`connection reset: ztunnel (inferred from the data plane)`."""
        if self.component is None:
            return self.shown
        return f"{self.shown}: {self.component} ({INFERRED})"


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


def attribute(dataplane: str, result: ProbeResult, waypoint: bool | None = None) -> Attribution:
    """What the probe's last observation shows and who, by inference, did it."""
    effect = classify(dataplane, result, waypoint)
    if effect is Effect.NOTHING:
        return Attribution(NOT_APPLICABLE)
    obs = result.observations[-1] if result.observations else None
    if effect is Effect.ROUTED_L7 and not (obs and obs.l7):
        # A TCPRoute through a waypoint adds no header: the routing is seen, the Envoy is not.
        shown = "routed, no Envoy seen" if obs else "routed"
    elif effect is Effect.ROUTED_L4 and obs is None:
        shown = "routed"
    else:
        shown = SHOWN[effect].format(
            status=obs.status if obs else "",
            error=obs.probe_error.value if obs and obs.probe_error else "",
            conn=_CONNECTION_END.get(obs.probe_error, "") if obs and obs.probe_error else "",
        )
    component = COMPONENT.get((effect, dataplane))
    if component is not None:
        component = component.format(svc=destination_service(result.url))
    return Attribution(shown, component)


def enforcement_point(dataplane: str, result: ProbeResult, waypoint: bool | None = None) -> str:
    """The sentence for the reports, e.g. `connection reset: ztunnel (inferred from the ...)`."""
    return attribute(dataplane, result, waypoint).text


def scenario_attribution(scenario: Scenario, result: ProbeResult) -> Attribution:
    """`attribute` with the waypoint knowledge of the scenario that ran the probe."""
    service = destination_service(result.url)
    return attribute(scenario.dataplane, result, waypoint_serves(scenario, service))


def scenario_enforcement_point(scenario: Scenario, result: ProbeResult) -> str:
    """`enforcement_point` with the waypoint knowledge of the scenario that ran the probe."""
    return scenario_attribution(scenario, result).text
