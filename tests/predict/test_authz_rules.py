"""Authorization rules of the model, one Istio behaviour per test (docs/mental-model.md)."""

from __future__ import annotations

from typing import Any

import pytest
from predict_builders import NS, Predict, policy, principal, probe

from harness.predict.prediction import ALLOWED, DENIED_L4, DENIED_L7, STATUS

WAYPOINT = [{"name": "waypoint", "services": ["ratings"]}]
RATINGS = {"matchLabels": {"app": "ratings"}}
SERVICE_REF = [{"kind": "Service", "group": "", "name": "ratings"}]


def outcomes(predict: Predict, **kw: Any) -> list[str]:
    return [p.outcome for p in predict(**kw)]


def allow(*rules: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return policy({"action": "ALLOW", "rules": list(rules), **spec})


FROM_PRODUCTPAGE = {"from": [{"source": {"principals": [principal("productpage")]}}]}
TWO_CLIENTS = [probe("productpage"), probe("reviews")]


def test_ambient_selector_identity_rule_is_l4_at_the_destination_ztunnel(
    predict_probes: Predict,
) -> None:
    got = predict_probes(manifests=[allow(FROM_PRODUCTPAGE, selector=RATINGS)], probes=TWO_CLIENTS)
    assert [p.outcome for p in got] == [ALLOWED, DENIED_L4]
    assert got[1].enforced_by == "destination ztunnel" and got[0].l7 is False


def test_ambient_allow_with_http_attributes_fails_closed(predict_probes: Predict) -> None:
    rule = {**FROM_PRODUCTPAGE, "to": [{"operation": {"methods": ["GET"]}}]}
    got = predict_probes(manifests=[allow(rule, selector=RATINGS)], probes=TWO_CLIENTS)
    assert [p.outcome for p in got] == [DENIED_L4, DENIED_L4]
    assert "methods" in got[0].because and "fails closed" in got[0].because


def test_sidecar_selector_sees_every_attribute(predict_probes: Predict) -> None:
    rule = {
        **FROM_PRODUCTPAGE,
        "to": [{"operation": {"methods": ["GET"], "paths": ["/ratings/*"]}}],
    }
    probes = [
        probe(),
        probe(method="POST", expect="denied-l7"),
        probe("reviews", expect="denied-l7"),
    ]
    got = predict_probes(
        dataplane="sidecar", manifests=[allow(rule, selector=RATINGS)], probes=probes
    )
    assert [p.outcome for p in got] == [ALLOWED, DENIED_L7, DENIED_L7]
    assert got[1].enforced_by == "server sidecar (ratings-v1)" and got[1].status == 403


def test_http_only_deny_on_a_selector_is_not_enforced_in_ambient(predict_probes: Predict) -> None:
    deny = policy(
        {
            "selector": RATINGS,
            "action": "DENY",
            "rules": [{"to": [{"operation": {"paths": ["/ratings/*"]}}]}],
        }
    )
    assert outcomes(predict_probes, manifests=[deny], probes=[probe()]) == [ALLOWED]


def test_deny_mixing_identity_and_a_header_condition_never_fires_at_ztunnel(
    predict_probes: Predict,
) -> None:
    # ztunnel src/rbac.rs: the header condition becomes an empty match, skipped, so the
    # rule's when-clause can never be true and the whole rule never matches.
    rule = {**FROM_PRODUCTPAGE, "when": [{"key": "request.headers[x-test]", "values": ["a"]}]}
    deny = policy({"selector": RATINGS, "action": "DENY", "rules": [rule]})
    assert outcomes(predict_probes, manifests=[deny], probes=[probe()]) == [ALLOWED]


def test_deny_source_with_identity_and_jwt_is_enforced_on_the_identity(
    predict_probes: Predict,
) -> None:
    # The L4 half of one source survives: "enforced without the HTTP rules", more restrictive.
    rule = {
        "from": [{"source": {"principals": [principal("productpage")], "requestPrincipals": ["*"]}}]
    }
    deny = policy({"selector": RATINGS, "action": "DENY", "rules": [rule]})
    assert outcomes(predict_probes, manifests=[deny], probes=TWO_CLIENTS) == [DENIED_L4, ALLOWED]


def test_targetrefs_without_a_waypoint_is_ignored(predict_probes: Predict) -> None:
    got = predict_probes(
        manifests=[allow(FROM_PRODUCTPAGE, targetRefs=SERVICE_REF)], probes=TWO_CLIENTS
    )
    assert [(p.outcome, p.l7) for p in got] == [(ALLOWED, False), (ALLOWED, False)]


@pytest.mark.parametrize(
    "ref",
    [SERVICE_REF, [{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "waypoint"}]],
)
def test_targetrefs_service_or_gateway_is_enforced_by_the_waypoint(
    predict_probes: Predict, ref: Any
) -> None:
    rule = {**FROM_PRODUCTPAGE, "to": [{"operation": {"paths": ["/ratings/*"]}}]}
    probes = [probe(), probe(url="http://ratings:9080/other"), probe("reviews")]
    got = predict_probes(manifests=[allow(rule, targetRefs=ref)], probes=probes, waypoints=WAYPOINT)
    assert [p.outcome for p in got] == [ALLOWED, DENIED_L7, DENIED_L7]
    assert got[2].enforced_by == "waypoint rules/waypoint" and got[0].l7 is True


def test_deny_comes_before_allow(predict_probes: Predict) -> None:
    deny = policy(
        {
            "targetRefs": SERVICE_REF,
            "action": "DENY",
            "rules": [{"when": [{"key": "request.headers[x-block]", "values": ["*"]}]}],
        },
        name="d",
    )
    everyone = allow({}, targetRefs=SERVICE_REF)
    probes = [probe(), probe(headers={"X-Block": "yes"})]
    got = predict_probes(manifests=[everyone, deny], probes=probes, waypoints=WAYPOINT)
    assert [p.outcome for p in got] == [ALLOWED, DENIED_L7]
    assert "rules/d (DENY)" in got[1].because


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, DENIED_L4),  # ALLOW with no rules: allow nothing
        ({"rules": [{}]}, ALLOWED),  # one empty rule: allow everything
        ({"action": "DENY"}, ALLOWED),  # DENY with no rules never fires
        ({"action": "DENY", "rules": [{}]}, DENIED_L4),  # DENY everything
        ({"action": "AUDIT", "rules": [{}]}, ALLOWED),  # AUDIT decides nothing
    ],
)
def test_empty_rules(predict_probes: Predict, spec: dict[str, Any], expected: str) -> None:
    assert outcomes(
        predict_probes, manifests=[policy({"selector": RATINGS, **spec})], probes=[probe()]
    ) == [expected]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"namespaces": [NS]}, [ALLOWED, ALLOWED]),
        ({"notNamespaces": [NS]}, [DENIED_L4, DENIED_L4]),
        ({"principals": ["*/sa/bookinfo-productpage"]}, [ALLOWED, DENIED_L4]),
        ({"principals": ["*/sa/bookinfo-product*"]}, [DENIED_L4, DENIED_L4]),  # one wildcard only
        ({"notPrincipals": [principal("reviews")]}, [ALLOWED, DENIED_L4]),
        ({"serviceAccounts": ["bookinfo-reviews"]}, [DENIED_L4, ALLOWED]),
        # A principal is matched without `spiffe://`: with it, it matches nobody.
        ({"principals": ["spiffe://" + principal("productpage")]}, [DENIED_L4, DENIED_L4]),
    ],
)
def test_sources(predict_probes: Predict, source: dict[str, Any], expected: list[str]) -> None:
    pol = allow({"from": [{"source": source}]}, selector=RATINGS)
    assert outcomes(predict_probes, manifests=[pol], probes=TWO_CLIENTS) == expected


