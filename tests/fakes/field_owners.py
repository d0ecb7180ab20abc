"""Field ownership for the fake API server's server-side apply: which field manager owns which
fields (`metadata.managedFields`, FieldsV1), the 409 Conflict a non-forced apply gets over
another manager's fields, and what a forced apply takes over.

Modelled as kube-apiserver does it, with these simplifications: a field is a leaf path of the
object; lists are atomic (a leaf), which is what the Istio and Gateway API CRDs declare for
most lists (no `x-kubernetes-list-type: map`); managers are told apart by name only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str, ...]

# Set by the server, never owned by a manager.
_SERVER_META = {
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "managedFields",
}


def leaves(obj: Mapping[str, Any], prefix: Path = ()) -> dict[Path, Any]:
    """Every leaf path of a manifest's fields (not apiVersion/kind/status/server metadata)."""
    out: dict[Path, Any] = {}
    for k, v in obj.items():
        if not prefix and k in ("apiVersion", "kind", "status"):
            continue
        if prefix == ("metadata",) and k in _SERVER_META:
            continue
        path = (*prefix, k)
        if isinstance(v, dict) and v:
            out.update(leaves(v, path))
        else:
            out[path] = v
    return out


def dig(obj: Any, path: Path) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def put(obj: dict[str, Any], path: Path, value: Any) -> None:
    for part in path[:-1]:
        obj = obj.setdefault(part, {})
    obj[path[-1]] = value


def dotted(path: Path) -> str:
    return "".join(f".{p}" for p in path)


def fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """FieldsV1: `{"f:spec": {"f:action": {}}}`."""
    out: dict[str, Any] = {}
    for path in sorted(paths):
        node = out
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return out


def _overlap(a: Path, b: Path) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


@dataclass
class Owner:
    operation: str  # Apply or Update
    api_version: str
    paths: set[Path] = field(default_factory=set)
    time: str = ""


@dataclass(frozen=True)
class Conflict:
    manager: str
    owner: Owner
    path: Path


def conflicts(
    owners: Mapping[str, Owner], manager: str, live: Mapping[str, Any], applied: Mapping[str, Any]
) -> list[Conflict]:
    """Fields `applied` sets to a value other than the live one, owned by another manager."""
    mine = leaves(applied)
    found: list[Conflict] = []
    for name, owner in owners.items():
        if name == manager:
            continue
        for theirs in sorted(owner.paths):
            for path in mine:
                if _overlap(path, theirs):
                    shorter = path if len(path) <= len(theirs) else theirs
                    if dig(live, shorter) != dig(applied, shorter):
                        found.append(Conflict(name, owner, theirs))
                    break
    return found


def conflict_status(found: list[Conflict]) -> tuple[str, list[dict[str, str]]]:
    """The 409's message and details.causes, worded as kube-apiserver words them."""

    def who(c: Conflict) -> str:
        return f'"{c.manager}" using {c.owner.api_version}'

    n = len(found)
    if n == 1:
        body = f"conflict with {who(found[0])}: {dotted(found[0].path)}"
    else:
        by: dict[str, list[Conflict]] = {}
        for c in found:
            by.setdefault(who(c), []).append(c)
        body = "\n".join(
            f"conflicts with {w}:\n" + "\n".join(f"- {dotted(c.path)}" for c in cs)
            for w, cs in by.items()
        )
    message = f"Apply failed with {n} conflict{'s' if n != 1 else ''}: {body}"
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {who(c)}",
            "field": dotted(c.path),
        }
        for c in found
    ]
    return message, causes


def merge_foreign(
    owners: Mapping[str, Owner], manager: str, live: Mapping[str, Any], applied: dict[str, Any]
) -> None:
    """Into `applied` (the new object), the live values of fields other managers own and the
    applier does not set: an apply never removes another manager's fields."""
    mine = leaves(applied)
    for name, owner in owners.items():
        if name == manager:
            continue
        for theirs in owner.paths:
            if not any(_overlap(theirs, p) for p in mine):
                value = dig(live, theirs)
                if value is not None:
                    put(applied, theirs, value)


def managed_fields(owners: Mapping[str, Owner]) -> list[dict[str, Any]]:
    return [
        {
            "manager": name,
            "operation": o.operation,
            "apiVersion": o.api_version,
            "time": o.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields_v1(o.paths),
        }
        for name, o in owners.items()
        if o.paths
    ]
