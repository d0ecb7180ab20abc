"""Manifests and helpers the harness.kube tests share."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from helpers import CRDS

from harness.model.yaml_loaders import load_all_plain

REPO = Path(__file__).resolve().parents[2]
AUTHZ_L4 = REPO / "scenarios" / "ambient-authz-l4" / "manifests" / "ratings-allow-productpage.yaml"
AP_PATH = (
    "/apis/security.istio.io/v1/namespaces/ambient-authz-l4/authorizationpolicies/"
    "ratings-allow-productpage"
)


def ns_doc(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def obj(api_version: str, kind: str, name: str, ns: str | None = None, **extra: Any) -> dict:
    meta: dict[str, Any] = {"name": name}
    if ns is not None:
        meta["namespace"] = ns
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **extra}


def policy(name: str, ns: str = "demo") -> dict[str, Any]:
    return obj("security.istio.io/v1", "AuthorizationPolicy", name, ns, spec={"action": "ALLOW"})


def widget_crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }


def owned(kind: str, name: str, owner: dict[str, Any], api_version: str = "v1") -> dict[str, Any]:
    ref = {
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    o = obj(api_version, kind, name, "demo")
    o["metadata"]["ownerReferences"] = [ref]
    return o


def gateway(ns: str = "demo", name: str = "waypoint") -> dict[str, Any]:
    return obj(
        "gateway.networking.k8s.io/v1",
        "Gateway",
        name,
        ns,
        spec={"gatewayClassName": "istio-waypoint"},
    )


def event(name: str, about: str, reason: str, message: str, **when: str) -> dict[str, Any]:
    return {
        **obj("v1", "Event", name, "demo"),
        "type": when.pop("type", "Warning"),
        "reason": reason,
        "message": message,
        "involvedObject": {"kind": "Pod", "name": about},
        **when,
    }


def pod(
    ns: str,
    name: str,
    *,
    labels: dict[str, str] | None = None,
    containers: tuple[str, ...] = ("app",),
) -> dict[str, Any]:
    p = obj(
        "v1",
        "Pod",
        name,
        ns,
        spec={"nodeName": "n1", "containers": [{"name": c} for c in containers]},
    )
    p["metadata"]["labels"] = labels or {}
    p["status"] = {"phase": "Running"}
    return p


def real_crd(kind: str) -> dict[str, Any]:
    """The pinned Istio CRD of `kind`, as the real server would serve its schema.

    Only the bundle's documents that name `kind` are parsed (the whole bundle is ~0.06 s)."""
    bundle = (CRDS / "istio-1.30.3-crd-all.gen.yaml").read_text(encoding="utf-8")
    named = re.compile(rf"^\s+kind: {re.escape(kind)}$", re.MULTILINE)
    for part in re.split(r"^---$", bundle, flags=re.MULTILINE):
        if not named.search(part):
            continue
        for d in load_all_plain(part):  # the safe loader's documents
            crd = d and d.get("kind") == "CustomResourceDefinition"
            if crd and d["spec"]["names"]["kind"] == kind:
                return d
    raise KeyError(f"no CustomResourceDefinition of kind {kind} in the Istio bundle")


# --- fields owned by other field managers (issue 11 item 11) --------------------------------


def gateway_class(description: str) -> dict[str, Any]:
    return obj(
        "gateway.networking.k8s.io/v1",
        "GatewayClass",
        "istio-waypoint",
        spec={"controllerName": "istio.io/mesh-controller", "description": description},
    )


ONE_OF = 'spec: Invalid value: "object": only one of targetRefs or selector can be set'
