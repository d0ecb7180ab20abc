"""Reading status: conditions, readiness predicates, and texts that say why something is not
ready in the cluster's own words (conditions, container waiting reasons, events)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any


def conditions(obj: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not obj:
        return []
    conds = (obj.get("status") or {}).get("conditions") or []
    return [c for c in conds if isinstance(c, dict)]


def condition_is(obj: Mapping[str, Any] | None, type_: str, status: str = "True") -> bool:
    return any(c.get("type") == type_ and c.get("status") == status for c in conditions(obj))


def format_conditions(obj: Mapping[str, Any] | None) -> str:
    """`Accepted=True Accepted; Programmed=False Invalid: no pods` (or `no conditions`)."""
    if obj is None:
        return "object not found"
    parts = []
    for c in conditions(obj):
        text = f"{c.get('type')}={c.get('status')}"
        if c.get("reason"):
            text += f" {c['reason']}"
        if c.get("message"):
            text += f": {c['message']}"
        parts.append(text)
    return "; ".join(parts) if parts else "no conditions"


def deployment_rolled_out(obj: Mapping[str, Any] | None) -> bool:
    """Rolled out as `kubectl rollout status` means it, and ready: the current generation is
    observed and updated, ready and available replicas all equal `spec.replicas`, with no old
    replica left. (`Available=True` alone is not enough: it holds with up to maxUnavailable,
    25 % by default, of the replicas missing.)"""
    if obj is None:
        return False
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return False
    want = spec.get("replicas", 1)
    counts = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    return all(status.get(c, 0) == want for c in counts)


def describe_deployment(obj: Mapping[str, Any] | None) -> str:
    """`replicas 4: updated 3, ready 3, available 3, total 3; generation 2/2 observed;
    Available=True ...`."""
    if obj is None:
        return "object not found"
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    counts = ", ".join(
        f"{word} {status.get(key, 0)}"
        for word, key in (
            ("updated", "updatedReplicas"),
            ("ready", "readyReplicas"),
            ("available", "availableReplicas"),
            ("total", "replicas"),
        )
    )
    gen = f"generation {status.get('observedGeneration', 0)}/{meta.get('generation', 0)} observed"
    return f"replicas {spec.get('replicas', 1)}: {counts}; {gen}; {format_conditions(obj)}"


def pod_ready(pod: Mapping[str, Any]) -> bool:
    """Running, Ready=True and not being deleted."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    return (
        status.get("phase") == "Running"
        and condition_is(pod, "Ready")
        and not meta.get("deletionTimestamp")
    )


def ready_pod(pods: Sequence[Mapping[str, Any]]) -> str | None:
    """The newest ready pod's name (a rollout leaves older ones terminating), or None."""
    ready = sorted(
        (p for p in pods if pod_ready(p)),
        key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp", "")),
    )
    return str(ready[-1]["metadata"]["name"]) if ready else None


def failing_conditions(obj: Mapping[str, Any]) -> list[str]:
    """`PodScheduled=False Unschedulable: 0/1 nodes are available ...`: the conditions that
    are not True (ContainersReady left out: it repeats Ready)."""
    return [
        format_conditions({"status": {"conditions": [c]}})
        for c in conditions(obj)
        if c.get("status") != "True" and c.get("type") != "ContainersReady"
    ]


def describe_pods(pods: Sequence[Mapping[str, Any]]) -> str:
    """`a-1 Pending (echo: ImagePullBackOff: Back-off pulling image ...), b-2 Pending
    (PodScheduled=False Unschedulable: 0/1 nodes are available ...)`, or `no pods`: why pods
    are not ready, in the kubelet's and the scheduler's words."""
    if not pods:
        return "no pods"
    parts = []
    for p in pods:
        status = p.get("status") or {}
        phase = status.get("phase", "?")
        why = [
            ": ".join(str(x) for x in (c.get("name"), w.get("reason"), w.get("message")) if x)
            for key in ("initContainerStatuses", "containerStatuses")
            for c in status.get(key) or []
            if (w := (c.get("state") or {}).get("waiting"))
        ]
        if not pod_ready(p):
            why += failing_conditions(p)
        if why:
            state = f" ({'; '.join(why)})"
        else:
            state = " (not ready)" if phase == "Running" and not pod_ready(p) else ""
        parts.append(f"{(p.get('metadata') or {}).get('name', '?')} {phase}{state}")
    return ", ".join(parts)


def daemonset_rolled_out(obj: Mapping[str, Any] | None) -> bool:
    """Every scheduled pod is updated and ready, for the current generation."""
    if obj is None:
        return False
    status = obj.get("status") or {}
    gen = (obj.get("metadata") or {}).get("generation", 0)
    desired = status.get("desiredNumberScheduled")
    return (
        status.get("observedGeneration", 0) >= gen
        and desired is not None
        and desired > 0
        and status.get("numberReady") == desired
        and status.get("updatedNumberScheduled") == desired
    )


