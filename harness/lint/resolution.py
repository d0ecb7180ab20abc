"""From a manifest's `apiVersion` + `kind` to the schema it is validated against: a CRD of the
pinned bundles, a built-in kind, or nothing (with the reason)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from harness.lint.builtin_kinds import BUILTIN_GROUPS, BUILTINS, is_crd_group
from harness.lint.crds import Schema, SchemaIndex, Scope
from harness.lint.openapi import suggest

# Scope of CRD kinds when no CRD files are available (everything else there is namespaced).
_CLUSTER_SCOPED_CRD_KINDS = frozenset({"GatewayClass", "XMesh"})


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
        # The pinned bundles are verified whole: a group they lack is a typo or a kind of
        # another Istio/Gateway API release.
        groups = sorted(g for g in index.groups if is_crd_group(g))
        hint = suggest(group, groups)
        error = f"no API group {group} in the pinned CRDs{hint}; groups: {', '.join(groups)}"
        return replace(base, scope=scope, error=error)
    return replace(base, note=f"{api_version} {kind}: no schema for this API group, not validated")


def _resolve_crd(index: SchemaIndex, base: Resolution, api_version: str) -> Resolution:
    group, version, kind = base.group, base.version, base.kind
    crd = index.crds.get((group, kind))
    if crd is None:
        kinds = index.kinds(group)
        hint = suggest(kind, kinds)
        return replace(
            base, error=f"no kind {kind} in group {group}{hint}; kinds: {', '.join(kinds)}"
        )
    v = crd.version(version)
    if v is None:
        served = ", ".join(crd.served)
        return replace(base, error=f"no version {version} of {group} {kind}; served: {served}")
    if not v.served:
        served = ", ".join(crd.served)
        error = f"version {version} of {group} {kind} is not served; served: {served}"
        return replace(base, error=error)
    if v.deprecated:
        reason = v.warning or f"use one of {', '.join(crd.served)}"
        return replace(base, error=f"{api_version} {kind} is deprecated: {reason}")
    return replace(base, schema=v.schema, scope=crd.scope)


def _resolve_builtin(base: Resolution) -> Resolution:
    group, version, kind = base.group, base.version, base.kind
    b = BUILTINS.get((group, kind))
    if b is None:
        hint = suggest(kind, sorted(k for g, k in BUILTINS if g == group))
        return replace(base, error=f"no kind {kind} in API group {group or 'core (v1)'}{hint}")
    if version not in b.versions:
        name = f"{group} {kind}" if group else kind
        error = f"no version {version} of {name}; served: {', '.join(b.versions)}"
        return replace(base, error=error)
    return replace(base, schema=b.schema, scope=b.scope)