@pytest.mark.parametrize(("ports", "expected"), [(["9080"], ALLOWED), (["8080"], DENIED_L4)])
def test_ports_are_l4(predict_probes: Predict, ports: list[str], expected: str) -> None:
    pol = allow({"to": [{"operation": {"ports": ports}}]}, selector=RATINGS)
    assert outcomes(predict_probes, manifests=[pol], probes=[probe()]) == [expected]


def test_root_namespace_policy_applies_mesh_wide(predict_probes: Predict) -> None:
    pol = policy({"action": "DENY", "rules": [FROM_PRODUCTPAGE]}, namespace="istio-system")
    assert outcomes(predict_probes, manifests=[pol], probes=TWO_CLIENTS) == [DENIED_L4, ALLOWED]


def test_the_destination_ztunnel_sees_the_waypoint_identity(predict_probes: Predict) -> None:
    only_pp = allow(FROM_PRODUCTPAGE, selector=RATINGS)
    got = predict_probes(manifests=[only_pp], probes=[probe()], waypoints=WAYPOINT)
    assert (got[0].outcome, got[0].status) == (STATUS, 503)
    assert f"cluster.local/ns/{NS}/sa/waypoint" in got[0].because


def test_custom_makes_the_prediction_uncertain(predict_probes: Predict) -> None:
    custom = policy(
        {"targetRefs": SERVICE_REF, "action": "CUSTOM", "provider": {"name": "ext"}, "rules": [{}]}
    )
    got = predict_probes(manifests=[custom], probes=[probe()], waypoints=WAYPOINT)
    assert got[0].uncertain and "CUSTOM" in got[0].uncertain


