"""Istio objects as the API server holds them, for the mesh tests' fake API server."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from fakes.fake_apiserver import FakeApiServer
from helpers import CRDS

from harness.kube.objects import Manifest
from harness.mesh.gateway_api import load_bundle

REPO = Path(__file__).resolve().parents[2]
GATEWAY_BUNDLE = (
    Path(os.environ.get("AMBIENT_HARNESS_CRD_DIR", CRDS)) / "gateway-api-v1.5.1-experimental.yaml"
)
ISTIO = "istio-system"


@functools.cache
def gateway_bundle() -> tuple[Manifest, ...]:
    """The documents of GATEWAY_BUNDLE, parsed once per process (1.3 MB of YAML, a tenth of a
    second each time). Shared by every test: copy a document before changing it."""
    return tuple(load_bundle(GATEWAY_BUNDLE))  # install_gateway_api's memo: parsed once


def meta(name: str, ns: str | None = None, **labels: str) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "labels": labels}
    if ns:
        m["namespace"] = ns
    return m


def add_ns(api: FakeApiServer, name: str) -> None:
    api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": meta(name)})


ALPHA_ON = [{"name": "PILOT_ENABLE_ALPHA_GATEWAY_API", "value": "true"}]


def istiod(
    image: str = "docker.io/istio/pilot:1.30.3-distroless",
    env: list[dict[str, str]] | None = None,
    **labels: str,
) -> dict:
    discovery = {"name": "discovery", "image": image, "env": ALPHA_ON if env is None else env}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {**meta("istiod", ISTIO, app="istiod", **labels), "generation": 1},
        "spec": {"template": {"spec": {"containers": [discovery]}}},
        "status": {
            "observedGeneration": 1,
            "replicas": 1,
            "updatedReplicas": 1,
            "readyReplicas": 1,
            "availableReplicas": 1,
            "conditions": [{"type": "Available", "status": "True"}],
        },
    }


def daemonset(name: str, ready: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {**meta(name, ISTIO), "generation": 1},
        "status": {
            "observedGeneration": 1,
            "desiredNumberScheduled": 2,
            "numberReady": ready,
            "updatedNumberScheduled": 2,
        },
    }


def waypoint_class() -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": meta("istio-waypoint"),
        "spec": {"controllerName": "istio.io/mesh"},
    }


def seed_ready_istio(api: FakeApiServer, *, with_istiod: bool = True) -> None:
    add_ns(api, ISTIO)
    if with_istiod:
        api.add(istiod())
    api.add(daemonset("istio-cni-node"))
    api.add(daemonset("ztunnel"))
    api.add(waypoint_class())


def app_pod(
    ns: str,
    name: str,
    *,
    containers: tuple[str, ...] = ("app",),
    init: tuple[str, ...] = (),
    phase: str = "Running",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    ready: bool = True,
) -> dict[str, Any]:
    ready_condition = {"type": "Ready", "status": "True" if ready else "False"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": labels or {},
            "annotations": annotations or {},
        },
        "spec": {
            "nodeName": "n1",
            "containers": [{"name": c} for c in containers],
            "initContainers": [{"name": c} for c in init],
        },
        "status": {"phase": phase, "conditions": [ready_condition]},
    }


def becomes_ready_on(read: int) -> Any:
    """A read hook: from the `read`-th read on, the pod is Ready (the kubelet's work)."""

    def hook(obj: dict[str, Any], n: int) -> None:
        if n >= read:
            obj["status"]["conditions"] = [{"type": "Ready", "status": "True"}]

    return hook
