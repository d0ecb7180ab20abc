"""The CRDs' CEL rules (`x-kubernetes-validations`), evaluated as the API server does on create.

The library is cel-expr-python (Google's cel-cpp) with the strings extension, plus the few
Kubernetes functions the bundles call (cel_library.py). What the API server does, and so
what this does:

- rules run on the pruned, defaulted object (structural.py), node by node, each node's rules
  before its children's, and not at all when the schema check found a type, required, enum or
  size error (the server's "blocking" errors);
- `self` is the node; object properties are seen under their CEL-escaped names
  (`namespace` -> `__namespace__`), map keys as they are; a null node is not evaluated;
- transition rules (those reading `oldSelf`) only run on update with an old object: never on
  create, so never here;
- a rule that is false yields `<path>: Invalid value: "<type>": <message>` (or the evaluated
  messageExpression, or `failed rule: <rule>`), at the rule's `fieldPath` and with its
  `reason` when given; a rule whose evaluation fails (a missing key, a string that is not a
  duration) is a rejection too, worded `<error> evaluating rule: <message or rule>`.

Each rule is compiled once per process, and what the walk does at each schema node (which
rules run, which children have rules below them) is decided once per node.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from harness.lint.cel_library import get_scheme, is_ip, is_url, parse_request_uri
from harness.lint.crds import Schema
from harness.lint.openapi import FieldError
from harness.lint.structural import server_view
from harness.model.source import PathKey

_RESERVED = frozenset(
    {
        "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
        "function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
        "void", "while",
    }
)  # fmt: skip
_ESCAPABLE = re.compile(r"^[a-zA-Z_.\-/][a-zA-Z0-9_.\-/]*$")
_OLD_SELF = re.compile(r"\boldSelf\b")
_STATUS_PREFIX = re.compile(r"^[A-Z_]+: ")
_FIELD_PATH_STEP = re.compile(r"\.([A-Za-z0-9_\-]+)|\['((?:[^'\\]|\\.)*)'\]")


@lru_cache(maxsize=4096)
def escape(name: str) -> str | None:
    """A property name as CEL sees it, or None when CEL cannot address it."""
    if name in _RESERVED:
        return f"__{name}__"
    if not _ESCAPABLE.match(name):
        return None
    return (
        name.replace("__", "__underscores__")
        .replace(".", "__dot__")
        .replace("-", "__dash__")
        .replace("/", "__slash__")
    )


@dataclass(frozen=True)
class Rule:
    rule: str
    message: str = ""
    message_expression: str = ""
    field_path: str = ""
    reason: str = ""

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Rule:
        return cls(
            str(raw.get("rule") or ""),
            str(raw.get("message") or "").strip(),
            str(raw.get("messageExpression") or ""),
            str(raw.get("fieldPath") or ""),
            str(raw.get("reason") or ""),
        )

    @property
    def transition(self) -> bool:
        return bool(_OLD_SELF.search(self.rule))

    @property
    def error_string(self) -> str:
        return self.message or self.rule.strip()

    @property
    def failure(self) -> str:
        return self.message or f"failed rule: {self.rule.strip()}"


# --------------------------------------------------------------------------------------------
# The environment and the compiled programs (once per process).


@lru_cache(maxsize=1)
def _env() -> Any:
    # Imported here: lint without CRD rules to evaluate (--no-schemas) never loads it.
    from cel_expr_python import cel
    from cel_expr_python.ext import ext_strings

    url = cel.Type.Map(cel.Type.STRING, cel.Type.STRING)
    string, boolean = cel.Type.STRING, cel.Type.BOOL

    def decl(name: str, ret: Any, params: list[Any], impl: Any, member: bool = False) -> Any:
        overload = cel.Overload(f"k8s_{name}", ret, params, is_member=member, impl=impl)
        return cel.FunctionDecl(name, [overload])

    functions = [
        decl("isURL", boolean, [string], is_url),
        decl("url", url, [string], parse_request_uri),
        decl("getScheme", string, [url], get_scheme, member=True),
        decl("isIP", boolean, [string], is_ip),
    ]
    return cel.NewEnv(
        variables={"self": cel.Type.DYN},
        extensions=[ext_strings.ExtStrings()],
        functions=functions,
    )


class _NotCompiled(Exception):
    """A rule cel-expr-python cannot compile (a function the engine lacks)."""


_PROGRAMS: dict[str, Any] = {}


def compiled(expression: str) -> Any:
    """The program of `expression`, compiled on first use; _NotCompiled if it cannot be."""
    program = _PROGRAMS.get(expression)
    if program is None:
        try:
            program = _env().compile(expression)
        except Exception as exc:  # cel-expr-python raises RuntimeError with the checker's text
            program = _NotCompiled(str(exc).splitlines()[0])
        _PROGRAMS[expression] = program
    if isinstance(program, _NotCompiled):
        raise program
    return program


def compile_problem(expression: str) -> str | None:
    """Why `expression` cannot be compiled, or None when it can (the census of the rules)."""
    try:
        compiled(expression)
    except _NotCompiled as exc:
        return str(exc)
    return None


def _go_error(text: str) -> tuple[str, bool]:
    """cel-cpp's evaluation error as cel-go (the API server) words it; True for an overload."""
    text = _STATUS_PREFIX.sub("", text.strip())
    if text.startswith("No matching overloads found"):
        return "no such overload", True
    missing = re.match(r'^Key not found in map : "?(.*?)"?$', text)
    if missing:
        return f"no such key: {missing.group(1)}", False
    if text == "String to Duration conversion failed":
        return "type conversion error from 'string' to 'google.protobuf.Duration'", False
    if text == "cannot convert string to int":
        return "type conversion error from 'string' to 'int'", False
    return text, False


