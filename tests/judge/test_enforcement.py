"""The enforcement point: which component the observation says decided, in the talk's words."""

from __future__ import annotations

from typing import Any

import pytest

from harness.judge.enforcement import (
    SHOWN,
    Attribution,
    Effect,
    attribute,
    classify,
    destination_service,
    enforcement_point,
    scenario_enforcement_point,
    waypoint_serves,
)
from harness.model.outcome import Outcome, ProbeError
from harness.model.results import ProbeResult
from harness.model.scenario import Expect, Scenario

RATINGS = "http://ratings:9080/ratings/1"
REVIEWS = "http://reviews.bookinfo.svc.cluster.local:9080/reviews/1"

OK_L4 = Outcome(status=200, served_by="ratings-v1", l7=False)
OK_L7 = Outcome(status=200, served_by="ratings-v1", l7=True)
RESET = Outcome(status=502, probe_error=ProbeError.RESET)
EOF_ = Outcome(status=502, probe_error=ProbeError.EOF)
RBAC = Outcome(status=403, body_excerpt="RBAC: access denied")
FAULT = Outcome(status=418, body_excerpt="fault filter abort")
BARE_418 = Outcome(status=418)
UPSTREAM_503 = Outcome(
    status=503,
    body_excerpt="upstream connect error or disconnect/reset before headers. reset reason: "
    "connection termination",
)
NO_ROUTE = Outcome(status=404)
BACKEND_500 = Outcome(status=500, served_by="ratings-v1")
TIMEOUT = Outcome(status=502, probe_error=ProbeError.TIMEOUT)
AGENT_ERROR = Outcome(status=502, probe_error=ProbeError.ERROR)


def result(
    obs: Outcome | None,
    expect: dict[str, Any] | None = None,
    url: str = RATINGS,
    split: dict[str, int] | None = None,
) -> ProbeResult:
    return ProbeResult(
        client="productpage",
        method="GET",
        url=url,
        expect=Expect.model_validate(expect or {"outcome": "allowed"}),
        verdict="pass",
        observations=[obs] if obs is not None else [],
        split_counts=split,
    )


SPLIT = {"outcome": "allowed", "split": {"v1": 90.0, "v2": 10.0}, "tolerance": 5.0}

INFERRED = " (inferred from the data plane)"

# (data plane, waypoint serves the destination, result) -> wording. The talk's contrasts first.
CASES: list[tuple[str, bool | None, ProbeResult, str]] = [
    ("ambient", False, result(OK_L4), "allowed, no Envoy seen: ztunnel" + INFERRED),
    ("ambient", True, result(OK_L7), "allowed through an Envoy: the ratings waypoint" + INFERRED),
    ("sidecar", None, result(OK_L7), "allowed through an Envoy: the server sidecar" + INFERRED),
    (
        "ambient",
        False,
        result(RESET, {"outcome": "denied-l4"}),
        "connection reset: ztunnel" + INFERRED,
    ),
    (
        "ambient",
        None,
        result(EOF_, {"outcome": "denied-l4"}),
        "connection closed: ztunnel" + INFERRED,
    ),
    (
        "ambient",
        True,
        result(RBAC, {"outcome": "denied-l7"}),
        "RBAC 403 from an Envoy: the ratings waypoint" + INFERRED,
    ),
    (
        "sidecar",
        None,
        result(RBAC, {"outcome": "denied-l7"}),
        "RBAC 403 from an Envoy: the server sidecar" + INFERRED,
    ),
    (
        "sidecar",
        None,
        result(FAULT, {"status": 418}),
        "injected fault (status 418): the client sidecar" + INFERRED,
    ),
    # Even the denied client sees the client sidecar's fault (the talk's key contrast) ...
    (
        "sidecar",
        None,
        result(FAULT, {"outcome": "denied-l7"}),
        "injected fault (status 418): the client sidecar" + INFERRED,
    ),
    # ... and a 418 the scenario asked for is a fault even when the body is not Envoy's.
    (
        "sidecar",
        None,
        result(BARE_418, {"status": 418}),
        "injected fault (status 418): the client sidecar" + INFERRED,
    ),
    (
        "ambient",
        True,
        result(FAULT, {"status": 418}),
        "injected fault (status 418): the ratings waypoint" + INFERRED,
    ),
    (
        "ambient",
        True,
        result(OK_L7, SPLIT, url=REVIEWS, split={"reviews-v1": 90, "reviews-v2": 10}),
        "routed through an Envoy: the reviews waypoint" + INFERRED,
    ),
    (
        "sidecar",
        None,
        result(OK_L7, SPLIT, url=REVIEWS, split={"reviews-v1": 90, "reviews-v2": 10}),
        "routed through an Envoy: the client sidecar" + INFERRED,
    ),
    (
        "ambient",
        True,
        result(OK_L7, {"served_by": "v2"}, url=REVIEWS),
        "routed through an Envoy: the reviews waypoint" + INFERRED,
    ),
    # A TCPRoute through a waypoint: no Envoy header, but the scenario says a waypoint routes.
    (
        "ambient",
        True,
        result(OK_L4, {"served_by": "v2"}, url=REVIEWS),
        "routed, no Envoy seen: the reviews waypoint" + INFERRED,
    ),
    (
        "ambient",
        False,
        result(OK_L4, {"served_by": "v2"}, url=REVIEWS),
        "routed, no Envoy seen: ztunnel, no waypoint routes it" + INFERRED,
    ),
    (
        "ambient",
        True,
        result(UPSTREAM_503, {"outcome": "allowed"}),
        "503 after an upstream reset: the ratings waypoint, refused by the L4 policy" + INFERRED,
    ),
    # The report has no scenario: the Envoy body alone identifies the waypoint's 503.
    (
        "ambient",
        None,
        result(UPSTREAM_503, {"status": 503}),
        "503 after an upstream reset: the ratings waypoint, refused by the L4 policy" + INFERRED,
    ),
    (
        "ambient",
        True,
        result(NO_ROUTE, {"status": 404}),
        "status 404 from a proxy: the ratings waypoint" + INFERRED,
    ),
    (
        "sidecar",
        None,
        result(NO_ROUTE, {"status": 404}),
        "status 404 from a proxy: a sidecar" + INFERRED,
    ),
    ("ambient", False, result(BACKEND_500, {"status": 500}), "status 500 from the backend"),
    ("ambient", False, result(TIMEOUT, {"outcome": "unreachable"}), "not reached (timeout)"),
    ("sidecar", None, result(AGENT_ERROR), "probe error (not a mesh decision)"),
    ("ambient", True, result(None), "—"),
]


