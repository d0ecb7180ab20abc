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


def _preserves_unknown(schema: Schema) -> bool:
    return schema.get("x-kubernetes-preserve-unknown-fields") is True


def _nullable_null(value: Any, schema: Schema) -> bool:
    return value is None and not schema.get("nullable")


def server_view(value: Any, schema: Schema) -> Any:
    """A pruned, defaulted deep copy of `value` (the input is not changed)."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()  # YAML timestamps reach the API server as strings
    if not isinstance(schema, Mapping):
        return copy.deepcopy(value)
    if isinstance(value, dict):
        return _object(value, schema)
    if isinstance(value, list):
        items = schema.get("items")
        item_schema: Schema = items if isinstance(items, Mapping) else {}
        return [server_view(v, item_schema) for v in value]
    return value


def _object(value: dict[Any, Any], schema: Schema) -> dict[str, Any]:
    props: Mapping[str, Schema] = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    # A node that declares nothing (no type, no fields) is not pruned; `type: object` alone is.
    declares = bool(props) or extra is not None or schema.get("type") == "object"
    keep_unknown = _preserves_unknown(schema) or extra is True or not declares
    out: dict[str, Any] = {}
    for key, sub in value.items():
        name = str(key)
        if name in props:
            prop = props[name]
            if _nullable_null(sub, prop) and "default" not in prop:
                continue  # pruned: a null the schema does not allow and cannot default
            if not (_nullable_null(sub, prop) and "default" in prop):
                out[name] = server_view(sub, prop)
        elif isinstance(extra, Mapping):
            out[name] = server_view(sub, extra)
        elif keep_unknown:
            out[name] = copy.deepcopy(sub)
    for name, prop in props.items():
        if name not in out and isinstance(prop, Mapping) and "default" in prop:
            out[name] = server_view(copy.deepcopy(prop["default"]), prop)
    return out
