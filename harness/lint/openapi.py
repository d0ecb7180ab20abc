"""A strict validator for the OpenAPI v3 subset Kubernetes structural schemas use.

It is deliberately *strict* where the API server is silently lenient: a field the schema does
not declare would be pruned on apply, so it is an error (the classic `spec.acton` typo that
turns a DENY policy into an ALLOW-all). Rules the schema encodes in CEL
(`x-kubernetes-validations`) are evaluated by cel_rules.py, after this check.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from harness.lint.crds import Schema
from harness.lint.schema_nodes import per_schema_node
from harness.model.source import PathKey, format_path


def suggest(word: str, candidates: Iterable[str]) -> str:
    """` (did you mean "X"?)` for a near miss (case-insensitive first), else ''."""
    options = list(candidates)
    lower = {c.lower(): c for c in options}
    match = lower.get(word.lower())
    if match is None:
        close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
        match = close[0] if close else None
    return f' (did you mean "{match}"?)' if match and match != word else ""


@dataclass(frozen=True)
class FieldError:
    """One violation at a field path of the validated document."""

    path: PathKey
    message: str
    # The API server's type, required, enum and size errors: it then skips the CEL rules.
    blocking: bool = False
    # Where to point when `path` is the API server's (a map, not the offending key in it).
    at: PathKey | None = None

    def __str__(self) -> str:
        return f"{format_path(self.path)}: {self.message}"


_EXACT_TYPE_NAMES = {
    str: "string", dict: "object", list: "array", int: "integer", bool: "boolean",
    float: "number", type(None): "null",
}  # fmt: skip


def type_name(value: Any) -> str:
    name = _EXACT_TYPE_NAMES.get(type(value))  # the common types, without the isinstance chain
    if name is not None:
        return name
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, (str, date, datetime, bytes)):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def show(value: Any) -> str:
    """A value as a YAML user reads it: strings quoted, long values cut."""
    if isinstance(value, str):
        text = json.dumps(value)
        return text if len(text) <= 60 else text[:57] + '..."'
    if isinstance(value, (bool, int, float)) or value is None:
        return json.dumps(value)
    return type_name(value)


def got(value: Any) -> str:
    name = type_name(value)
    if isinstance(value, (dict, list)) or value is None:
        return name
    return f"{name} {show(value)}"


def _is_type(value: Any, expected: str) -> bool:
    return type_name(value) == expected or (expected == "number" and type_name(value) == "integer")


def _as_text(value: Any) -> str | None:
    """Strings as the API server sees them (YAML timestamps arrive as strings there)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return None


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None  # an RE2-only construct: not checked rather than guessed


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _format_error(value: Any, fmt: str) -> str | None:
    if fmt in _INT_RANGES and isinstance(value, int) and not isinstance(value, bool):
        lo, hi = _INT_RANGES[fmt]
        return None if lo <= value <= hi else f"{value} does not fit in {fmt}"
    text = _as_text(value)
    if text is None or isinstance(value, (date, datetime)):
        return None
    if fmt in ("ipv4", "ipv6"):
        cls = ipaddress.IPv4Address if fmt == "ipv4" else ipaddress.IPv6Address
        try:
            cls(text)
        except ValueError:
            return f"expected an {fmt} address, got {show(text)}"
        return None
    if fmt == "date-time" and not _RFC3339.match(text):
        return f"expected an RFC 3339 date-time, got {show(text)}"
    if fmt == "byte":
        try:
            base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return f"expected base64 data, got {show(text)}"
    return None


def _exclusive_fields(branches: list[Any]) -> list[str] | None:
    """Field names of Istio's "at most one of" encoding, or None for any other oneOf.

    protoc-gen-crd writes `oneOf: [{not: {anyOf: [{required: [a]}, ...]}}, {required: [a]}, ...]`.
    """
    names: list[str] = []
    for b in branches:
        if not isinstance(b, dict):
            return None
        if set(b) == {"required"} and len(b["required"]) == 1:
            names.append(str(b["required"][0]))
        elif set(b) != {"not"}:
            return None
    return names or None


_ABSENT: Any = object()


