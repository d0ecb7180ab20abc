"""Routing rules of the model: VirtualService/DestinationRule at the client sidecar, HTTPRoute
and TCPRoute at the waypoint, faults, timeouts, retries."""

from __future__ import annotations

from typing import Any

import pytest
from predict_builders import NS, Predict, policy, principal, probe

from harness.predict.prediction import ALLOWED, DENIED_L7, STATUS, UNREACHABLE
from harness.predict.routes import duration_s

REVIEWS = [{"service": "reviews", "versions": ["v1", "v2"]}]
REV = "http://reviews:9080/reviews/1"
WP_REVIEWS = [{"name": "waypoint", "services": ["reviews"]}]
WP_RATINGS = [{"name": "waypoint", "services": ["ratings"]}]
SERVICE_PARENT = {"group": "", "kind": "Service", "name": "reviews", "port": 9080}


def vs(http: list[dict[str, Any]], host: str = "reviews") -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": host},
        "spec": {"hosts": [host], "http": http},
    }


def subsets(*names: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "reviews"},
        "spec": {
            "host": "reviews",
            "subsets": [{"name": n, "labels": {"version": n}} for n in names],
        },
    }


def dest(subset: str, weight: int) -> dict[str, Any]:
    return {"destination": {"host": "reviews", "subset": subset}, "weight": weight}


def http_route(
    rules: list[dict[str, Any]], kind: str = "HTTPRoute", parent: dict[str, Any] = SERVICE_PARENT
) -> dict[str, Any]:
    version = "v1alpha2" if kind == "TCPRoute" else "v1"
    return {
        "apiVersion": f"gateway.networking.k8s.io/{version}",
        "kind": kind,
        "metadata": {"name": parent["name"]},
        "spec": {"parentRefs": [parent], "rules": rules},
    }


def ref(name: str, weight: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "port": 9080}
    if weight is not None:
        out["weight"] = weight
    return out


def test_no_route_balances_over_every_version(predict_probes: Predict) -> None:
    (p,) = predict_probes(backends=REVIEWS, probes=[probe(url=REV)])
    assert (p.split, p.served_by, p.l7) == ({"v1": 50.0, "v2": 50.0}, None, False)


def test_virtual_service_weights_and_subsets_at_the_client_sidecar(predict_probes: Predict) -> None:
    route = vs(
        [
            {
                "route": [dest("v1", 80), dest("v2", 20)],
                "headers": {"response": {"set": {"x-r": "a"}}},
            }
        ]
    )
    (p,) = predict_probes(
        dataplane="sidecar",
        backends=REVIEWS,
        manifests=[subsets("v1", "v2"), route],
        probes=[probe(url=REV)],
    )
    assert (p.split, p.headers, p.l7) == ({"v1": 80.0, "v2": 20.0}, {"x-r": "a"}, True)
    assert p.enforced_by == "client sidecar (productpage)"


def test_a_subset_no_destination_rule_defines_is_a_503(predict_probes: Predict) -> None:
    (p,) = predict_probes(
        dataplane="sidecar",
        backends=REVIEWS,
        manifests=[subsets("v1"), vs([{"route": [dest("v3", 100)]}])],
        probes=[probe(url=REV, expect={"status": 503})],
    )
    assert (p.outcome, p.status) == (STATUS, 503)


def test_the_client_fault_comes_before_server_authorization(predict_probes: Predict) -> None:
    deny_all = policy({"selector": {"matchLabels": {"app": "ratings"}}})
    fault = vs(
        [
            {
                "fault": {"abort": {"httpStatus": 418}},
                "route": [{"destination": {"host": "ratings"}}],
            }
        ],
        "ratings",
    )
    (p,) = predict_probes(
        dataplane="sidecar", manifests=[deny_all, fault], probes=[probe(expect={"status": 418})]
    )
    assert (p.outcome, p.status, p.l7) == (STATUS, 418, None)
    assert "before any server-side authorization" in p.because