@pytest.mark.parametrize(("dataplane", "waypoint", "probe", "wording"), CASES)
def test_wording(dataplane: str, waypoint: bool | None, probe: ProbeResult, wording: str) -> None:
    assert enforcement_point(dataplane, probe, waypoint) == wording


def test_every_effect_says_what_was_seen() -> None:
    assert set(SHOWN) == set(Effect) - {Effect.NOTHING}


def test_a_component_is_never_claimed_as_observed() -> None:
    # Issue 11 item 13: "allowed by ztunnel (L4 only)" asserted what nothing observed.
    for dataplane, waypoint, probe, _ in CASES:
        a = attribute(dataplane, probe, waypoint)
        if a.component is not None:
            assert a.text == f"{a.shown}: {a.component} (inferred from the data plane)"
        assert "ztunnel" not in a.shown and "sidecar" not in a.shown and "waypoint" not in a.shown


def test_no_component_for_what_no_envoy_handled_in_sidecar_mode() -> None:
    # In sidecar mode every HTTP hop through a sidecar adds x-request-id: without it, there
    # is nothing to attribute to a sidecar.
    assert attribute("sidecar", result(OK_L4)) == Attribution("allowed, no Envoy seen")


def test_the_newest_observation_decides() -> None:
    probe = result(OK_L4, {"outcome": "denied-l4"})
    probe.observations = [OK_L4, RESET]  # newest last: the policy took effect
    assert classify("ambient", probe) is Effect.DENIED_L4


def test_split_without_observations_uses_the_waypoint() -> None:
    probe = result(None, SPLIT, url=REVIEWS, split={"reviews-v1": 9, "reviews-v2": 1})
    assert classify("ambient", probe, waypoint=True) is Effect.ROUTED_L7
    assert classify("ambient", probe, waypoint=False) is Effect.ROUTED_L4


@pytest.mark.parametrize(
    ("url", "service"),
    [
        ("http://ratings:9080/ratings/1", "ratings"),
        ("http://reviews.bookinfo.svc.cluster.local:9080/", "reviews"),
        ("http://productpage/", "productpage"),
    ],
)
def test_destination_service_is_the_first_host_label(url: str, service: str) -> None:
    assert destination_service(url) == service


def _scenario(waypoints: list[dict[str, Any]]) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "ambient-x",
            "title": "x",
            "description": "x",
            "dataplane": "ambient",
            "namespaces": [{"name": "ambient-x"}],
            "backends": [{"service": "ratings"}, {"service": "reviews"}],
            "clients": [{"name": "productpage"}],
            "waypoints": waypoints,
            "steps": [{"name": "s", "title": "s", "probes": [], "apply": ["m.yaml"]}],
        }
    )


def test_waypoint_serves_labelled_services_or_its_namespace() -> None:
    only_ratings = _scenario([{"name": "waypoint", "services": ["ratings"]}])
    assert waypoint_serves(only_ratings, "ratings")
    assert not waypoint_serves(only_ratings, "reviews")
    assert waypoint_serves(_scenario([{"enroll_namespace": True}]), "reviews")
    # A workload waypoint does not see traffic addressed to a Service.
    assert not waypoint_serves(_scenario([{"for": "workload", "services": ["ratings"]}]), "ratings")
    assert not waypoint_serves(_scenario([]), "ratings")


def test_scenario_enforcement_point_uses_the_scenarios_waypoints() -> None:
    tcp = result(OK_L4, {"served_by": "v2"}, url="http://ratings:9080/")
    assert (
        scenario_enforcement_point(_scenario([{"services": ["ratings"]}]), tcp)
        == "routed, no Envoy seen: the ratings waypoint" + INFERRED
    )
    assert scenario_enforcement_point(_scenario([]), tcp).startswith(
        "routed, no Envoy seen: ztunnel, no waypoint routes it"
    )