class _Node:
    """The keywords of one schema node, read once per schema object: a value is checked
    against the same few nodes many times, and most keywords are absent."""

    __slots__ = (
        "all_of", "any_of", "combinators", "enum", "exclusive_max", "exclusive_min", "extra",
        "format", "int_or_string", "items", "list_keys", "list_type", "max_items", "max_length",
        "max_props", "maximum", "min_items", "min_length", "min_props", "minimum", "negated",
        "null_error", "one_of", "open", "pattern", "props", "required", "rx", "schema", "type",
    )  # fmt: skip

    def __init__(self, schema: Schema) -> None:
        get = schema.get
        self.schema = schema
        self.int_or_string = bool(get("x-kubernetes-int-or-string"))
        self.type = get("type", _ABSENT)
        self.null_error: str | None = None
        if not get("nullable") and ("type" in schema or self.int_or_string):
            expected = get("type") or "integer or string"
            self.null_error = f"expected {expected}, got null (an empty value)"
        self.enum = get("enum", _ABSENT)
        self.props: Mapping[str, Schema] = get("properties") or {}
        extra = get("additionalProperties")
        self.extra = extra if isinstance(extra, Mapping) else None
        self.open = get("x-kubernetes-preserve-unknown-fields") is True or extra is True
        self.required = get("required") or []
        self.max_props, self.min_props = (
            get(k, _ABSENT) for k in ("maxProperties", "minProperties")
        )
        items = get("items")
        self.items = items if isinstance(items, Mapping) else None
        self.max_items, self.min_items = (get(k, _ABSENT) for k in ("maxItems", "minItems"))
        self.list_type = get("x-kubernetes-list-type")
        self.list_keys: list[str] = list(get("x-kubernetes-list-map-keys") or [])
        self.max_length, self.min_length = (get(k, _ABSENT) for k in ("maxLength", "minLength"))
        self.pattern = get("pattern", _ABSENT)
        self.rx = None if self.pattern is _ABSENT else _regex(str(self.pattern))
        self.format = str(schema["format"]) if "format" in schema else None
        self.minimum, self.maximum = get("minimum"), get("maximum")
        self.exclusive_min = get("exclusiveMinimum") is True
        self.exclusive_max = get("exclusiveMaximum") is True
        self.all_of = get("allOf") or []
        self.any_of = list(schema["anyOf"]) if "anyOf" in schema else None
        self.one_of = list(schema["oneOf"]) if "oneOf" in schema else None
        negated = get("not")
        self.negated = negated if isinstance(negated, Mapping) else None
        self.combinators = bool(
            self.all_of or self.any_of is not None or self.one_of is not None or self.negated
        )


_node = per_schema_node(_Node)


