"""The Kubernetes library functions lint adds to CEL (cel_library), apimachinery's format
checks and the built-in kinds' validations (builtin_rules), with the API server's wording."""

from __future__ import annotations

from typing import Any

import pytest

from harness.lint import apimachinery as am
from harness.lint import cel_library
from harness.lint.builtin_rules import validate_builtin
from harness.lint.cel_rules import evaluate


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("https://example.com/a", True),
        ("oci://ghcr.io/x/y:1.0", True),
        ("file:///opt/p.wasm", True),
        ("/just/a/path", True),
        ("*", True),
        ("mailto:x@example.com", True),
        ("ghcr.io/x/y:1.0", False),
        ("", False),
        (":x", False),
        ("http://a b/", False),
        ("http://host:port/", False),
        ("http://x/%zz", False),
        ("relative/path", False),
        ("http://x/\x7f", False),
    ],
)
def test_is_url_is_gos_parse_request_uri(raw: str, ok: bool) -> None:
    assert cel_library.is_url(raw) is ok


def test_url_errors_and_scheme_as_the_api_server_words_them() -> None:
    assert cel_library.parse_request_uri("HTTPS://x/")["scheme"] == "https"
    with pytest.raises(ValueError) as err:
        cel_library.parse_request_uri("example.com/jwks")
    assert str(err.value) == (
        'URL parse error during conversion from string: parse "example.com/jwks": '
        "invalid URI for request"
    )


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("10.0.0.1", True),
        ("2001:db8::1", True),
        ("::1.2.3.4", True),
        ("010.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("fe80::1%eth0", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_ip(raw: str, ok: bool) -> None:
    assert cel_library.is_ip(raw) is ok


def test_the_kubernetes_functions_are_registered_with_the_library() -> None:
    assert evaluate('isURL("http://a") && !isURL("a")', None) == (True, None)
    assert evaluate('url("oci://r/x").getScheme() == "oci"', None) == (True, None)
    assert evaluate("['10.0.0.1', 'host'].filter(h, isIP(h)).size() == 1", None) == (True, None)
    result, error = evaluate('url("nope").getScheme() == ""', None)
    assert result is None and error is not None and "invalid URI for request" in error


def test_apimachinery_messages() -> None:
    assert am.dns1123_label("a.b") == ["must not contain dots"]
    assert am.port_name("-W--") == [
        "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
        "must contain at least one letter (a-z)",
        "must not contain consecutive hyphens",
        "must not begin or end with a hyphen",
    ]
    assert am.label_key("example.com/") == [
        "name part must be non-empty",
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
        "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
        "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ]
    assert am.label_key("Bad_/x")[0].startswith("prefix part a lowercase RFC 1123 subdomain")
    assert am.label_value("x" * 64)[0] == "must be no more than 63 characters"
    assert am.label_value("") == []
    assert am.config_map_key("..a") == ["must not start with '..'"]


def _messages(group: str, kind: str, data: dict[str, Any]) -> list[str]:
    return [str(e) for e in validate_builtin(group, kind, data)]


def test_service_port_rules_follow_the_defaults() -> None:
    """targetPort 0 or "" defaults to the port; protocol defaults to TCP (so TCP == unset)."""
    spec = {
        "ports": [
            {"name": "a", "port": 80, "targetPort": 0},
            {"name": "b", "port": 80, "protocol": "TCP", "targetPort": ""},
            {"name": "c", "port": 80, "protocol": "UDP"},
        ]
    }
    assert _messages("", "Service", {"spec": spec}) == [
        'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", '
        "AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, "
        'StrVal:""}, NodePort:0}'
    ]
    assert _messages("", "Service", {"spec": {"clusterIP": "None"}}) == []
    assert _messages("", "Service", {"spec": {}}) == ["spec.ports: Required value"]
    assert _messages(
        "", "Service", {"spec": {"ports": [{"name": "a", "port": 1}, {"name": "a", "port": 2}]}}
    ) == ['spec.ports[1].name: Duplicate value: "a"']


def test_deployment_selector_expressions() -> None:
    template = {
        "metadata": {"labels": {"app": "r", "version": "v1"}},
        "spec": {"containers": [{"name": "r", "image": "r:1"}]},
    }
    ok = {"matchExpressions": [{"key": "version", "operator": "In", "values": ["v1"]}]}
    assert _messages("apps", "Deployment", {"spec": {"selector": ok, "template": template}}) == []
    bad = {
        "matchExpressions": [
            {"key": "app", "operator": "Exists", "values": ["r"]},
            {"key": "app", "operator": "Within"},
        ]
    }
    assert _messages("apps", "Deployment", {"spec": {"selector": bad, "template": template}}) == [
        "spec.selector.matchExpressions[0].values: Forbidden: may not be specified when "
        "`operator` is 'Exists' or 'DoesNotExist'",
        'spec.selector.matchExpressions[1].operator: Invalid value: "Within": '
        "not a valid selector operator",
    ]
    other = {"matchExpressions": [{"key": "version", "operator": "NotIn", "values": ["v1"]}]}
    assert _messages("apps", "Deployment", {"spec": {"selector": other, "template": template}}) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"r", '
        '"version":"v1"}: `selector` does not match template `labels`'
    ]


def test_config_map_keys() -> None:
    data = {"data": {"ok.key": "1", "bad key": "2", "both": "x"}, "binaryData": {"both": "eA=="}}
    assert _messages("", "ConfigMap", data) == [
        'data[bad key]: Invalid value: "bad key": a valid config key must consist of '
        "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
        "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        'data[both]: Invalid value: "both": duplicate of key present in binaryData',
    ]


def test_pod_template_containers() -> None:
    spec = {
        "containers": [
            {
                "name": "Web",
                "image": "w:1",
                "ports": [
                    {"containerPort": 0},
                    {"name": "http", "containerPort": 70000},
                    {"name": "http", "containerPort": 80},
                ],
            },
            {"name": "w2"},
        ]
    }
    selector = {"matchLabels": {"app": "r"}}
    template = {"metadata": {"labels": {"app": "r"}}, "spec": spec}
    deployment = {"spec": {"selector": selector, "template": template}}
    base = "spec.template.spec.containers"
    assert _messages("apps", "Deployment", deployment) == [
        f'{base}[0].name: Invalid value: "Web": a lowercase RFC 1123 label must consist of lower '
        "case alphanumeric characters or '-', and must start and end with an alphanumeric "
        "character (e.g. 'my-name',  or '123-abc', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        f"{base}[0].ports[0].containerPort: Required value",
        f"{base}[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, "
        "inclusive",
        f'{base}[0].ports[2].name: Duplicate value: "http"',
        f"{base}[1].image: Required value",
    ]
    assert _messages("", "Pod", {"spec": {}}) == ["spec.containers: Required value"]
