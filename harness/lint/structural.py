"""The object the API server validates a custom resource as: pruned and defaulted.

Before it evaluates a CRD's CEL rules the API server drops the fields the structural schema
does not declare (pruning), drops non-nullable nulls that have no default, and fills in every
`default` of a property that is absent (structural defaulting, recursively, defaults
included). Rules are written against that object: `self.matches.size()` on an HTTPRoute rule
relies on the defaulted `matches`, so evaluating them on the raw manifest would raise false
alarms. The raw manifest is still what the schema check reports on (openapi.py).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from harness.lint.crds import Schema
from harness.lint.schema_nodes import per_schema_node


def _preserves_unknown(schema: Schema) -> bool:
    return schema.get("x-kubernetes-preserve-unknown-fields") is True


def _nullable_null(value: Any, schema: Schema) -> bool:
    return value is None and not schema.get("nullable")


def server_view(value: Any, schema: Schema) -> Any:
    """A pruned, defaulted deep copy of `value` (the input is not changed)."""
    if isinstance(value, dict):
        if type(schema) is not dict and not isinstance(schema, Mapping):  # dict: no ABC check
            return copy.deepcopy(value)
        return _object(value, _node(schema))
    if isinstance(value, list):
        if type(schema) is not dict and not isinstance(schema, Mapping):
            return copy.deepcopy(value)
        items = schema.get("items")
        item_schema: Schema = items if isinstance(items, Mapping) else {}
        return [server_view(v, item_schema) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()  # YAML timestamps reach the API server as strings
    if isinstance(value, (str, int, float)) or value is None:
        return value  # immutable: its own copy
    return value if isinstance(schema, Mapping) else copy.deepcopy(value)


class _Node:
    """What pruning and defaulting take from one schema node, read once per schema object."""

    __slots__ = ("defaults", "extra", "keep_unknown", "props", "schema")

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.props: Mapping[str, Schema] = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        self.extra = extra if isinstance(extra, Mapping) else None
        # A node that declares nothing (no type, no fields) is not pruned; `type: object`
        # alone is.
        declares = bool(self.props) or extra is not None or schema.get("type") == "object"
        self.keep_unknown = _preserves_unknown(schema) or extra is True or not declares
        self.defaults = [
            (name, prop)
            for name, prop in self.props.items()
            if isinstance(prop, Mapping) and "default" in prop
        ]


_node = per_schema_node(_Node)


def _object(value: dict[Any, Any], node: _Node) -> dict[str, Any]:
    props, extra = node.props, node.extra
    out: dict[str, Any] = {}
    for key, sub in value.items():
        name = str(key)
        if name in props:
            prop = props[name]
            if sub is None and not prop.get("nullable"):
                continue  # pruned, or defaulted below: a null the schema does not allow
            out[name] = server_view(sub, prop)
        elif extra is not None:
            out[name] = server_view(sub, extra)
        elif node.keep_unknown:
            out[name] = copy.deepcopy(sub)
    for name, prop in node.defaults:
        if name not in out:
            out[name] = server_view(copy.deepcopy(prop["default"]), prop)
    return out
