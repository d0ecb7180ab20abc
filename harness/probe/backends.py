"""Was the backend there? A denied-l4 while the probed Service's backend restarts is not a
mesh decision.

A connection cut while its echo pod is being replaced ends as `eof`/`reset`, exactly what a
ztunnel denial looks like (issue: a request in flight when its echo pod was deleted came
back `denied-l4 (eof)`). So a denied-l4 observed while a pod behind the probed Service is
not Ready (terminating, starting, or none at all) raises `BackendRestarting`: the harness
did not observe the mesh, and the probe says why instead of naming ztunnel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from harness.errors import HarnessError
from harness.kube.client import Kube
from harness.kube.objects import service_ref
from harness.kube.status import pod_ready
from harness.model.outcome import Kind, Outcome


class BackendRestarting(HarnessError):
    """A denied-l4 was observed while a backend of the probed Service was not Ready."""


class BackendReadiness(Protocol):
    """Whether the backends of the Service a probe URL names are all Ready."""

    def not_ready(self, url: str) -> str | None:
        """Why not (e.g. `ratings-v1-5d8f9-x1 Terminating`), or None when all are Ready or
        the URL names no Service this can look up."""
        ...


def service_of(url: str, default_namespace: str) -> tuple[str, str] | None:
    """(namespace, Service) named by a probe URL's host: `svc`, `svc.ns`, `svc.ns.svc[...]`.

    An IP address or an external name is no Service: None.
    """
    host = urlsplit(url).hostname or ""
    labels = host.split(".")
    if not labels[0] or labels[0].isdigit() or ":" in host:
        return None
    if len(labels) == 1:
        return default_namespace, labels[0]
    if len(labels) == 2 or labels[2] == "svc":
        return labels[1], labels[0]
    return None


def describe_not_ready(pod: Mapping[str, Any]) -> str:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    name = meta.get("name", "?")
    if meta.get("deletionTimestamp"):
        return f"{name} Terminating"
    return f"{name} {status.get('phase', '?')} (not Ready)"


@dataclass
class KubeBackendReadiness:
    """`BackendReadiness` from the Service's selector and its pods' Ready condition."""

    kube: Kube
    default_namespace: str  # the client's namespace: where a short name resolves

    def not_ready(self, url: str) -> str | None:
        found = service_of(url, self.default_namespace)
        if found is None:
            return None
        namespace, name = found
        service = self.kube.get(service_ref(namespace, name))
        selector = ((service or {}).get("spec") or {}).get("selector")
        if not selector:
            return None  # no such Service, or one without a selector: nothing to judge by
        labels = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        pods = self.kube.pods(namespace, labels)
        if not pods:
            return f"no pod of Service {namespace}/{name}"
        waiting = [describe_not_ready(p) for p in pods if not pod_ready(p)]
        return ", ".join(waiting) if waiting else None


def check_backends(
    backends: BackendReadiness | None, url: str, outcomes: Sequence[Outcome]
) -> None:
    """Raise `BackendRestarting` if any outcome is a denied-l4 while a backend is not Ready."""
    if backends is None:
        return
    denied = [o for o in outcomes if o.kind is Kind.DENIED_L4]
    if not denied:
        return
    why = backends.not_ready(url)
    if why is not None:
        raise BackendRestarting(
            f"{denied[0].describe()} while a backend was not Ready ({why}): "
            "backend restarting, not a ztunnel decision"
        )
