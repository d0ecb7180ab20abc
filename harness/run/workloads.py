"""Manifests for the workloads a scenario runs: agents (client identities) and echo backends.

Everything runs the same stdlib-only `agent.py` from a ConfigMap in `python:*-slim`, so there
is no image to build and pods start in about a second. Objects are plain dicts, ready for a
server-side apply; the order of `workload_manifests` is an order the API server accepts
(ServiceAccounts and the ConfigMap before the Deployments that reference them).

Nothing here is mesh-specific: ambient enrollment and sidecar injection both come from the
namespace labels, which the runner sets before any pod starts (injection only happens at pod
creation). Waypoints are Gateways and come from `harness.mesh.waypoints`.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Iterable
from importlib import resources
from typing import Any, Final

from harness.host.versions import AGENT_IMAGE
from harness.model.topology import AGENT_PORT, AgentPlan, EchoPlan, Topology

Manifest = dict[str, Any]

AGENT_CONFIGMAP: Final = "ambient-harness-agent"
AGENT_KEY: Final = "agent.py"
AGENT_MOUNT: Final = "/agent"
AGENT_PATH: Final = f"{AGENT_MOUNT}/{AGENT_KEY}"
MANAGED_BY: Final = {"app.kubernetes.io/managed-by": "ambient-harness"}
SOURCE_DIGEST_ANNOTATION: Final = "ambient-harness/agent-sha256"
NOBODY: Final = 65534  # the conventional unprivileged uid/gid; python:*-slim has no other user
PORT_NAME: Final = "http"  # Istio picks the protocol from the port name / appProtocol

# Readiness without a Python interpreter per probe: both programs write READY_FILE once their
# socket listens (and remove it on SIGTERM) into a small in-memory emptyDir, since the root
# filesystem is read-only. The agent binds 127.0.0.1 on purpose (never an open proxy), which
# the kubelet's httpGet cannot reach, so its readiness is `test -f` (a coreutils binary in
# python:*-slim). The startup probe waits for the file inside one exec, so a probe that runs
# before the program listens waits instead of failing (no "Readiness probe failed" event).
STATE_DIR: Final = "/run/ambient-harness"
READY_FILE: Final = f"{STATE_DIR}/ready"
STARTUP_WAIT_S: Final = 5  # one startup exec waits this long for the file
STARTUP_WAIT_SCRIPT: Final = (
    f"i=0; while [ ! -f {READY_FILE} ]; do i=$((i+1)); "
    f"[ $i -gt {STARTUP_WAIT_S * 10} ] && exit 1; sleep 0.1; done"
)
# Termination: the endpoints controller and the mesh stop sending new connections to a
# terminating pod only after a moment, so echo keeps serving for PRESTOP_S before its SIGTERM;
# then both programs drain (answer what is in flight) for up to DRAIN_S. The grace period
# covers both, with a margin for the interpreter to exit.
PRESTOP_S: Final = 3
DRAIN_S: Final = 10
EXIT_MARGIN_S: Final = 2

RESOURCES: Final = {
    "requests": {"cpu": "10m", "memory": "32Mi"},
    # No CPU limit: throttling would show up as probe latency, which scenarios measure.
    "limits": {"memory": "128Mi"},
}


def agent_source() -> str:
    """The text of harness/inpod/agent.py as shipped in the package (mounted into every pod)."""
    return resources.files("harness.inpod").joinpath(AGENT_KEY).read_text(encoding="utf-8")


def source_digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _meta(name: str, namespace: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {**(labels or {}), **MANAGED_BY}}


def agent_configmap(namespace: str, source: str | None = None) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(AGENT_CONFIGMAP, namespace),
        "data": {AGENT_KEY: agent_source() if source is None else source},
    }


def service_account(name: str, namespace: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(name, namespace),
        # Neither the agent nor echo talks to the API server; Istio's sidecar uses its own
        # projected token and ambient's ztunnel its own, so the pod token is not needed.
        "automountServiceAccountToken": False,
    }


def _container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": NOBODY,
        "runAsGroup": NOBODY,
        "capabilities": {"drop": ["ALL"]},
    }


def _pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": NOBODY,
        "runAsGroup": NOBODY,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _env(extra: Iterable[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    # No .pyc on a read-only FS; unbuffered so `kubectl logs` shows lines as they happen.
    return [
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        *extra,
    ]


def _downward_env() -> list[dict[str, Any]]:
    return [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]


def _pod_spec(
    service_account_name: str, container: dict[str, Any], *, grace_s: int
) -> dict[str, Any]:
    return {
        "serviceAccountName": service_account_name,
        "automountServiceAccountToken": False,
        "securityContext": _pod_security(),
        # Covers the preStop pause and the drain; an idle program exits at once on SIGTERM,
        # so namespace deletion is not slowed by it.
        "terminationGracePeriodSeconds": grace_s,
        "containers": [container],
        "volumes": [
            {
                "name": "agent",
                "configMap": {"name": AGENT_CONFIGMAP, "defaultMode": 0o444},
            },
            {"name": "state", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
        ],
    }


def _startup_probe() -> dict[str, Any]:
    return {
        "exec": {"command": ["sh", "-c", STARTUP_WAIT_SCRIPT]},
        "periodSeconds": 1,
        "timeoutSeconds": STARTUP_WAIT_S + 2,
        # A failed startup probe restarts the container: allow a slow node a few minutes.
        "failureThreshold": 30,
    }


def _lifecycle_args() -> list[str]:
    return ["--ready-file", READY_FILE, "--drain-timeout", str(DRAIN_S)]


def _deployment(
    name: str,
    namespace: str,
    labels: dict[str, str],
    replicas: int,
    pod_spec: dict[str, Any],
    digest: str,
) -> Manifest:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, namespace, labels),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {
                    "labels": {**labels, **MANAGED_BY},
                    # A changed agent.py changes the template, so pods roll on re-apply.
                    "annotations": {SOURCE_DIGEST_ANNOTATION: digest},
                },
                "spec": pod_spec,
            },
        },
    }


def _mount() -> list[dict[str, Any]]:
    return [
        {"name": "agent", "mountPath": AGENT_MOUNT, "readOnly": True},
        {"name": "state", "mountPath": STATE_DIR},
    ]


def agent_labels(plan: AgentPlan) -> dict[str, str]:
    return {"app": plan.deployment}


def agent_deployment(plan: AgentPlan, *, digest: str, image: str = AGENT_IMAGE.ref) -> Manifest:
    """Deployment `agent-<client>`: the forward proxy, bound to the pod's loopback only."""
    container = {
        "name": "agent",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": agent_command(),
        "env": _env(_downward_env()),
        "ports": [{"name": "agent", "containerPort": AGENT_PORT, "protocol": "TCP"}],
        "startupProbe": _startup_probe(),
        "readinessProbe": {
            "exec": {"command": ["test", "-f", READY_FILE]},
            "periodSeconds": 2,
            "timeoutSeconds": 2,
            "failureThreshold": 2,
        },
        "resources": RESOURCES,
        "securityContext": _container_security(),
        "volumeMounts": _mount(),
    }
    return _deployment(
        plan.deployment,
        plan.namespace,
        agent_labels(plan),
        1,
        # No preStop pause: nothing routes to an agent, the harness port-forwards to it.
        _pod_spec(plan.service_account, container, grace_s=DRAIN_S + EXIT_MARGIN_S),
        digest,
    )