def describe_daemonset(obj: Mapping[str, Any] | None) -> str:
    if obj is None:
        return "object not found"
    s = obj.get("status") or {}
    gen = (obj.get("metadata") or {}).get("generation", "?")
    return (
        f"desired={s.get('desiredNumberScheduled')} ready={s.get('numberReady')} "
        f"updated={s.get('updatedNumberScheduled')} "
        f"observedGeneration={s.get('observedGeneration')}/{gen}"
    )


_NO_TIME = datetime.min.replace(tzinfo=UTC)


def parse_time(text: Any) -> datetime | None:
    """An API timestamp (`2026-05-01T10:00:00Z`, `...T10:00:00.123456Z`), or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def event_time(ev: Mapping[str, Any]) -> datetime:
    """When an event last happened, parsed: the latest of lastTimestamp, eventTime and
    series.lastObservedTime (seconds against microseconds: strings do not compare), else
    firstTimestamp or creationTimestamp; the earliest time if it has none."""
    meta = ev.get("metadata") or {}
    latest = [
        t
        for t in (
            parse_time(ev.get("lastTimestamp")),
            parse_time(ev.get("eventTime")),
            parse_time((ev.get("series") or {}).get("lastObservedTime")),
        )
        if t is not None
    ]
    if latest:
        return max(latest)
    return (
        parse_time(ev.get("firstTimestamp"))
        or parse_time(meta.get("creationTimestamp"))
        or _NO_TIME
    )


def event_timestamp(ev: Mapping[str, Any]) -> str:
    """`event_time` for people: ISO 8601 in UTC, or `?`."""
    t = event_time(ev)
    return "?" if t == _NO_TIME else t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def format_event(ev: Mapping[str, Any]) -> str:
    """`2026-05-01T10:00:00Z Warning FailedScheduling Pod/x (x3): 0/1 nodes are available`."""
    involved = ev.get("involvedObject") or ev.get("regarding") or {}
    what = f"{involved.get('kind', '?')}/{involved.get('name', '?')}"
    count = ev.get("count")
    times = f" (x{count})" if count and count > 1 else ""
    return (
        f"{event_timestamp(ev)} {ev.get('type', '')} {ev.get('reason', '')} {what}{times}: "
        f"{str(ev.get('message') or ev.get('note') or '').strip()}"
    )


# What each finalizer waits for, in words a user can act on.
FINALIZER_MEANING = {
    "foregroundDeletion": "the garbage collector deletes its dependents first; it runs in "
    "kube-controller-manager, so without one this never ends",
    "orphan": "the garbage collector orphans its dependents first",
    "kubernetes": "the namespace controller (kube-controller-manager) deletes its content first",
}


def describe_deletion(obj: Mapping[str, Any] | None) -> str:
    """What a deletion is waiting for: `deleting since T; waiting for finalizer
    foregroundDeletion (the garbage collector ...); status.phase=Terminating; ...`."""
    if obj is None:
        return "gone"
    meta = obj.get("metadata") or {}
    ts = meta.get("deletionTimestamp")
    if not ts:
        return f"still there and not being deleted; {format_conditions(obj)}"
    parts = [f"deleting since {ts}"]
    for fin in meta.get("finalizers") or []:
        why = FINALIZER_MEANING.get(str(fin), "removed by the controller that added it")
        parts.append(f"waiting for finalizer {fin} ({why})")
    phase = (obj.get("status") or {}).get("phase")
    if phase:
        parts.append(f"status.phase={phase}")
    spec_fin = (obj.get("spec") or {}).get("finalizers")
    if spec_fin:
        whys = "; ".join(
            FINALIZER_MEANING.get(str(f), "removed by the controller that added it")
            for f in spec_fin
        )
        parts.append(f"spec.finalizers={list(spec_fin)} ({whys})")
    if conditions(obj):
        parts.append(format_conditions(obj))
    return "; ".join(parts)


def _field_paths(node: Mapping[str, Any], prefix: str) -> list[str]:
    """Leaf paths of a FieldsV1 tree: `{"f:spec": {"f:rules": {}}}` -> `.spec.rules`."""
    out: list[str] = []
    for key, child in node.items():
        if key == ".":
            continue
        kind, _, name = key.partition(":")
        path = f"{prefix}.{name}" if kind == "f" else f"{prefix}[{name}]"
        if isinstance(child, Mapping) and set(child) - {"."}:
            out += _field_paths(child, path)
        else:
            out.append(path)
    return out


def field_owners(obj: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """Manager -> the spec-level fields it owns, from `metadata.managedFields` (status and
    metadata left out: controllers and kubectl own bits of those on every object)."""
    out: dict[str, list[str]] = {}
    for entry in ((obj or {}).get("metadata") or {}).get("managedFields") or []:
        if not isinstance(entry, Mapping) or entry.get("subresource"):
            continue
        paths = [
            p
            for p in _field_paths(entry.get("fieldsV1") or {}, "")
            if not p.startswith((".status", ".metadata"))
        ]
        if paths:
            out.setdefault(str(entry.get("manager", "?")), []).extend(paths)
    return out
