"""The CEL engine (cel_rules): every rule of the pinned bundles compiles, rules see the object
the API server sees (pruned, defaulted, escaped names), rejections are worded as the API
server words them, and a malformed object is not evaluated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.lint import cel_rules, crds
from harness.lint.cel_rules import Rule, escape, validate_rules
from harness.lint.objects import validate_object
from harness.lint.resolution import resolve
from harness.lint.structural import server_view
from harness.model.source import SourceError, load_documents


def _walk_rules(schema: Any, out: list[Rule]) -> None:
    if not isinstance(schema, dict):
        return
    out.extend(Rule.of(r) for r in schema.get("x-kubernetes-validations") or [])
    for sub in (schema.get("properties") or {}).values():
        _walk_rules(sub, out)
    for key in ("items", "additionalProperties"):
        _walk_rules(schema.get(key), out)


def bundle_rules(crd_dir: Path) -> list[Rule]:
    rules: list[Rule] = []
    for crd in crds.load_index(crd_dir).crds.values():
        for version in crd.versions:
            _walk_rules(version.schema, rules)
    return rules


def test_every_rule_of_the_bundles_compiles_but_the_transition_rules(crd_dir: Path) -> None:
    rules = bundle_rules(crd_dir)
    assert len(rules) == 696  # every served and unserved version of both bundles
    unique = {r.rule for r in rules}
    assert len(unique) == 126
    failed = [r for r in sorted(unique) if cel_rules.compile_problem(r) is not None]
    transition = {r.rule for r in rules if r.transition}
    # `self == oldSelf` (GatewayClass controllerName): oldSelf is only bound on update.
    assert transition == {"self == oldSelf"}
    assert failed == ["self == oldSelf"]


def test_rules_are_compiled_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    env = cel_rules._env()

    class Counting:
        def compile(self, expression: str) -> Any:
            calls.append(expression)
            return env.compile(expression)

        def Activation(self, **kwargs: Any) -> Any:
            return env.Activation(**kwargs)

    monkeypatch.setattr(cel_rules, "_PROGRAMS", {})
    monkeypatch.setattr(cel_rules, "_env", lambda: Counting())
    schema = {
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.a > 1", "message": "m"}],
    }
    for value in (2, 0, 3):
        validate_rules({"a": value}, schema)
    assert calls == ["self.a > 1"]


@pytest.mark.parametrize(
    ("name", "escaped"),
    [("namespace", "__namespace__"), ("a-b", "a__dash__b"), ("a.b", "a__dot__b"),
     ("x__y", "x__underscores__y"), ("a/b", "a__slash__b"), ("plain", "plain"), ("1st", None)],
)  # fmt: skip
def test_property_names_are_escaped_as_kubernetes_does(name: str, escaped: str | None) -> None:
    assert escape(name) == escaped


def _rules(*rules: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "x-kubernetes-validations": list(rules), **extra}


def test_a_false_rule_is_worded_like_the_api_server() -> None:
    schema = _rules({"rule": "has(self.a)", "message": "a is required"})
    assert [str(e) for e in validate_rules({"spec": 1}, schema)] == [
        '(document): Invalid value: "object": a is required'
    ]
    no_message = _rules({"rule": "has(self.a)"})
    assert [e.message for e in validate_rules({}, no_message)] == [
        'Invalid value: "object": failed rule: has(self.a)'
    ]


def test_message_expression_field_path_and_reason() -> None:
    rule = "self.n < 3"
    schema = _rules(
        {"rule": rule, "messageExpression": "'n is ' + string(self.n)"},
        {"rule": rule, "message": "too big", "fieldPath": ".n", "reason": "FieldValueForbidden"},
        {"rule": rule, "message": "x", "reason": "FieldValueRequired", "fieldPath": "['n']"},
        {"rule": rule, "message": "x", "reason": "FieldValueDuplicate"},
        properties={"n": {"type": "integer"}},
    )
    assert [str(e) for e in validate_rules({"n": 5}, schema)] == [
        '(document): Invalid value: "object": n is 5',
        "n: Forbidden: too big",
        "n: Required value: x",
        '(document): Duplicate value: "object"',
    ]


def test_an_evaluation_error_is_a_rejection_worded_with_the_error() -> None:
    schema = _rules(
        {"rule": "self.a.size() > 0", "message": "needs a"},
        {"rule": "duration(self.d) > duration('1ms')", "message": "bad d"},
        properties={"a": {"type": "array"}, "d": {"type": "string"}},
    )
    assert [e.message for e in validate_rules({"d": "ten"}, schema)] == [
        'Invalid value: "object": no such key: a evaluating rule: needs a',
        "Invalid value: \"object\": type conversion error from 'string' to "
        "'google.protobuf.Duration' evaluating rule: bad d",
    ]


def test_rules_see_defaults_and_not_pruned_fields() -> None:
    """The API server defaults before it evaluates; a field it prunes is not there."""
    schema = _rules(
        {"rule": "self.mode == 'A'", "message": "mode must be A"},
        {"rule": "!has(self.extra)", "message": "pruned fields are not seen"},
        properties={"mode": {"type": "string", "default": "A"}},
    )
    assert validate_rules({"extra": 1}, schema) == []
    assert [e.message for e in validate_rules({"mode": "B"}, schema)] == [
        'Invalid value: "object": mode must be A'
    ]


def test_httproute_rule_without_matches_is_not_a_false_alarm(crd_dir: Path) -> None:
    """`self[0].matches.size()` relies on the defaulted `matches` (fails without defaulting)."""
    res = resolve(crds.load_index(crd_dir), "gateway.networking.k8s.io/v1", "HTTPRoute")
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r", "namespace": "n"},
        "spec": {"rules": [{"backendRefs": [{"name": "ratings", "port": 9080}]}]},
    }
    assert validate_object(route, res) == []


def test_a_blocking_schema_error_skips_the_rules(crd_dir: Path) -> None:
    """A type or enum error: the API server does not evaluate CEL, neither does lint."""
    res = resolve(crds.load_index(crd_dir), "security.istio.io/v1", "AuthorizationPolicy")
    policy: dict[str, Any] = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "p", "namespace": "n"},
        "spec": {
            "selector": {"matchLabels": {"app": "a"}},
            "targetRefs": [{"kind": "Service", "name": "a"}],
        },
    }
    both = "only one of targetRefs or selector can be set"
    assert [e.message for e in validate_object(policy, res)] == [f'Invalid value: "object": {both}']
    policy["spec"]["action"] = "PERMIT"
    assert [e.message for e in validate_object(policy, res)] == [
        'expected one of ALLOW, DENY, AUDIT, CUSTOM, got "PERMIT"'
    ]
    policy["spec"]["action"] = "ALLOW"
    policy["spec"]["unknownField"] = 1  # pruned by the server: not blocking
    messages = [e.message for e in validate_object(policy, res)]
    assert f'Invalid value: "object": {both}' in messages


def test_rules_see_escaped_names_at_every_depth_and_not_unaddressable_ones() -> None:
    """`namespace` is `__namespace__` in CEL, below plain-named nodes too; `1st` is not seen."""
    inner = {"type": "object", "properties": {"namespace": {"type": "string"}, "1st": {}}}
    schema = _rules(
        {"rule": "self.ref.__namespace__ == 'n'", "message": "escaped"},
        {"rule": "!has(self.ref.namespace)", "message": "not under its own name"},
        {"rule": "self.ref.size() == 1", "message": "1st is dropped"},
        {"rule": "self.plain.a == 1", "message": "plain names as they are"},
        properties={"ref": inner, "plain": {"type": "object", "properties": {"a": {}}}},
    )
    assert validate_rules({"ref": {"namespace": "n", "1st": 1}, "plain": {"a": 1}}, schema) == []
    assert [
        e.message for e in validate_rules({"ref": {"namespace": "m"}, "plain": {"a": 1}}, schema)
    ] == ['Invalid value: "object": escaped']


def test_a_null_node_is_not_evaluated() -> None:
    schema = {
        "type": "object",
        "properties": {"a": _rules({"rule": "false", "message": "never"}, nullable=True)},
    }
    assert validate_rules({"a": None}, schema) == []
    assert len(validate_rules({"a": {}}, schema)) == 1


def test_a_number_is_a_double_in_cel_even_when_written_as_an_integer() -> None:
    """`value: 100` in a `type: number` field: Kubernetes types it double."""
    schema = _rules(
        {"rule": "type(self.value) == double && self.value > 0.0", "message": "positive"},
        properties={"value": {"type": "number"}},
    )
    assert validate_rules({"value": 100}, schema) == []
    assert [e.message for e in validate_rules({"value": 0}, schema)] == [
        'Invalid value: "object": positive'
    ]


# --------------------------------------------------------------------------------------------
# The walk's shortcuts (plans per schema node, lazy activations, values shared when no name is
# escaped) evaluate exactly what the plain walk does: every node, every rule, the whole
# value converted and handed to cel-expr-python eagerly.


def _eager(value: Any, schema: Any) -> Any:
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        props, extra = schema.get("properties") or {}, schema.get("additionalProperties")
        out: dict[str, Any] = {}
        for key, sub in value.items():
            if key in props:
                if escape(key) is not None:
                    out[str(escape(key))] = _eager(sub, props[key])
            else:
                out[key] = _eager(sub, extra) if isinstance(extra, dict) else sub
        return out
    if isinstance(value, list):
        items = schema.get("items")
        return [_eager(v, items if isinstance(items, dict) else {}) for v in value]
    if schema.get("type") == "number" and type(value) is int:
        return float(value)
    return value


def _plain_walk(value: Any, schema: Any, path: tuple[Any, ...], out: list[Any]) -> None:
    if value is None or not isinstance(schema, dict):
        return
    for rule in (Rule.of(r) for r in schema.get("x-kubernetes-validations") or []):
        if rule.rule and not rule.transition and cel_rules.compile_problem(rule.rule) is None:
            result = cel_rules.compiled(rule.rule).eval(data={"self": _eager(value, schema)})
            failed = result.type().name() == "ERROR"
            out.append(
                (
                    path,
                    rule.rule,
                    *((None, str(result.value())) if failed else (result.value(), None)),
                )
            )
    if isinstance(value, dict):
        props, extra = schema.get("properties") or {}, schema.get("additionalProperties")
        for key, sub in value.items():
            _plain_walk(sub, props.get(key, extra), (*path, key), out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _plain_walk(item, schema.get("items"), (*path, i), out)


def _plain_evaluations(data: dict[str, Any], schema: Any) -> list[Any]:
    view = server_view(
        {k: v for k, v in data.items() if k not in ("apiVersion", "kind", "metadata")}, schema
    )
    for key in ("apiVersion", "kind"):
        if key in data:
            view[key] = data[key]
    if isinstance(data.get("metadata"), dict):
        view["metadata"] = {
            k: v for k, v in data["metadata"].items() if k in ("name", "generateName")
        }
    out: list[Any] = []
    _plain_walk(view, schema, (), out)
    return out


def test_the_walk_evaluates_what_the_plain_walk_does_on_every_corpus_manifest(
    crd_dir: Path,
) -> None:
    index = crds.load_index(crd_dir)
    root = Path(__file__).resolve().parents[2]
    compared = failures = 0
    for file in sorted(
        [*(root / "scenarios").rglob("*.yaml"), *(root / "tests/malformed").rglob("*.yaml")]
    ):
        try:
            docs = load_documents(file)
        except SourceError:
            continue
        for doc in docs:
            data = doc.data
            if not isinstance(data, dict) or not isinstance(data.get("apiVersion"), str):
                continue
            res = resolve(index, data["apiVersion"], str(data.get("kind")))
            if res.schema is None or not isinstance(data.get("spec", {}), dict):
                continue
            fast = cel_rules.evaluations(data, res.schema)
            assert fast == _plain_evaluations(data, res.schema), file
            compared += len(fast)
            failures += sum(
                1 for _, _, result, error in fast if error is not None or result is not True
            )
    assert compared > 500 and failures > 5  # the corpus exercises passing, false and failing rules