def echo_labels(plan: EchoPlan) -> dict[str, str]:
    return {"app": plan.service, "version": plan.version}


def echo_command(plan: EchoPlan) -> list[str]:
    return [
        "python",
        AGENT_PATH,
        "echo",
        "--listen",
        f"0.0.0.0:{plan.port}",
        "--service",
        plan.service,
        "--version",
        plan.version,
        *_lifecycle_args(),
    ]


def agent_command() -> list[str]:
    return [
        "python",
        AGENT_PATH,
        "proxy",
        "--listen",
        f"127.0.0.1:{AGENT_PORT}",
        *_lifecycle_args(),
    ]


def echo_deployment(plan: EchoPlan, *, digest: str, image: str = AGENT_IMAGE.ref) -> Manifest:
    """Deployment `<service>-<version>`: the echo backend, on the named `http` port."""
    container = {
        "name": "echo",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": echo_command(plan),
        "env": _env(_downward_env()),
        "ports": [{"name": PORT_NAME, "containerPort": plan.port, "protocol": "TCP"}],
        # Echo answers any path; sidecar injection rewrites this probe through pilot-agent,
        # ambient exempts kubelet probes from capture, so it works in every mode.
        "startupProbe": _startup_probe(),
        "readinessProbe": {
            "httpGet": {"path": "/healthz", "port": PORT_NAME},
            "periodSeconds": 2,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        },
        # Keeps serving while the mesh learns that the pod is going (exec: works on any
        # Kubernetes version, unlike the newer `sleep` action).
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_S)]}}},
        "resources": RESOURCES,
        "securityContext": _container_security(),
        "volumeMounts": _mount(),
    }
    return _deployment(
        plan.deployment,
        plan.namespace,
        echo_labels(plan),
        plan.replicas,
        _pod_spec(plan.service_account, container, grace_s=PRESTOP_S + DRAIN_S + EXIT_MARGIN_S),
        digest,
    )


