"""Validation of Kubernetes manifests against the CRD OpenAPI schemas (Istio, Gateway API).

The schemas are the pinned upstream CRD files in a cache directory (`AMBIENT_HARNESS_CRD_DIR`,
default `~/.cache/ambient-harness/crds`, filled by `ambient-harness schemas fetch`). Parsing
~2 MB of CRD YAML costs a noticeable fraction of a second, so the parsed index (schemas without
their prose) is cached as JSON under the user's cache directory, keyed by the sha256 of the
source files; a read-only or missing cache location only costs the re-parse (~0.15 s with
libyaml versus ~10 ms from the JSON cache).

The validator is deliberately *strict* where the API server is silently lenient: a field the
schema does not declare would be pruned on apply, so it is an error (the classic `spec.acton`
typo that turns a DENY policy into an ALLOW-all). Rules the schema encodes in CEL
(`x-kubernetes-validations`) are not evaluated. Built-in kinds (Service, Deployment, ...) get
structural checks from small hand-written schemas in the same format.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import difflib
import hashlib
import ipaddress
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

from harness.host import paths
from harness.model.source import PathKey, format_path

Schema = Mapping[str, Any]
Scope = Literal["Namespaced", "Cluster"]

INDEX_FORMAT = 1
# Schema keywords the validator never reads: dropped from the cached index to keep it small.
_UNUSED_KEYWORDS = frozenset({"description", "x-kubernetes-validations", "default", "example"})


def default_crd_dir() -> Path:
    """Where the CRD files live: $AMBIENT_HARNESS_CRD_DIR or the user's cache."""
    return paths.crd_dir()


def default_index_cache_dir() -> Path:
    """Parsed-index cache under the cache root, never the CRD dir itself (may be read-only)."""
    return paths.cache_root() / "crd-index"


# --------------------------------------------------------------------------------------------
# The index: (group, kind) -> CRD, each with its versions' schemas.


@dataclass(frozen=True)
class CrdVersion:
    name: str
    served: bool
    deprecated: bool
    warning: str | None
    schema: Schema


@dataclass(frozen=True)
class Crd:
    group: str
    kind: str
    scope: Scope
    versions: tuple[CrdVersion, ...]

    def version(self, name: str) -> CrdVersion | None:
        return next((v for v in self.versions if v.name == name), None)

    @property
    def served(self) -> list[str]:
        return sort_versions(v.name for v in self.versions if v.served)


@dataclass(frozen=True)
class SchemaIndex:
    """Every CRD found in `directory`; empty when none were (lint then says so once)."""

    directory: Path
    crds: Mapping[tuple[str, str], Crd]
    sources: tuple[Path, ...]

    @property
    def empty(self) -> bool:
        return not self.crds

    @property
    def groups(self) -> set[str]:
        return {g for g, _ in self.crds}

    def kinds(self, group: str) -> list[str]:
        return sorted(k for g, k in self.crds if g == group)

    def schema(self, group: str, version: str, kind: str) -> Schema | None:
        """openAPIV3Schema of (group, version, kind), if that CRD version exists."""
        crd = self.crds.get((group, kind))
        v = crd.version(version) if crd else None
        return v.schema if v else None


class CrdFileError(Exception):
    """A file in the CRD directory is not valid YAML; carries file and line."""

    def __init__(self, file: Path, line: int, reason: str) -> None:
        self.file, self.line, self.reason = file, line, reason
        super().__init__(f"{file}:{line}: {reason}")


_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def sort_versions(names: Iterable[str]) -> list[str]:
    """Kubernetes version priority: GA before beta before alpha, newer first."""

    def key(name: str) -> tuple[int, int, int, str]:
        m = _VERSION_RE.match(name)
        if not m:
            return (3, 0, 0, name)
        stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
        return (stage, -int(m.group(1)), -int(m.group(3) or 0), name)

    return sorted(names, key=key)