def test_a_custom_selector_policy_in_ambient_is_not_enforced_at_ztunnel(
    predict_probes: Predict,
) -> None:
    custom = policy(
        {"selector": RATINGS, "action": "CUSTOM", "provider": {"name": "ext"}, "rules": [{}]}
    )
    (p,) = predict_probes(manifests=[custom], probes=[probe()])
    assert (p.outcome, p.enforced_by) == (ALLOWED, "destination ztunnel")
    assert "no AuthorizationPolicy applies" not in p.because
    assert "(CUSTOM) is not enforced at ztunnel" in p.because
    assert "ztunnel does not support the CUSTOM action" in p.because


LEGACY = {
    "namespaces": [{"name": NS}, {"name": f"{NS}-legacy", "dataplane": "none"}],
    "clients": [{"name": "productpage"}, {"name": "legacy", "namespace": f"{NS}-legacy"}],
}
FQDN = f"http://ratings.{NS}:9080/ratings/1"


def peer(spec: dict[str, Any], namespace: str = NS) -> dict[str, Any]:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "pa", "namespace": namespace},
        "spec": spec,
    }


@pytest.mark.parametrize(
    ("pa", "dataplane", "legacy"),
    [
        (peer({"mtls": {"mode": "STRICT"}}), "ambient", DENIED_L4),
        (peer({"mtls": {"mode": "STRICT"}}, "istio-system"), "ambient", DENIED_L4),
        (peer({"mtls": {"mode": "PERMISSIVE"}}), "ambient", ALLOWED),
        (
            peer(
                {
                    "selector": RATINGS,
                    "mtls": {"mode": "STRICT"},
                    "portLevelMtls": {9080: {"mode": "PERMISSIVE"}},
                }
            ),
            "ambient",
            ALLOWED,
        ),
        (peer({"mtls": {"mode": "STRICT"}}), "sidecar", DENIED_L4),
    ],
)
def test_peer_authentication(
    predict_probes: Predict, pa: dict[str, Any], dataplane: str, legacy: str
) -> None:
    probes = [probe("productpage", FQDN), probe("legacy", FQDN)]
    got = predict_probes(dataplane=dataplane, manifests=[pa], probes=probes, **LEGACY)
    assert [p.outcome for p in got] == [ALLOWED, legacy]


def test_a_plaintext_client_reaches_a_permissive_sidecar_at_l7(predict_probes: Predict) -> None:
    got = predict_probes(dataplane="sidecar", probes=[probe("legacy", FQDN)], **LEGACY)
    assert (got[0].outcome, got[0].l7) == (ALLOWED, True)


def test_an_envoy_denial_names_the_request_no_rule_matched_without_credentials(
    predict_probes: Predict,
) -> None:
    # The principal matches; the header does not: "no rule matches source.principal X" would
    # blame the identity. The request is named instead, with a credential's value redacted.
    rule = {**FROM_PRODUCTPAGE, "when": [{"key": "request.headers[x-test]", "values": ["yes"]}]}
    got = predict_probes(
        manifests=[allow(rule, targetRefs=SERVICE_REF)],
        waypoints=WAYPOINT,
        probes=[probe(headers={"X-Test": "no", "Authorization": "Bearer s3cret"})],
    )
    assert got[0].outcome == DENIED_L7
    assert got[0].because.endswith(
        "no rule matches GET /ratings/1 with authorization: <redacted>, x-test: no, "
        f"from source.principal {principal('productpage')}"
    )
    assert "s3cret" not in got[0].because