def test_the_waypoint_authorizes_before_the_fault(predict_probes: Predict) -> None:
    only_pp = policy(
        {
            "targetRefs": [{"kind": "Service", "group": "", "name": "ratings"}],
            "rules": [{"from": [{"source": {"principals": [principal("productpage")]}}]}],
        }
    )
    fault = vs(
        [
            {
                "fault": {"abort": {"httpStatus": 418, "percentage": {"value": 100}}},
                "route": [{"destination": {"host": "ratings"}}],
            }
        ],
        "ratings",
    )
    got = predict_probes(
        manifests=[only_pp, fault],
        probes=[probe(expect={"status": 418}), probe("reviews", expect="denied-l7")],
        waypoints=WP_RATINGS,
    )
    assert [(p.outcome, p.status) for p in got] == [(STATUS, 418), (DENIED_L7, 403)]


def test_a_partial_fault_is_uncertain(predict_probes: Predict) -> None:
    fault = vs(
        [
            {
                "fault": {"abort": {"httpStatus": 500, "percentage": {"value": 50}}},
                "route": [{"destination": {"host": "ratings"}}],
            }
        ],
        "ratings",
    )
    (p,) = predict_probes(dataplane="sidecar", manifests=[fault], probes=[probe()])
    assert p.uncertain


@pytest.mark.parametrize(
    ("http", "url", "expected"),
    [
        ({"timeout": "1s"}, "/delay/3", (STATUS, 504, None)),
        ({"timeout": "5s"}, "/delay/3", (ALLOWED, 200, 1)),
        ({"retries": {"attempts": 2, "retryOn": "5xx"}}, "/status/500", (STATUS, 500, 3)),
        ({"retries": {"attempts": 2, "retryOn": "gateway-error"}}, "/status/500", (STATUS, 500, 1)),
        (
            {"retries": {"attempts": 2}},
            "/status/503",
            (STATUS, 503, 1),
        ),  # default retryOn skips 503
        ({"fault": {"delay": {"fixedDelay": "6s"}}}, "/ratings/1", (UNREACHABLE, None, None)),
    ],
)
def test_virtual_service_resilience(
    predict_probes: Predict, http: dict[str, Any], url: str, expected: tuple[Any, ...]
) -> None:
    route = vs([{**http, "route": [{"destination": {"host": "ratings"}}]}], "ratings")
    (p,) = predict_probes(
        dataplane="sidecar", manifests=[route], probes=[probe(url="http://ratings:9080" + url)]
    )
    assert (p.outcome, p.status, p.attempts) == expected


def test_httproute_is_ignored_without_a_waypoint(predict_probes: Predict) -> None:
    route = http_route([{"backendRefs": [ref("reviews-v2")]}])
    (p,) = predict_probes(backends=REVIEWS, manifests=[route], probes=[probe(url=REV)])
    assert (p.split, p.l7) == ({"v1": 50.0, "v2": 50.0}, False)


def test_httproute_precedence_exact_then_longest_prefix_then_headers(
    predict_probes: Predict,
) -> None:
    rules = [
        {"backendRefs": [ref("reviews-v1")]},
        {
            "matches": [{"path": {"type": "PathPrefix", "value": "/reviews"}}],
            "backendRefs": [ref("reviews-v2")],
        },
        {
            "matches": [{"path": {"type": "Exact", "value": "/reviews/1"}}],
            "backendRefs": [ref("reviews-v1")],
        },
        {
            "matches": [
                {
                    "path": {"type": "PathPrefix", "value": "/reviews"},
                    "headers": [{"name": "end-user", "value": "jason"}],
                }
            ],
            "backendRefs": [ref("reviews-v1")],
        },
    ]
    probes = [
        probe(url=REV),  # Exact wins
        probe(url="http://reviews:9080/reviews/2"),  # prefix /reviews
        probe(url="http://reviews:9080/reviewsx"),  # not a path element: catch-all
        probe(url="http://reviews:9080/reviews/2", headers={"End-User": "jason"}),  # headers win
    ]
    got = predict_probes(
        backends=REVIEWS, manifests=[http_route(rules)], probes=probes, waypoints=WP_REVIEWS
    )
    assert [p.served_by for p in got] == ["reviews-v1", "reviews-v2", "reviews-v1", "reviews-v1"]
    assert [p.because.split(":")[0] for p in got] == [
        f"HTTPRoute {NS}/reviews rules[{i}]" for i in (2, 1, 0, 3)
    ]