def evaluate(expression: str, self_value: Any) -> tuple[Any, str | None]:
    """(result, None) or (None, error text) of one program on `self`."""
    return _run(compiled(expression), _activation(self_value))


def _activation(self_value: Any) -> Any:
    # An Activation reads the Python value lazily, where `eval(data=...)` converts the whole
    # subtree to CEL first, for every rule: one per node, shared by its rules and messages.
    return _env().Activation(data={"self": self_value})


def _run(program: Any, activation: Any) -> tuple[Any, str | None]:
    result = program.eval(activation)
    return _outcome(result, result.value())


def _outcome(result: Any, value: Any) -> tuple[Any, str | None]:
    if value is True:
        return True, None  # most rules hold; an error's value is its text, never True
    if result.type().name() == "ERROR":
        return None, str(value)
    return value, None


# --------------------------------------------------------------------------------------------
# Values as CEL sees them.


class _Shape:
    """What turning a value of one schema node into its CEL form takes, decided once per
    schema node: `same` when nothing below is renamed, dropped or retyped (the value is its
    own CEL form and is not copied)."""

    __slots__ = ("extra", "items", "names", "number", "props", "same", "schema")

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.number = schema.get("type") == "number"
        props: Mapping[str, Schema] = schema.get("properties") or {}
        self.props = {k: _shape(v) for k, v in props.items()}
        self.names = {k: escape(k) for k in props}
        extra, items = schema.get("additionalProperties"), schema.get("items")
        self.extra = _shape(extra) if isinstance(extra, Mapping) else None
        self.items = _shape(items) if isinstance(items, Mapping) else None
        below = [*self.props.values(), self.extra, self.items]
        self.same: bool = (
            not self.number
            and all(k == n for k, n in self.names.items())
            and all(s is None or s.same for s in below)
        )


_SHAPES: dict[int, _Shape] = {}


def _shape(schema: Any) -> _Shape | None:
    """None for a node that is not a schema (its values are taken as they are)."""
    if not isinstance(schema, Mapping):
        return None
    known = _SHAPES.get(id(schema))
    if known is not None and known.schema is schema:
        return known
    shape = _Shape(schema)
    _SHAPES[id(schema)] = shape
    return shape


def cel_value(value: Any, schema: Schema, memo: dict[int, Any] | None = None) -> Any:
    """`value` (already pruned and defaulted) with object properties under escaped names.

    `memo` (id of a node of the value -> its CEL form) lets the walk convert each node once
    although every node with rules needs its whole subtree converted."""
    return _cel_value(value, _shape(schema), {} if memo is None else memo)


