"""The silent-mistake checks (harness/lint/silent.py) stay quiet where Istio does what the
scenario says: each test is a near miss of a corpus case under tests/malformed/silent-*."""

from __future__ import annotations

import textwrap
from pathlib import Path

from lint_corpus import lint_output

HEAD = """\
name: s
title: "near miss"
description: "near miss"
dataplane: {mode}
namespaces:
  - name: s
backends:
  - service: ratings
  - service: reviews
    versions: [v1, v2]
clients:
  - name: productpage
  - name: reviews
"""
STEP = """\
steps:
  - name: one
    title: "one"
    apply: [{files}]
    probes:
      - from: productpage
        url: {url}
        expect: {expect}
"""


def lint(
    tmp_path: Path,
    manifests: dict[str, str],
    *,
    extra: str = "",
    mode: str = "ambient",
    url: str = "http://ratings:9080/ratings/1",
    expect: str = "allowed",
) -> str:
    case = tmp_path / "s"
    (case / "manifests").mkdir(parents=True)
    for name, body in manifests.items():
        (case / "manifests" / name).write_text(textwrap.dedent(body))
    files = ", ".join(f"manifests/{n}" for n in manifests)
    step = STEP.format(files=files, url=url, expect=expect)
    if not manifests:
        step = step.replace("    apply: []\n", "")
    (case / "scenario.yaml").write_text(HEAD.format(mode=mode) + extra + step)
    return lint_output([case], strip=case)[1]


CLEAN = "no problems in 1 scenario\n"


def test_gateway_class_defined_by_the_scenario_is_known(tmp_path: Path) -> None:
    out = lint(
        tmp_path,
        {
            "gw.yaml": """\
        apiVersion: gateway.networking.k8s.io/v1
        kind: GatewayClass
        metadata:
          name: my-class
        spec:
          controllerName: example.com/gateway
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: Gateway
        metadata:
          name: edge
          namespace: s
        spec:
          gatewayClassName: my-class
          listeners:
            - name: http
              port: 80
              protocol: HTTP
        """
        },
    )
    assert out == CLEAN


def test_waypoint_used_through_a_manifest_label_is_used(tmp_path: Path) -> None:
    extra = "waypoints:\n  - name: waypoint\n"
    out = lint(
        tmp_path,
        {
            "svc.yaml": """\
        apiVersion: v1
        kind: Service
        metadata:
          name: ratings-tcp
          namespace: s
          labels:
            istio.io/use-waypoint: waypoint
        spec:
          selector:
            app: ratings
          ports:
            - port: 9080
        """
        },
        extra=extra,
    )
    assert out == CLEAN


def test_target_refs_to_a_service_its_waypoint_serves(tmp_path: Path) -> None:
    extra = "waypoints:\n  - name: waypoint\n    services: [ratings]\n"
    out = lint(
        tmp_path,
        {
            "policy.yaml": """\
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata:
          name: ratings-deny-post
          namespace: s
        spec:
          targetRefs:
            - kind: Service
              group: ""
              name: ratings
          action: DENY
          rules:
            - to:
                - operation:
                    methods: [POST]
        """
        },
        extra=extra,
        expect="{outcome: allowed, l7: true}",
    )
    assert out == CLEAN


def test_http_deny_shown_to_be_ignored_is_a_lesson(tmp_path: Path) -> None:
    # A probe sends the request the rule names and expects it allowed (the catalogue's
    # ambient-authz-l7-no-waypoint does the same): the scenario knows Istio ignores the rule.
    out = lint(
        tmp_path,
        {
            "policy.yaml": """\
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata:
          name: ratings-deny-admin
          namespace: s
        spec:
          selector:
            matchLabels:
              app: ratings
          action: DENY
          rules:
            - to:
                - operation:
                    paths: ["/admin/*"]
        """
        },
        url="http://ratings:9080/admin/x",
    )
    assert out == CLEAN


def test_mixed_l4_and_http_deny_rule_is_not_http_only(tmp_path: Path) -> None:
    out = lint(
        tmp_path,
        {
            "policy.yaml": """\
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata:
          name: ratings-deny
          namespace: s
        spec:
          selector:
            matchLabels:
              app: ratings
          action: DENY
          rules:
            - to:
                - operation:
                    ports: ["9999"]
                    methods: [DELETE]
        """
        },
    )
    assert out == CLEAN


def test_principal_wildcards_are_istio_forms(tmp_path: Path) -> None:
    out = lint(
        tmp_path,
        {
            "policy.yaml": """\
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata:
          name: ratings-allow
          namespace: s
        spec:
          selector:
            matchLabels:
              app: ratings
          action: ALLOW
          rules:
            - from:
                - source:
                    principals: ["*", "*/sa/bookinfo-productpage"]
        """
        },
    )
    assert out == CLEAN


def test_a_route_may_send_a_service_to_another_backend(tmp_path: Path) -> None:
    # ratings has v1 only, but a route sends its requests to reviews-v2.
    extra = "waypoints:\n  - name: waypoint\n    services: [ratings]\n"
    out = lint(
        tmp_path,
        {
            "route.yaml": """\
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata:
          name: ratings-to-reviews
          namespace: s
        spec:
          parentRefs:
            - kind: Service
              group: ""
              name: ratings
              port: 9080
          rules:
            - backendRefs:
                - name: reviews-v2
                  port: 9080
        """
        },
        extra=extra,
        expect="{served_by: v2}",
    )
    assert out == CLEAN


def test_the_same_object_in_two_steps_is_an_update(tmp_path: Path) -> None:
    body = """\
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata:
          name: ratings-policy
          namespace: s
        spec:
          selector:
            matchLabels:
              app: ratings
          action: {action}
          rules:
            - from:
                - source:
                    principals: [cluster.local/ns/s/sa/bookinfo-reviews]
        """
    out = lint(tmp_path, {"a.yaml": body.replace("{action}", "DENY")})
    scenario = tmp_path / "s" / "scenario.yaml"
    (tmp_path / "s" / "manifests" / "b.yaml").write_text(
        textwrap.dedent(body.replace("{action}", "ALLOW"))
    )
    scenario.write_text(
        scenario.read_text()
        + '  - name: two\n    title: "two"\n    apply: [manifests/b.yaml]\n'
        + "    probes:\n      - from: reviews\n        url: http://ratings:9080/ratings/1\n"
        + "        expect: allowed\n"
    )
    assert out == CLEAN
    assert lint_output([tmp_path / "s"], strip=tmp_path / "s")[1] == CLEAN