def test_httproute_filters_and_retries(predict_probes: Predict) -> None:
    rule = {
        "filters": [
            {
                "type": "RequestHeaderModifier",
                "requestHeaderModifier": {"add": [{"name": "X-A", "value": "1"}]},
            }
        ],
        "retry": {"codes": [500], "attempts": 2},
        "backendRefs": [ref("ratings")],
    }
    parent = {**SERVICE_PARENT, "name": "ratings"}
    got = predict_probes(
        manifests=[http_route([rule], parent=parent)],
        probes=[
            probe(url="http://ratings:9080/status/500"),
            probe(url="http://ratings:9080/status/503"),
        ],
        waypoints=WP_RATINGS,
    )
    assert [(p.status, p.attempts) for p in got] == [(500, 3), (503, 1)]
    assert got[0].backend_saw == {"x-a": "1"}
    # The 503 is not retried because the route's codes leave it out, not by Istio's default.
    assert "retries only on 500" in got[1].because and "default" not in got[1].because


def test_no_retry_configured_is_worded_as_istios_default(predict_probes: Predict) -> None:
    (p,) = predict_probes(
        probes=[probe(url="http://ratings:9080/status/503")], waypoints=WP_RATINGS
    )
    assert p.attempts == 1
    assert "default retry policy retries connection failures, not a 503 answer" in p.because


def test_a_rule_without_backends_answers_500(predict_probes: Predict) -> None:
    parent = {**SERVICE_PARENT, "name": "ratings"}
    (p,) = predict_probes(
        manifests=[http_route([{}], parent=parent)], probes=[probe()], waypoints=WP_RATINGS
    )
    assert (p.outcome, p.status) == (STATUS, 500)


def test_tcproute_weights_without_l7(predict_probes: Predict) -> None:
    tcp_svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "reviews-tcp", "labels": {"istio.io/use-waypoint": "waypoint"}},
        "spec": {
            "selector": {"app": "reviews"},
            "ports": [{"name": "tcp", "port": 9080, "appProtocol": "tcp"}],
        },
    }
    route = http_route(
        [{"backendRefs": [ref("reviews-v1", 25), ref("reviews-v2", 75)]}],
        "TCPRoute",
        {**SERVICE_PARENT, "name": "reviews-tcp"},
    )
    (p,) = predict_probes(
        backends=REVIEWS,
        manifests=[tcp_svc, route],
        probes=[probe(url="http://reviews-tcp:9080/x")],
        waypoints=[{"name": "waypoint"}],
    )
    assert (p.split, p.l7, p.attempts) == ({"v1": 25.0, "v2": 75.0}, False, None)


def test_a_tcproute_on_an_http_port_says_why_it_does_not_apply(predict_probes: Predict) -> None:
    route = http_route([{"backendRefs": [ref("reviews-v2")]}], "TCPRoute")
    (p,) = predict_probes(
        backends=REVIEWS, manifests=[route], probes=[probe(url=REV)], waypoints=WP_REVIEWS
    )
    assert (p.split, p.l7) == ({"v1": 50.0, "v2": 50.0}, True)
    assert "TCPRoute rules/reviews does not apply: port 9080 is HTTP" in p.because


def test_unknown_host_and_port_are_unreachable(predict_probes: Predict) -> None:
    got = predict_probes(
        probes=[probe(url="http://nothere:9080/"), probe(url="http://ratings:8080/")]
    )
    assert [p.outcome for p in got] == [UNREACHABLE, UNREACHABLE]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("500ms", 0.5), ("1h30m", 5400.0), ("0.5s", 0.5), ("1x", None), ("", None)],
)
def test_durations(text: str, seconds: float | None) -> None:
    assert duration_s(text) == seconds