def _cel_value(value: Any, shape: _Shape | None, memo: dict[int, Any]) -> Any:
    if shape is None or shape.same:
        return value
    if not isinstance(value, (dict, list)):
        if shape.number and type(value) is int:
            return float(value)  # a `number` is a double in CEL, even when written 100
        return value
    known = memo.get(id(value))
    if known is not None:
        return known
    out = _convert(value, shape, memo)
    memo[id(value)] = out
    return out


def _convert(value: dict[str, Any] | list[Any], shape: _Shape, memo: dict[int, Any]) -> Any:
    if isinstance(value, dict):
        props, names, extra = shape.props, shape.names, shape.extra
        out: dict[str, Any] = {}
        for key, sub in value.items():
            if key in names:
                name = names[key]
                if name is not None:
                    out[name] = _cel_value(sub, props[key], memo)
            elif extra is not None:
                out[key] = _cel_value(sub, extra, memo)
            else:
                out[key] = sub
        return out
    items = shape.items
    if items is None or items.same:
        return list(value)
    return [_cel_value(v, items, memo) for v in value]


# --------------------------------------------------------------------------------------------
# The walk.

_RULES: dict[int, tuple[Schema, list[Rule]]] = {}


def rules_of(schema: Schema) -> list[Rule]:
    """The rules on one schema node, parsed once (memoised per schema object)."""
    memo = _RULES.get(id(schema))
    if memo is not None and memo[0] is schema:
        return memo[1]
    rules = [Rule.of(r) for r in schema.get("x-kubernetes-validations") or []]
    _RULES[id(schema)] = (schema, rules)
    return rules


class _Plan:
    """What the walk does at one schema node, decided once per node: the node's rules that
    run on create (compiled), and the plans of the children that have rules at or below
    them (a subtree without rules is never walked)."""

    __slots__ = ("checks", "extra", "items", "kind", "names", "props", "schema", "shape")

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.kind = str(schema.get("type") or "")
        self.shape = _shape(schema)
        checks: list[tuple[Rule, Any]] = []
        for rule in rules_of(schema):
            if not rule.rule or rule.transition:
                continue  # transition rules only run on update
            try:
                checks.append((rule, compiled(rule.rule)))
            except _NotCompiled:
                continue  # counted by rule_census; never a finding the server would not make
        self.checks = checks
        props: Mapping[str, Schema] = schema.get("properties") or {}
        self.names = frozenset(props)
        self.props = {k: p for k, v in props.items() if (p := _plan(v)) is not None}
        self.extra = _plan(schema.get("additionalProperties"))
        self.items = _plan(schema.get("items"))

    @property
    def empty(self) -> bool:
        return not (self.checks or self.props or self.extra or self.items)


_PLANS: dict[int, tuple[Schema, _Plan | None]] = {}


def _plan(schema: Any) -> _Plan | None:
    """The plan of `schema`, or None when neither it nor any node under it has a rule."""
    if not isinstance(schema, Mapping):
        return None
    known = _PLANS.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    plan: _Plan | None = _Plan(schema)
    if plan is not None and plan.empty:
        plan = None
    _PLANS[id(schema)] = (schema, plan)
    return plan


def has_rules(schema: Schema) -> bool:
    """Whether `schema` or any node under it carries a rule that runs on create."""
    return _plan(schema) is not None


def _with_field_path(path: PathKey, field_path: str) -> PathKey:
    out = list(path)
    for dotted, quoted in _FIELD_PATH_STEP.findall(field_path):
        out.append(dotted or quoted)
    return tuple(out)


def _rejection(path: PathKey, kind: str, rule: Rule, detail: str) -> FieldError:
    if rule.field_path:
        path = _with_field_path(path, rule.field_path)
    if rule.reason == "FieldValueForbidden":
        return FieldError(path, f"Forbidden: {detail}")
    if rule.reason == "FieldValueRequired":
        return FieldError(path, f"Required value: {detail}")
    if rule.reason == "FieldValueDuplicate":
        return FieldError(path, f'Duplicate value: "{kind}"')
    return FieldError(path, f'Invalid value: "{kind}": {detail}')