def _strip(schema: Any) -> Any:
    """A copy of a schema node without the keywords the validator never reads."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for k, v in schema.items():
        if k in _UNUSED_KEYWORDS:
            continue
        if k == "properties" and isinstance(v, dict):
            out[k] = {name: _strip(sub) for name, sub in v.items()}
        elif k in ("items", "additionalProperties", "not"):
            out[k] = _strip(v)
        elif k in ("oneOf", "anyOf", "allOf") and isinstance(v, list):
            out[k] = [_strip(sub) for sub in v]
        else:
            out[k] = v
    return out


def _crd_entries(doc: Any) -> list[dict[str, Any]]:
    """The JSON-able form of one CRD document (empty for any other document)."""
    if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
        return []
    spec = doc.get("spec") or {}
    versions = []
    for v in spec.get("versions") or []:
        schema = ((v.get("schema") or {}).get("openAPIV3Schema")) or {}
        versions.append(
            {
                "name": v["name"],
                "served": bool(v.get("served", False)),
                "deprecated": bool(v.get("deprecated", False)),
                "warning": v.get("deprecationWarning"),
                "schema": _strip(schema),
            }
        )
    return [
        {
            "group": spec["group"],
            "kind": spec["names"]["kind"],
            "scope": spec.get("scope", "Namespaced"),
            "versions": versions,
        }
    ]


def _parse_crd_file(file: Path) -> list[dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster
    try:
        with file.open("rb") as fh:
            docs = list(yaml.load_all(fh, Loader=loader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = int(mark.line) + 1 if mark is not None else 1
        raise CrdFileError(file, line, f"invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    entries: list[dict[str, Any]] = []
    for doc in docs:
        try:
            entries.extend(_crd_entries(doc))
        except (KeyError, TypeError, AttributeError) as exc:
            raise CrdFileError(file, 1, f"malformed CustomResourceDefinition: {exc}") from exc
    return entries


def _build(
    directory: Path, sources: tuple[Path, ...], entries: list[dict[str, Any]]
) -> SchemaIndex:
    crds: dict[tuple[str, str], Crd] = {}
    for e in entries:
        versions = tuple(
            CrdVersion(v["name"], v["served"], v["deprecated"], v["warning"], v["schema"])
            for v in e["versions"]
        )
        scope: Scope = "Cluster" if e["scope"] == "Cluster" else "Namespaced"
        crds[(e["group"], e["kind"])] = Crd(e["group"], e["kind"], scope, versions)
    return SchemaIndex(directory, crds, sources)


def _sources_key(sources: tuple[Path, ...]) -> str:
    h = hashlib.sha256(f"format={INDEX_FORMAT}\n".encode())
    for f in sources:
        h.update(f.name.encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _read_cache(cache_file: Path) -> list[dict[str, Any]] | None:
    try:
        data = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
        return None
    entries = data.get("crds")
    return entries if isinstance(entries, list) else None


def _write_cache(cache_file: Path, entries: list[dict[str, Any]]) -> None:
    """Atomic write; any failure (read-only home, full disk) just means no cache."""
    tmp: Path | None = None
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, name = tempfile.mkstemp(dir=cache_file.parent, prefix=".crd-index-", suffix=".tmp")
        tmp = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"format": INDEX_FORMAT, "crds": entries}, fh, separators=(",", ":"))
        tmp.replace(cache_file)
        for old in cache_file.parent.glob("crd-index-*.json"):
            if old != cache_file:
                old.unlink(missing_ok=True)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


_MEMO: dict[tuple[Path, str], SchemaIndex] = {}


def load_index(directory: Path | None = None, cache_dir: Path | None = None) -> SchemaIndex:
    """The CRD index of `directory` (default: `default_crd_dir()`); empty if it has no CRDs.

    Raises CrdFileError when a file there is not valid YAML (a broken download must not
    silently disable validation).
    """
    directory = directory or default_crd_dir()
    sources = tuple(sorted(directory.glob("*.yaml"))) if directory.is_dir() else ()
    if not sources:
        return SchemaIndex(directory, {}, ())
    key = _sources_key(sources)
    memo = _MEMO.get((directory.resolve(), key))
    if memo is not None:
        return memo
    cache_file = (cache_dir or default_index_cache_dir()) / f"crd-index-{key[:32]}.json"
    entries = _read_cache(cache_file)
    if entries is None:
        entries = [e for f in sources for e in _parse_crd_file(f)]
        _write_cache(cache_file, entries)
    index = _build(directory, sources, entries)
    _MEMO[(directory.resolve(), key)] = index
    return index


# --------------------------------------------------------------------------------------------
# Built-in kinds: which exist where, their scope, and small structural schemas.

_S: Schema = {"type": "string"}
_I: Schema = {"type": "integer"}
_B: Schema = {"type": "boolean"}
_MAP_S: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
_ANY_OBJ: Schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_ANY_LIST: Schema = {"type": "array", "items": _ANY_OBJ}


def _enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def _obj(props: Mapping[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    out: dict[str, Any] = {"type": "object", "properties": dict(props)}
    if required:
        out["required"] = list(required)
    return out


def _root(props: Mapping[str, Schema], preserve: bool = False) -> Schema:
    out = dict(_obj({**props, "status": _ANY_OBJ}))
    if preserve:
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


_SERVICE_PORT = _obj(
    {
        "name": _S,
        "protocol": _enum("TCP", "UDP", "SCTP"),
        "appProtocol": _S,
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "targetPort": {"x-kubernetes-int-or-string": True},
        "nodePort": _I,
    },
    required=("port",),
)
_SERVICE = _root(
    {
        "spec": _obj(
            {
                "ports": {"type": "array", "items": _SERVICE_PORT},
                "selector": _MAP_S,
                "type": _enum("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"),
                "clusterIP": _S,
                "clusterIPs": {"type": "array", "items": _S},
                "externalIPs": {"type": "array", "items": _S},
                "sessionAffinity": _enum("ClientIP", "None"),
                "sessionAffinityConfig": _ANY_OBJ,
                "loadBalancerIP": _S,
                "loadBalancerSourceRanges": {"type": "array", "items": _S},
                "loadBalancerClass": _S,
                "externalName": _S,
                "externalTrafficPolicy": _enum("Cluster", "Local"),
                "internalTrafficPolicy": _enum("Cluster", "Local"),
                "healthCheckNodePort": _I,
                "publishNotReadyAddresses": _B,
                "ipFamilies": {"type": "array", "items": _enum("IPv4", "IPv6")},
                "ipFamilyPolicy": _enum("SingleStack", "PreferDualStack", "RequireDualStack"),
                "allocateLoadBalancerNodePorts": _B,
                "trafficDistribution": _S,
            }
        )
    }
)
_POD_TEMPLATE = _obj(
    {
        "metadata": _obj({"labels": _MAP_S, "annotations": _MAP_S, "name": _S, "namespace": _S}),
        "spec": _ANY_OBJ,
    }
)
_LABEL_SELECTOR = _obj({"matchLabels": _MAP_S, "matchExpressions": _ANY_LIST})
_DEPLOYMENT = _root(
    {
        "spec": _obj(
            {
                "replicas": {"type": "integer", "minimum": 0},
                "selector": _LABEL_SELECTOR,
                "template": _POD_TEMPLATE,
                "strategy": _ANY_OBJ,
                "minReadySeconds": _I,
                "revisionHistoryLimit": _I,
                "paused": _B,
                "progressDeadlineSeconds": _I,
            },
            required=("selector", "template"),
        )
    }
)
_NAMESPACE = _root({"spec": _obj({"finalizers": {"type": "array", "items": _S}})})
_SERVICE_ACCOUNT = _root(
    {"secrets": _ANY_LIST, "imagePullSecrets": _ANY_LIST, "automountServiceAccountToken": _B}
)
_CONFIG_MAP = _root({"data": _MAP_S, "binaryData": _MAP_S, "immutable": _B})
_SECRET = _root({"data": _MAP_S, "stringData": _MAP_S, "type": _S, "immutable": _B})
# Kinds without a hand-written schema: metadata checks and "spec is a mapping" only.
_GENERIC = _root({"spec": _ANY_OBJ}, preserve=True)


@dataclass(frozen=True)
class Builtin:
    versions: tuple[str, ...]
    scope: Scope
    schema: Schema


def _builtins() -> dict[tuple[str, str], Builtin]:
    ns: Scope = "Namespaced"
    cl: Scope = "Cluster"
    v1 = ("v1",)
    table: dict[tuple[str, str], Builtin] = {
        ("", "Service"): Builtin(v1, ns, _SERVICE),
        ("", "Namespace"): Builtin(v1, cl, _NAMESPACE),
        ("", "ServiceAccount"): Builtin(v1, ns, _SERVICE_ACCOUNT),
        ("", "ConfigMap"): Builtin(v1, ns, _CONFIG_MAP),
        ("", "Secret"): Builtin(v1, ns, _SECRET),
        ("apps", "Deployment"): Builtin(v1, ns, _DEPLOYMENT),
    }
    generic = {
        "": {
            "Binding": ns, "ComponentStatus": cl, "Endpoints": ns, "Event": ns,
            "LimitRange": ns, "Node": cl, "PersistentVolume": cl,
            "PersistentVolumeClaim": ns, "Pod": ns, "PodTemplate": ns,
            "ReplicationController": ns, "ResourceQuota": ns,
        },
        "apps": {"StatefulSet": ns, "DaemonSet": ns, "ReplicaSet": ns, "ControllerRevision": ns},
        "batch": {"Job": ns, "CronJob": ns},
        "networking.k8s.io": {
            "NetworkPolicy": ns, "Ingress": ns, "IngressClass": cl, "IPAddress": cl,
            "ServiceCIDR": cl,
        },
        "rbac.authorization.k8s.io": {
            "Role": ns, "RoleBinding": ns, "ClusterRole": cl, "ClusterRoleBinding": cl,
        },
        "policy": {"PodDisruptionBudget": ns},
        "discovery.k8s.io": {"EndpointSlice": ns},
    }  # fmt: skip
    for group, kinds in generic.items():
        for kind, scope in kinds.items():
            table[(group, kind)] = Builtin(v1, scope, _GENERIC)
    table[("autoscaling", "HorizontalPodAutoscaler")] = Builtin(("v2", "v1"), ns, _GENERIC)
    return table


BUILTINS = _builtins()
BUILTIN_GROUPS = frozenset(g for g, _ in BUILTINS) | {"autoscaling"}
# Istio and Gateway API groups: covered by the CRD files; their absence is reported once.
CRD_GROUP_SUFFIXES = (".istio.io", "gateway.networking.k8s.io", "gateway.networking.x-k8s.io")
# Scope of CRD kinds when no CRD files are available (everything else there is namespaced).
_CLUSTER_SCOPED_CRD_KINDS = frozenset({"GatewayClass", "XMesh"})


def is_crd_group(group: str) -> bool:
    return group.endswith(CRD_GROUP_SUFFIXES)


# --------------------------------------------------------------------------------------------
# Resolving apiVersion + kind to a schema.


@dataclass(frozen=True)
class Resolution:
    """What is known about a document's type.

    `error` means the type is wrong (an unknown kind or version); `schema is None` without an
    error means it cannot be validated (unknown group, or no CRD files), `note` says why when
    that is worth a line.
    """

    group: str
    version: str
    kind: str
    schema: Schema | None = None
    scope: Scope | None = None
    error: str | None = None
    note: str | None = None


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def _suggest(word: str, candidates: Iterable[str]) -> str:
    options = list(candidates)
    lower = {c.lower(): c for c in options}
    match = lower.get(word.lower())
    if match is None:
        close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
        match = close[0] if close else None
    return f' (did you mean "{match}"?)' if match and match != word else ""


def resolve(index: SchemaIndex, api_version: str, kind: str) -> Resolution:
    group, version = split_api_version(api_version)
    base = Resolution(group, version, kind)
    if group in index.groups:
        return _resolve_crd(index, base, api_version)
    if group in BUILTIN_GROUPS:
        return _resolve_builtin(base)
    if is_crd_group(group):
        scope: Scope = "Cluster" if kind in _CLUSTER_SCOPED_CRD_KINDS else "Namespaced"
        if index.empty:
            return replace(base, scope=scope)  # the run reports the missing CRDs once
        note = f"no CRD for {group} {kind} in {index.directory}, not validated"
        return replace(base, scope=scope, note=note)
    return replace(base, note=f"{api_version} {kind}: no schema for this API group, not validated")


def _resolve_crd(index: SchemaIndex, base: Resolution, api_version: str) -> Resolution:
    group, version, kind = base.group, base.version, base.kind
    crd = index.crds.get((group, kind))
    if crd is None:
        kinds = index.kinds(group)
        hint = _suggest(kind, kinds)
        return replace(
            base, error=f"no kind {kind} in group {group}{hint}; kinds: {', '.join(kinds)}"
        )
    v = crd.version(version)
    served = ", ".join(crd.served)
    if v is None:
        return replace(base, error=f"no version {version} of {group} {kind}; served: {served}")
    if not v.served:
        error = f"version {version} of {group} {kind} is not served; served: {served}"
        return replace(base, error=error)
    if v.deprecated:
        reason = v.warning or f"use one of {served}"
        return replace(base, error=f"{api_version} {kind} is deprecated: {reason}")
    return replace(base, schema=v.schema, scope=crd.scope)


def _resolve_builtin(base: Resolution) -> Resolution:
    group, version, kind = base.group, base.version, base.kind
    b = BUILTINS.get((group, kind))
    if b is None:
        hint = _suggest(kind, sorted(k for g, k in BUILTINS if g == group))
        return replace(base, error=f"no kind {kind} in API group {group or 'core (v1)'}{hint}")
    if version not in b.versions:
        name = f"{group} {kind}" if group else kind
        error = f"no version {version} of {name}; served: {', '.join(b.versions)}"
        return replace(base, error=error)
    return replace(base, schema=b.schema, scope=b.scope)


# --------------------------------------------------------------------------------------------
# The validator.


@dataclass(frozen=True)
class FieldError:
    """One violation at a field path of the validated document."""

    path: PathKey
    message: str

    def __str__(self) -> str:
        return f"{format_path(self.path)}: {self.message}"


def type_name(value: Any) -> str:
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


def _show(value: Any) -> str:
    """A value as a YAML user reads it: strings quoted, long values cut."""
    if isinstance(value, str):
        text = json.dumps(value)
        return text if len(text) <= 60 else text[:57] + '..."'
    if isinstance(value, (bool, int, float)) or value is None:
        return json.dumps(value)
    return type_name(value)


def _got(value: Any) -> str:
    name = type_name(value)
    if isinstance(value, (dict, list)) or value is None:
        return name
    return f"{name} {_show(value)}"


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
            return f"expected an {fmt} address, got {_show(text)}"
        return None
    if fmt == "date-time" and not _RFC3339.match(text):
        return f"expected an RFC 3339 date-time, got {_show(text)}"
    if fmt == "byte":
        try:
            base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return f"expected base64 data, got {_show(text)}"
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


class _Validator:
    def __init__(self, structural: bool) -> None:
        # Branches of oneOf/anyOf/allOf/not only add constraints: fields they do not list are
        # not unknown there (structural schemas declare fields in the main branch only).
        self.structural = structural
        self.errors: list[FieldError] = []

    def err(self, path: PathKey, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def check(self, value: Any, schema: Schema, path: PathKey) -> None:
        if not isinstance(schema, Mapping):
            return
        if value is None:
            if not schema.get("nullable") and (
                "type" in schema or schema.get("x-kubernetes-int-or-string")
            ):
                expected = schema.get("type") or "integer or string"
                self.err(path, f"expected {expected}, got null (an empty value)")
            return
        if schema.get("x-kubernetes-int-or-string"):
            if type_name(value) not in ("integer", "string"):
                self.err(path, f"expected integer or string, got {_got(value)}")
                return
        elif "type" in schema and not _is_type(value, str(schema["type"])):
            self.err(path, f"expected {schema['type']}, got {_got(value)}")
            return
        if "enum" in schema:
            self.check_enum(value, schema["enum"], path)
        kind = type_name(value)
        if kind == "object":
            self.check_object(value, schema, path)
        elif kind == "array":
            self.check_array(value, schema, path)
        elif kind == "string":
            self.check_string(value, schema, path)
        elif kind in ("integer", "number"):
            self.check_number(value, schema, path)
        self.check_combinators(value, schema, path)

    def check_enum(self, value: Any, allowed: list[Any], path: PathKey) -> None:
        if any(type_name(value) == type_name(a) and value == a for a in allowed):
            return
        shown = ", ".join(a if isinstance(a, str) else json.dumps(a) for a in allowed)
        hint = _suggest(value, [str(a) for a in allowed]) if isinstance(value, str) else ""
        self.err(path, f"expected one of {shown}, got {_show(value)}{hint}")

    def check_object(self, value: dict[Any, Any], schema: Schema, path: PathKey) -> None:
        props: Mapping[str, Schema] = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        open_ = schema.get("x-kubernetes-preserve-unknown-fields") is True or extra is True
        for name in schema.get("required") or []:
            if name not in value:
                self.err((*path, str(name)), "required field missing")
        for key, sub in value.items():
            name = str(key)
            if name in props:
                self.check(sub, props[name], (*path, name))
            elif isinstance(extra, Mapping):
                self.check(sub, extra, (*path, name))
            elif self.structural and not open_:
                self.err((*path, name), f'unknown field "{name}"{_suggest(name, props)}')
        n = len(value)
        if "maxProperties" in schema and n > schema["maxProperties"]:
            self.err(path, f"must have at most {schema['maxProperties']} entries, got {n}")
        if "minProperties" in schema and n < schema["minProperties"]:
            self.err(path, f"must have at least {schema['minProperties']} entries, got {n}")

    def check_array(self, value: list[Any], schema: Schema, path: PathKey) -> None:
        items = schema.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(value):
                self.check(item, items, (*path, i))
        n = len(value)
        if "maxItems" in schema and n > schema["maxItems"]:
            self.err(path, f"must have at most {schema['maxItems']} items, got {n}")
        if "minItems" in schema and n < schema["minItems"]:
            self.err(path, f"must have at least {schema['minItems']} item(s), got {n}")
        if self.structural:
            self.check_list_type(value, schema, path)

    def check_list_type(self, value: list[Any], schema: Schema, path: PathKey) -> None:
        """`x-kubernetes-list-type: set|map`: the API server rejects duplicate entries."""
        list_type = schema.get("x-kubernetes-list-type")
        keys: list[str] = list(schema.get("x-kubernetes-list-map-keys") or [])
        if list_type not in ("set", "map") or (list_type == "map" and not keys):
            return
        seen: dict[str, int] = {}
        for i, item in enumerate(value):
            if list_type == "map":
                if not isinstance(item, dict) or any(k not in item for k in keys):
                    continue  # reported as a missing required key, if it is one
                ident = ", ".join(f"{k}={_show(item[k])}" for k in keys)
            else:
                ident = json.dumps(item, sort_keys=True, default=str)
            if ident in seen:
                self.err((*path, i), f"duplicate entry {ident} (same as [{seen[ident]}])")
            else:
                seen[ident] = i

    def check_string(self, value: Any, schema: Schema, path: PathKey) -> None:
        text = _as_text(value)
        if text is None:
            return
        if "maxLength" in schema and len(text) > schema["maxLength"]:
            self.err(path, f"must be at most {schema['maxLength']} characters, got {len(text)}")
        if "minLength" in schema and len(text) < schema["minLength"]:
            self.err(path, f"must be at least {schema['minLength']} character(s), got {len(text)}")
        if "pattern" in schema:
            rx = _regex(str(schema["pattern"]))
            if rx is not None and not rx.search(text):
                self.err(path, f"{_show(text)} does not match the pattern {schema['pattern']}")
        if "format" in schema:
            self.check_format(value, str(schema["format"]), path)

    def check_number(self, value: float, schema: Schema, path: PathKey) -> None:
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is not None:
            exclusive = schema.get("exclusiveMinimum") is True
            if value < lo or (exclusive and value == lo):
                self.err(path, f"must be {'>' if exclusive else '>='} {lo}, got {_show(value)}")
        if hi is not None:
            exclusive = schema.get("exclusiveMaximum") is True
            if value > hi or (exclusive and value == hi):
                self.err(path, f"must be {'<' if exclusive else '<='} {hi}, got {_show(value)}")
        if "format" in schema:
            self.check_format(value, str(schema["format"]), path)

    def check_format(self, value: Any, fmt: str, path: PathKey) -> None:
        problem = _format_error(value, fmt)
        if problem:
            self.err(path, problem)

    def check_combinators(self, value: Any, schema: Schema, path: PathKey) -> None:
        for sub in schema.get("allOf") or []:
            self.branch_errors(value, sub, path, report=True)
        if "anyOf" in schema:
            branches = list(schema["anyOf"])
            if not any(not self.branch_errors(value, b, path) for b in branches):
                self.err(path, self.no_match("anyOf", value, branches, path))
        if "oneOf" in schema:
            branches = list(schema["oneOf"])
            matched = sum(1 for b in branches if not self.branch_errors(value, b, path))
            if matched != 1:
                self.err(path, self.no_match("oneOf", value, branches, path))
        negated = schema.get("not")
        if isinstance(negated, Mapping) and not self.branch_errors(value, negated, path):
            if set(negated) == {"enum"}:
                shown = ", ".join(map(str, negated["enum"]))
                self.err(path, f"must not be one of {shown}, got {_show(value)}")
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
            return f"expected a value of format {' or '.join(map(str, formats))}, got {_got(value)}"
        reasons = []
        for b in branches:
            errs = self.branch_errors(value, b, path)
            if errs:
                reasons.append(str(errs[0]))
        what = "exactly one" if keyword == "oneOf" else "any"
        return f"does not match {what} of the allowed forms ({'; '.join(reasons)})"


def validate(value: Any, schema: Schema, path: PathKey = ()) -> list[FieldError]:
    """Every violation of `schema` by `value` (a strict structural check; CEL rules skipped)."""
    v = _Validator(structural=True)
    v.check(value, schema, path)
    return v.errors


# --------------------------------------------------------------------------------------------
# Whole objects: envelope, metadata, then the kind's schema.

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
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
            f"{_show(name)} is not {what}: lower-case letters, digits and '-', "
            f"at most {limit} characters"
        )
    return None


def _label_key_error(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
        return f"label key {_show(key)}: prefix must be a DNS subdomain"
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        return f"label key {_show(key)} is not a valid qualified name"
    return None


def validate_metadata(kind: str, meta: Any) -> list[FieldError]:
    """ObjectMeta as applied from a manifest (CRD schemas leave it to the API server)."""
    base: PathKey = ("metadata",)
    if meta is None:
        return [FieldError((*base, "name"), "required field missing")]
    if not isinstance(meta, dict):
        return [FieldError(base, f"expected object, got {_got(meta)}")]
    out: list[FieldError] = []
    for key in meta:
        k = str(key)
        if k in _SERVER_SET:
            out.append(FieldError((*base, k), f'"{k}" is set by the API server; remove it'))
        elif k not in _METADATA_FIELDS:
            out.append(
                FieldError((*base, k), f'unknown field "{k}"{_suggest(k, _METADATA_FIELDS)}')
            )
    name = meta.get("name")
    if name is None:
        out.append(FieldError((*base, "name"), "required field missing"))
    elif not isinstance(name, str):
        out.append(FieldError((*base, "name"), f"expected string, got {_got(name)}"))
    elif (problem := _name_error(kind, name)) is not None:
        out.append(FieldError((*base, "name"), problem))
    ns = meta.get("namespace")
    if ns is not None and not (isinstance(ns, str) and DNS1123_LABEL.match(ns)):
        out.append(FieldError((*base, "namespace"), f"{_show(ns)} is not a valid namespace name"))
    out.extend(_string_map(meta, "labels", labels=True))
    out.extend(_string_map(meta, "annotations", labels=False))
    return out


def _string_map(meta: dict[str, Any], field: str, labels: bool) -> list[FieldError]:
    path: PathKey = ("metadata", field)
    value = meta.get(field)
    if value is None:
        return []
    if not isinstance(value, dict):
        return [FieldError(path, f"expected object, got {_got(value)}")]
    out = []
    for k, v in value.items():
        key = str(k)
        if (problem := _label_key_error(key)) is not None:
            out.append(FieldError((*path, key), problem))
        if not isinstance(v, str):
            hint = " (quote it)" if isinstance(v, (bool, int, float)) else ""
            out.append(FieldError((*path, key), f"expected string, got {_got(v)}{hint}"))
        elif labels and v and (len(v) > 63 or not _QUALIFIED_NAME.match(v)):
            out.append(FieldError((*path, key), f"label value {_show(v)} is not valid"))
    return out


_ENVELOPE = ("apiVersion", "kind", "metadata")


def validate_object(data: dict[str, Any], resolution: Resolution) -> list[FieldError]:
    """Metadata always; the body against the kind's schema when there is one."""
    errors = validate_metadata(resolution.kind, data.get("metadata"))
    if resolution.schema is None:
        return errors
    # apiVersion/kind/metadata are the API server's, whether or not a CRD schema lists them.
    root = dict(resolution.schema)
    root["properties"] = {
        k: v for k, v in (root.get("properties") or {}).items() if k not in _ENVELOPE
    }
    body = {k: v for k, v in data.items() if k not in _ENVELOPE}
    return errors + validate(body, root)
