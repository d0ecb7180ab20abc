"""Resolution of apiVersion + kind, and the strict OpenAPI validator on small schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.lint import crds
from harness.lint.openapi import validate
from harness.lint.resolution import resolve

# ------------------------------------------------------------------------------------------
# Resolution of apiVersion + kind.


@pytest.mark.parametrize(
    ("api", "kind", "error"),
    [
        (
            "security.istio.io/v2",
            "AuthorizationPolicy",
            "no version v2 of security.istio.io AuthorizationPolicy; served: v1, v1beta1",
        ),
        (
            "networking.istio.io/v1",
            "VirtualServices",
            'no kind VirtualServices in group networking.istio.io (did you mean "VirtualService"?)'
            "; kinds: DestinationRule, EnvoyFilter, Gateway, ProxyConfig, ServiceEntry, Sidecar, "
            "VirtualService, WorkloadEntry, WorkloadGroup",
        ),
        ("apps/v1beta2", "Deployment", "no version v1beta2 of apps Deployment; served: v1"),
        ("v1", "Deployment", "no kind Deployment in API group core (v1)"),
        ("batch/v1", "Job", None),
        ("autoscaling/v2", "HorizontalPodAutoscaler", None),
        ("gateway.networking.k8s.io/v1beta1", "HTTPRoute", None),
    ],
)
def test_resolve(crd_dir: Path, api: str, kind: str, error: str | None) -> None:
    res = resolve(crds.load_index(crd_dir), api, kind)
    assert res.error == error
    assert (res.schema is not None) == (error is None)


def test_unknown_group_is_a_note_not_an_error(crd_dir: Path) -> None:
    res = resolve(crds.load_index(crd_dir), "cert-manager.io/v1", "Certificate")
    assert (res.error, res.schema) == (None, None)
    assert res.note == "cert-manager.io/v1 Certificate: no schema for this API group, not validated"


def test_version_priority_order() -> None:
    assert crds.sort_versions(["v1alpha3", "v1beta1", "v2", "v1", "v1alpha10"]) == [
        "v2",
        "v1",
        "v1beta1",
        "v1alpha10",
        "v1alpha3",
    ]


# ------------------------------------------------------------------------------------------
# The validator on small schemas: the OpenAPI/Kubernetes features CRDs use.

OBJ = {
    "type": "object",
    "properties": {
        "port": {"x-kubernetes-int-or-string": True},
        "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}},
        "maybe": {"type": "string", "nullable": True},
        "never": {"type": "string"},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1},
        "count": {"type": "integer", "format": "int32"},
        "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        "ip": {"type": "string", "format": "ipv4"},
        "name": {"type": "string", "pattern": "^[a-z]+$", "minLength": 2},
        "match": {
            "type": "object",
            "properties": {"exact": {"type": "string"}, "prefix": {"type": "string"}},
            "oneOf": [
                {"not": {"anyOf": [{"required": ["exact"]}, {"required": ["prefix"]}]}},
                {"required": ["exact"]},
                {"required": ["prefix"]},
            ],
        },
    },
}


def messages(value: Any, schema: dict[str, Any] = OBJ) -> list[str]:
    return [str(e) for e in validate(value, schema)]


def test_valid_values_have_no_errors() -> None:
    value = {
        "port": "http",
        "open": {"anything": {"nested": [1, 2]}},
        "labels": {"a": "abc"},
        "maybe": None,
        "ratio": 1,
        "count": 7,
        "tags": ["a", "b"],
        "ip": "10.0.0.1",
        "name": "ok",
        "match": {"prefix": "/"},
    }
    assert messages(value) == []
    assert messages({"port": 9080, "match": {}}) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"port": 1.5}, "port: expected integer or string, got number 1.5"),
        ({"labels": {"a": 1}}, "labels.a: expected string, got integer 1"),
        ({"labels": {"a": "abcd"}}, "labels.a: must be at most 3 characters, got 4"),
        ({"never": None}, "never: expected string, got null (an empty value)"),
        ({"ratio": 1.5}, "ratio: must be <= 1, got 1.5"),
        ({"ratio": True}, "ratio: expected number, got boolean true"),
        ({"count": 2**31}, "count: 2147483648 does not fit in int32"),
        ({"tags": ["a", "a"]}, 'tags[1]: duplicate entry "a" (same as [0])'),
        ({"ip": "10.0.0.300"}, 'ip: expected an ipv4 address, got "10.0.0.300"'),
        ({"name": "a"}, "name: must be at least 2 character(s), got 1"),
        ({"name": "Ab"}, 'name: "Ab" does not match the pattern ^[a-z]+$'),
        (
            {"match": {"exact": "/a", "prefix": "/"}},
            "match: only one of exact, prefix may be set, got exact, prefix",
        ),
        ({"nmae": "x"}, 'nmae: unknown field "nmae" (did you mean "name"?)'),
    ],
)
def test_each_violation_is_reported(value: dict[str, Any], expected: str) -> None:
    assert messages(value) == [expected]


def test_unknown_fields_are_allowed_only_where_the_schema_keeps_them() -> None:
    assert messages({"open": {"x": 1}, "labels": {"y": "z"}}) == []
    assert messages({"match": {"regex": "x"}}) == ['match.regex: unknown field "regex"']


def test_list_map_keys_detect_duplicates() -> None:
    schema = {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name", "port"],
        "items": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
        },
    }
    ok = [{"name": "a", "port": 1}, {"name": "a", "port": 2}]
    assert messages(ok, schema) == []
    dup = [*ok, {"name": "a", "port": 1}]
    assert messages(dup, schema) == ['[2]: duplicate entry name="a", port=1 (same as [0])']


def test_yaml_timestamps_count_as_strings() -> None:
    value = yaml.safe_load("when: 2024-01-02T03:04:05Z")
    schema = {"type": "object", "properties": {"when": {"type": "string", "format": "date-time"}}}
    assert messages(value, schema) == []