def _message(rule: Rule, activation: Any) -> str:
    if rule.message_expression:
        try:
            text, error = _run(compiled(rule.message_expression), activation)
        except _NotCompiled:
            text, error = None, "not compiled"
        if error is None and isinstance(text, str) and text.strip() and "\n" not in text:
            return text.strip()
    return rule.failure


# One evaluation: where, the node's plan, the rule, the activation it ran in, what it gave.
_Evaluated = tuple[PathKey, "_Plan", Rule, Any, Any, "str | None"]


def _check_node(
    value: Any, plan: _Plan, path: PathKey, out: list[_Evaluated], memo: dict[int, Any]
) -> None:
    activation = _activation(_cel_value(value, plan.shape, memo))
    passing = type(out) is not _Failures
    for rule, program in plan.checks:
        result = program.eval(activation)
        got = result.value()
        if got is not True or passing:  # lint keeps only what it reports
            out.append((path, plan, rule, activation, *_outcome(result, got)))


class _Failures(list[_Evaluated]):
    """A walk's evaluations when only the rejections are wanted (lint's; most rules hold)."""


def _walk(
    value: Any, plan: _Plan, path: PathKey, out: list[_Evaluated], memo: dict[int, Any]
) -> None:
    if value is None:
        return
    if plan.checks:
        _check_node(value, plan, path, out, memo)
    if isinstance(value, dict):
        props, extra = plan.props, plan.extra
        if not props and extra is None:
            return
        names = plan.names
        for key, sub in value.items():
            if key in names:
                child = props.get(key)
                if child is not None:
                    _walk(sub, child, (*path, key), out, memo)
            elif extra is not None:
                _walk(sub, extra, (*path, key), out, memo)
    elif isinstance(value, list):
        items = plan.items
        if items is not None:
            for i, item in enumerate(value):
                _walk(item, items, (*path, i), out, memo)


def _finding(
    path: PathKey, plan: _Plan, rule: Rule, activation: Any, error: str | None
) -> FieldError:
    kind = plan.kind
    if error is None:
        return _rejection(path, kind, rule, _message(rule, activation))
    text, overload = _go_error(error)
    if overload:
        detail = (
            f"'{text}': call arguments did not match a supported operator, function or "
            f"macro signature for rule: {rule.error_string}"
        )
    else:
        detail = f"{text} evaluating rule: {rule.error_string}"
    return FieldError(path, f'Invalid value: "{kind}": {detail}')


_ROOT_META = ("name", "generateName")


def _evaluate_all(data: dict[str, Any], schema: Schema, passing: bool) -> list[_Evaluated]:
    plan = _plan(schema)
    if plan is None:
        return []
    envelope = ("apiVersion", "kind", "metadata")
    view = server_view({k: v for k, v in data.items() if k not in envelope}, schema)
    if not isinstance(view, dict):
        return []
    # At the root `self` also has apiVersion, kind and metadata.name/generateName.
    for key in ("apiVersion", "kind"):
        if key in data:
            view[key] = data[key]
    meta = data.get("metadata")
    if isinstance(meta, dict):
        view["metadata"] = {k: meta[k] for k in _ROOT_META if k in meta}
    out: list[_Evaluated] = [] if passing else _Failures()
    _walk(view, plan, (), out, {})
    return out


def evaluations(data: dict[str, Any], schema: Schema) -> list[tuple[PathKey, str, Any, str | None]]:
    """Every rule evaluated on the object `data`, in order: (path, rule, result, error text)."""
    return [
        (path, rule.rule, result, error)
        for path, _, rule, _, result, error in _evaluate_all(data, schema, passing=True)
    ]


def validate_rules(data: dict[str, Any], schema: Schema) -> list[FieldError]:
    """Every rejection the CEL rules of `schema` make of the object `data` (a whole manifest)."""
    return [
        _finding(path, plan, rule, activation, error)
        for path, plan, rule, activation, result, error in _evaluate_all(data, schema, False)
        if error is not None or result is not True
    ]