class _Validator:
    def __init__(self, structural: bool) -> None:
        # Branches of oneOf/anyOf/allOf/not only add constraints: fields they do not list are
        # not unknown there (structural schemas declare fields in the main branch only).
        self.structural = structural
        self.errors: list[FieldError] = []

    def err(self, path: PathKey, message: str, blocking: bool = False) -> None:
        self.errors.append(FieldError(path, message, blocking))

    def check(self, value: Any, schema: Schema, path: PathKey) -> None:
        if type(schema) is not dict and not isinstance(schema, Mapping):  # dict: no ABC check
            return
        node = _node(schema)
        if value is None:
            if node.null_error is not None:
                self.err(path, node.null_error)
            return
        kind = type_name(value)
        if node.int_or_string:
            if kind not in ("integer", "string"):
                self.err(path, f"expected integer or string, got {got(value)}", True)
                return
        elif node.type is not _ABSENT:
            expected = str(node.type)
            if kind != expected and not (expected == "number" and kind == "integer"):
                self.err(path, f"expected {node.type}, got {got(value)}", True)
                return
        if node.enum is not _ABSENT:
            self.check_enum(value, node.enum, path)
        if kind == "object":
            self.check_object(value, node, path)
        elif kind == "array":
            self.check_array(value, node, path)
        elif kind == "string":
            self.check_string(value, node, path)
        elif kind in ("integer", "number"):
            self.check_number(value, node, path)
        if node.combinators:
            self.check_combinators(value, node, path)

    def check_enum(self, value: Any, allowed: list[Any], path: PathKey) -> None:
        if any(type_name(value) == type_name(a) and value == a for a in allowed):
            return
        shown = ", ".join(a if isinstance(a, str) else json.dumps(a) for a in allowed)
        hint = suggest(value, [str(a) for a in allowed]) if isinstance(value, str) else ""
        self.err(path, f"expected one of {shown}, got {show(value)}{hint}", True)

    def check_object(self, value: dict[Any, Any], node: _Node, path: PathKey) -> None:
        props, extra = node.props, node.extra
        for name in node.required:
            if name not in value:
                self.err((*path, str(name)), "required field missing", True)
        for key, sub in value.items():
            name = str(key)
            if name in props:
                self.check(sub, props[name], (*path, name))
            elif extra is not None:
                self.check(sub, extra, (*path, name))
            elif self.structural and not node.open:
                self.err((*path, name), f'unknown field "{name}"{suggest(name, props)}')
        n = len(value)
        if node.max_props is not _ABSENT and n > node.max_props:
            self.err(path, f"must have at most {node.max_props} entries, got {n}", True)
        if node.min_props is not _ABSENT and n < node.min_props:
            self.err(path, f"must have at least {node.min_props} entries, got {n}")

    def check_array(self, value: list[Any], node: _Node, path: PathKey) -> None:
        items = node.items
        if items is not None:
            for i, item in enumerate(value):
                self.check(item, items, (*path, i))
        n = len(value)
        if node.max_items is not _ABSENT and n > node.max_items:
            self.err(path, f"must have at most {node.max_items} items, got {n}", True)
        if node.min_items is not _ABSENT and n < node.min_items:
            self.err(path, f"must have at least {node.min_items} item(s), got {n}")
        if self.structural:
            self.check_list_type(value, node, path)

    def check_list_type(self, value: list[Any], node: _Node, path: PathKey) -> None:
        """`x-kubernetes-list-type: set|map`: the API server rejects duplicate entries."""
        list_type, keys = node.list_type, node.list_keys
        if list_type not in ("set", "map") or (list_type == "map" and not keys):
            return
        seen: dict[str, int] = {}
        for i, item in enumerate(value):
            if list_type == "map":
                if not isinstance(item, dict) or any(k not in item for k in keys):
                    continue  # reported as a missing required key, if it is one
                ident = ", ".join(f"{k}={show(item[k])}" for k in keys)
            else:
                ident = json.dumps(item, sort_keys=True, default=str)
            if ident in seen:
                self.err((*path, i), f"duplicate entry {ident} (same as [{seen[ident]}])")
            else:
                seen[ident] = i

    def check_string(self, value: Any, node: _Node, path: PathKey) -> None:
        text = _as_text(value)
        if text is None:
            return
        if node.max_length is not _ABSENT and len(text) > node.max_length:
            n = len(text)
            self.err(path, f"must be at most {node.max_length} characters, got {n}", True)
        if node.min_length is not _ABSENT and len(text) < node.min_length:
            self.err(path, f"must be at least {node.min_length} character(s), got {len(text)}")
        if node.pattern is not _ABSENT:
            rx = node.rx
            if rx is not None and not rx.search(text):
                self.err(path, f"{show(text)} does not match the pattern {node.pattern}")
        if node.format is not None:
            self.check_format(value, node.format, path)

    def check_number(self, value: float, node: _Node, path: PathKey) -> None:
        lo, hi = node.minimum, node.maximum
        if lo is not None:
            exclusive = node.exclusive_min
            if value < lo or (exclusive and value == lo):
                self.err(path, f"must be {'>' if exclusive else '>='} {lo}, got {show(value)}")
        if hi is not None:
            exclusive = node.exclusive_max
            if value > hi or (exclusive and value == hi):
                self.err(path, f"must be {'<' if exclusive else '<='} {hi}, got {show(value)}")
        if node.format is not None:
            self.check_format(value, node.format, path)

    def check_format(self, value: Any, fmt: str, path: PathKey) -> None:
        problem = _format_error(value, fmt)
        if problem:
            self.err(path, problem)

    def check_combinators(self, value: Any, node: _Node, path: PathKey) -> None:
        for sub in node.all_of:
            self.branch_errors(value, sub, path, report=True)
        if node.any_of is not None:
            branches = node.any_of
            if not any(not self.branch_errors(value, b, path) for b in branches):
                self.err(path, self.no_match("anyOf", value, branches, path))
        if node.one_of is not None:
            branches = node.one_of
            matched = sum(1 for b in branches if not self.branch_errors(value, b, path))
            if matched != 1:
                self.err(path, self.no_match("oneOf", value, branches, path))
        negated = node.negated
        if negated is not None and not self.branch_errors(value, negated, path):
            if set(negated) == {"enum"}:
                shown = ", ".join(map(str, negated["enum"]))
                self.err(path, f"must not be one of {shown}, got {show(value)}")
            else:
                self.err(path, "matches a form that is not allowed here")

    def branch_errors(
        self, value: Any, schema: Schema, path: PathKey, report: bool = False
    ) -> list[FieldError]:
        sub = _Validator(structural=False)
        sub.check(value, schema, path)
        if report:
            self.errors.extend(sub.errors)
        return sub.errors

    def no_match(self, keyword: str, value: Any, branches: list[Any], path: PathKey) -> str:
        fields = _exclusive_fields(branches)
        if fields is not None and isinstance(value, dict):
            present = [f for f in fields if f in value]
            return f"only one of {', '.join(fields)} may be set, got {', '.join(present)}"
        formats = [b.get("format") for b in branches if isinstance(b, dict)]
        if formats and all(set(b) == {"format"} for b in branches if isinstance(b, dict)):
            return f"expected a value of format {' or '.join(map(str, formats))}, got {got(value)}"
        reasons = []
        for b in branches:
            errs = self.branch_errors(value, b, path)
            if errs:
                reasons.append(str(errs[0]))
        what = "exactly one" if keyword == "oneOf" else "any"
        return f"does not match {what} of the allowed forms ({'; '.join(reasons)})"


def validate(value: Any, schema: Schema, path: PathKey = ()) -> list[FieldError]:
    """Every violation of `schema` by `value` (a strict structural check; no CEL rules)."""
    v = _Validator(structural=True)
    v.check(value, schema, path)
    return v.errors
