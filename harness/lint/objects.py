"""Whole manifest objects: the envelope, ObjectMeta (which CRD schemas leave to the API
server), then the body against the kind's schema."""

from __future__ import annotations

import re
from typing import Any

from harness.lint.apimachinery import label_key, label_value
from harness.lint.builtin_rules import invalid, validate_builtin
from harness.lint.cel_rules import validate_rules
from harness.lint.crds import Schema
from harness.lint.openapi import FieldError, got, show, suggest, validate
from harness.lint.resolution import Resolution
from harness.model.source import PathKey

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_METADATA_FIELDS = (
    "name", "generateName", "namespace", "labels", "annotations", "finalizers", "ownerReferences",
)  # fmt: skip
_SERVER_SET = frozenset(
    {"uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
     "deletionGracePeriodSeconds", "managedFields", "selfLink"}
)  # fmt: skip


def _name_error(kind: str, name: str) -> str | None:
    # Services are RFC 1035 labels, Namespaces RFC 1123 labels, most others DNS subdomains.
    if kind == "Service":
        rx, what, limit = DNS1035_LABEL, "a DNS-1035 label (starts with a letter)", 63
    elif kind == "Namespace":
        rx, what, limit = DNS1123_LABEL, "a DNS-1123 label", 63
    else:
        rx, what, limit = DNS1123_SUBDOMAIN, "a DNS-1123 subdomain", 253
    if len(name) > limit or not rx.match(name):
        return (
            f"{show(name)} is not {what}: lower-case letters, digits and '-', "
            f"at most {limit} characters"
        )
    return None


def validate_metadata(kind: str, meta: Any) -> list[FieldError]:
    """ObjectMeta as applied from a manifest (CRD schemas leave it to the API server)."""
    base: PathKey = ("metadata",)
    if meta is None:
        return [FieldError((*base, "name"), "required field missing")]
    if not isinstance(meta, dict):
        return [FieldError(base, f"expected object, got {got(meta)}")]
    out: list[FieldError] = []
    for key in meta:
        k = str(key)
        if k in _SERVER_SET:
            out.append(FieldError((*base, k), f'"{k}" is set by the API server; remove it'))
        elif k not in _METADATA_FIELDS:
            out.append(FieldError((*base, k), f'unknown field "{k}"{suggest(k, _METADATA_FIELDS)}'))
    name = meta.get("name")
    if name is None:
        out.append(FieldError((*base, "name"), "required field missing"))
    elif not isinstance(name, str):
        out.append(FieldError((*base, "name"), f"expected string, got {got(name)}"))
    elif (problem := _name_error(kind, name)) is not None:
        out.append(FieldError((*base, "name"), problem))
    ns = meta.get("namespace")
    if ns is not None and not (isinstance(ns, str) and DNS1123_LABEL.match(ns)):
        out.append(FieldError((*base, "namespace"), f"{show(ns)} is not a valid namespace name"))
    out.extend(_string_map(meta, "labels", labels=True))
    out.extend(_string_map(meta, "annotations", labels=False))
    return out


def _string_map(meta: dict[str, Any], field: str, labels: bool) -> list[FieldError]:
    path: PathKey = ("metadata", field)
    value = meta.get(field)
    if value is None:
        return []
    if not isinstance(value, dict):
        return [FieldError(path, f"expected object, got {got(value)}")]
    out: list[FieldError] = []
    for k, v in value.items():
        key = str(k)
        # Worded as ValidateLabels/ValidateAnnotations: at the map's path, on the key's line.
        checked = key if labels else key.lower()
        out.extend(invalid(path, key, m, at=(*path, key)) for m in label_key(checked))
        if not isinstance(v, str):
            hint = " (quote it)" if isinstance(v, (bool, int, float)) else ""
            out.append(FieldError((*path, key), f"expected string, got {got(v)}{hint}", True))
        elif labels:
            out.extend(invalid(path, v, m, at=(*path, key)) for m in label_value(v))
    return out


_ENVELOPE = ("apiVersion", "kind", "metadata")


_BODY_SCHEMAS: dict[int, tuple[Schema, Schema]] = {}


def _body_schema(schema: Schema) -> Schema:
    """The kind's schema without apiVersion/kind/metadata, which are the API server's whether
    or not a CRD schema lists them (one per schema: the validator reads each node once)."""
    known = _BODY_SCHEMAS.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    root = dict(schema)
    root["properties"] = {
        k: v for k, v in (root.get("properties") or {}).items() if k not in _ENVELOPE
    }
    _BODY_SCHEMAS[id(schema)] = (schema, root)
    return root


def validate_object(data: dict[str, Any], resolution: Resolution) -> list[FieldError]:
    """Metadata always; the body against the kind's schema when there is one."""
    errors = validate_metadata(resolution.kind, data.get("metadata"))
    if resolution.schema is None:
        return errors
    root = _body_schema(resolution.schema)
    body = {k: v for k, v in data.items() if k not in _ENVELOPE}
    errors += validate(body, root)
    if any(e.blocking for e in errors):
        return errors  # the API server does not evaluate the rules of a malformed object
    errors += validate_builtin(resolution.group, resolution.kind, data)
    return errors + validate_rules(data, resolution.schema)