def _service(name: str, namespace: str, selector: dict[str, str], port: int) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, namespace, {"app": selector["app"]}),
        "spec": {
            "selector": dict(selector),
            "ports": [
                {
                    # Name prefix `http` and appProtocol both tell Istio this port is HTTP,
                    # so sidecars and waypoints parse it at L7 instead of proxying TCP.
                    "name": PORT_NAME,
                    "port": port,
                    "targetPort": PORT_NAME,
                    "protocol": "TCP",
                    "appProtocol": "http",
                }
            ],
        },
    }


def echo_services(echoes: Iterable[EchoPlan]) -> list[Manifest]:
    """`<service>` over all versions, then `<service>-<version>` per version (route targets)."""
    plans = list(echoes)
    out: list[Manifest] = []
    seen: set[tuple[str, str]] = set()
    for e in plans:
        key = (e.namespace, e.service)
        if key not in seen:
            seen.add(key)
            out.append(_service(e.service, e.namespace, {"app": e.service}, e.port))
    for e in plans:
        out.append(_service(e.version_service, e.namespace, echo_labels(e), e.port))
    return out


def service_accounts(topo: Topology) -> list[Manifest]:
    pairs: list[tuple[str, str]] = []
    for ns, sa in [(a.namespace, a.service_account) for a in topo.agents] + [
        (e.namespace, e.service_account) for e in topo.echoes
    ]:
        if (ns, sa) not in pairs:
            pairs.append((ns, sa))
    return [service_account(sa, ns) for ns, sa in pairs]


def workload_namespaces(topo: Topology) -> list[str]:
    """Namespaces that run agent or echo pods (each needs the agent ConfigMap)."""
    names: list[str] = []
    for ns in [a.namespace for a in topo.agents] + [e.namespace for e in topo.echoes]:
        if ns not in names:
            names.append(ns)
    return names


def workload_manifests(
    topo: Topology, *, source: str | None = None, image: str = AGENT_IMAGE.ref
) -> list[Manifest]:
    """Every object for the scenario's agents and backends, in an order safe to apply."""
    text = agent_source() if source is None else source
    digest = source_digest(text)
    out = service_accounts(topo)
    out += [agent_configmap(ns, text) for ns in workload_namespaces(topo)]
    out += echo_services(topo.echoes)
    out += [echo_deployment(e, digest=digest, image=image) for e in topo.echoes]
    out += [agent_deployment(a, digest=digest, image=image) for a in topo.agents]
    return out


def deployments(topo: Topology) -> list[tuple[str, str]]:
    """(namespace, name) of every Deployment, for waiting on Available."""
    return [(e.namespace, e.deployment) for e in topo.echoes] + [
        (a.namespace, a.deployment) for a in topo.agents
    ]


def describe(manifest: Manifest) -> str:
    """`Kind namespace/name`, how the runner and dry run name an object."""
    meta = manifest.get("metadata", {})
    ns = meta.get("namespace")
    name = meta.get("name", "?")
    kind = manifest.get("kind", "?")
    return f"{kind} {ns}/{name}" if ns else f"{kind} {name}"


def command_line(manifest: Manifest) -> str:
    """The container command of a Deployment, quoted for display."""
    containers = manifest["spec"]["template"]["spec"]["containers"]
    return shlex.join(containers[0]["command"])
