"""What the pods of a component are doing while the harness waits for it, as one line.

A pure function of what the API server said (the pods and the namespace's events at one
moment): `Pulling image "docker.io/istio/ztunnel:1.30.3" on ambient-harness-worker2 (14 s)`,
`CrashLoopBackOff: too many open files (ztunnel-x7k2p on ambient-harness-worker, 4 restarts)`.
The waits in `harness.mesh.readiness` print it, and use `Activity.pulling_for` so that an
image pull that is visibly progressing is not charged to the readiness budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from harness.kube.status import event_time, pod_ready

ActivityKind = Literal["crash", "pull-failed", "unschedulable", "pulling", "not-ready", "starting"]
# The most telling first: a crash loop explains more than a pod that is still starting.
_RANK: Final = {
    "crash": 0,
    "pull-failed": 1,
    "unschedulable": 2,
    "pulling": 3,
    "not-ready": 4,
    "starting": 5,
}
_PULL_FAILURES: Final = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName")


@dataclass(frozen=True)
class Activity:
    """The most telling thing one of the pods is doing; `pulling_for`: seconds an image pull
    has been going on (None: no pull in progress)."""

    kind: ActivityKind
    line: str
    pulling_for: float | None = None


def _name(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("name", "?"))


def _about(ev: Mapping[str, Any], pod: str) -> bool:
    involved = ev.get("involvedObject") or ev.get("regarding") or {}
    return involved.get("kind") == "Pod" and involved.get("name") == pod


def _quoted(text: str) -> str | None:
    """The first "..." in an event message (kubelet quotes the image)."""
    parts = text.split('"')
    return parts[1] if len(parts) >= 3 else None


def pulls_in_progress(
    events: Sequence[Mapping[str, Any]], pod: str, now: datetime
) -> list[tuple[str, float]]:
    """(image, seconds) for each image whose latest `Pulling` event for `pod` has no later
    `Pulled` (or pull failure) event."""
    started: dict[str, datetime] = {}
    for ev in sorted((e for e in events if _about(e, pod)), key=event_time):
        image = _quoted(str(ev.get("message") or ev.get("note") or ""))
        if image is None:
            continue
        if ev.get("reason") == "Pulling":
            started[image] = event_time(ev)
        elif ev.get("reason") in ("Pulled", "Failed", "BackOff"):
            started.pop(image, None)
    return [(image, max(0.0, (now - t).total_seconds())) for image, t in started.items()]


def _statuses(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(
        status.get("containerStatuses") or []
    )


def _first_line(text: Any) -> str:
    for line in str(text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _crash_reason(cs: Mapping[str, Any]) -> str:
    last = (cs.get("lastState") or {}).get("terminated") or {}
    # The termination message is what the program said last (often its fatal error).
    said = _first_line(last.get("message"))
    if said:
        return said
    if last:
        return f"{last.get('reason') or 'exited'} (exit code {last.get('exitCode', '?')})"
    return _first_line((cs.get("state") or {}).get("waiting", {}).get("message")) or "restarting"


def pod_activity(
    pod: Mapping[str, Any], events: Sequence[Mapping[str, Any]], now: datetime
) -> Activity | None:
    """What one pod is doing, or None when it is Running and Ready."""
    name = _name(pod)
    node = str((pod.get("spec") or {}).get("nodeName") or "")
    on = f" on {node}" if node else ""
    status = pod.get("status") or {}
    for cs in _statuses(pod):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = str(waiting.get("reason") or "")
        if reason == "CrashLoopBackOff":
            restarts = cs.get("restartCount", 0)
            return Activity(
                "crash",
                f"CrashLoopBackOff: {_crash_reason(cs)} ({name}{on}, {restarts} restarts)",
            )
        if reason in _PULL_FAILURES:
            message = _first_line(waiting.get("message")) or f"cannot pull {cs.get('image')}"
            return Activity("pull-failed", f"{reason}{on}: {message}")
    pulling = pulls_in_progress(events, name, now)
    if pulling:
        image, seconds = max(pulling, key=lambda p: p[1])
        return Activity(
            "pulling", f'Pulling image "{image}"{on} ({seconds:.0f} s)', pulling_for=seconds
        )
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            why = _first_line(cond.get("message")) or cond.get("reason") or "not scheduled"
            return Activity("unschedulable", f"{cond.get('reason') or 'Unschedulable'}: {why}")
    if status.get("phase") == "Running":
        if pod_ready(pod):
            return None
        return Activity("not-ready", f"{name}{on} is running, not Ready yet")
    if status.get("phase") in ("Succeeded", "Failed"):
        return Activity("crash", f"{name}{on} {str(status.get('phase')).lower()}")
    for cs in _statuses(pod):
        starting = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
        if starting:
            return Activity("starting", f"{name}{on}: {starting}")
    return Activity("starting", f"{name}{on}: {status.get('phase') or 'Pending'}")


def activity(
    pods: Sequence[Mapping[str, Any]], events: Sequence[Mapping[str, Any]], now: datetime
) -> Activity | None:
    """The most telling activity among `pods` (None: all Ready, or no pod yet)."""
    found = [a for a in (pod_activity(p, events, now) for p in pods) if a is not None]
    if not found:
        return None
    return min(found, key=lambda a: (_RANK[a.kind], -(a.pulling_for or 0.0)))


def wait_line(
    what: str,
    pods: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
    now: datetime,
    elapsed: float,
) -> str:
    """One line for a wait in progress: what is awaited, for how long, what the pods do."""
    ready = sum(1 for p in pods if pod_ready(p))
    head = f"{what}: {ready}/{len(pods)} pods ready" if pods else f"{what}: no pod yet"
    doing = activity(pods, events, now)
    tail = f"; {doing.line}" if doing is not None else ""
    return f"{head} ({elapsed:.0f} s){tail}"
