"""Builders for one-step scenarios that test one rule of the mesh model on real YAML (the
`predict_probes` fixture of conftest.py writes and predicts them)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from harness.predict import Prediction

NAME = "rules"
NS = "rules"

Predict = Callable[..., list[Prediction]]


def write_scenario(
    root: Path,
    *,
    dataplane: str = "ambient",
    manifests: list[dict[str, Any]] | None = None,
    probes: list[dict[str, Any]] | None = None,
    backends: list[dict[str, Any]] | None = None,
    clients: list[dict[str, Any]] | None = None,
    waypoints: list[dict[str, Any]] | None = None,
    namespaces: list[dict[str, Any]] | None = None,
) -> Path:
    directory = root / NAME
    (directory / "manifests").mkdir(parents=True)
    apply = []
    for i, doc in enumerate(manifests or []):
        doc.setdefault("metadata", {}).setdefault("namespace", NS)
        rel = f"manifests/m{i}.yaml"
        (directory / rel).write_text(yaml.safe_dump(doc), encoding="utf-8")
        apply.append(rel)
    step: dict[str, Any] = {"name": "only", "title": "t", "probes": probes or []}
    if apply:
        step["apply"] = apply
    scenario = {
        "name": NAME,
        "title": "rules",
        "description": "one rule of the model",
        "dataplane": dataplane,
        "namespaces": namespaces or [{"name": NS}],
        "backends": backends if backends is not None else [{"service": "ratings"}],
        "clients": clients or [{"name": "productpage"}, {"name": "reviews"}],
        "waypoints": waypoints or [],
        "steps": [step],
    }
    (directory / "scenario.yaml").write_text(yaml.safe_dump(scenario), encoding="utf-8")
    return directory


def probe(
    client: str = "productpage", url: str = "http://ratings:9080/ratings/1", **kw: Any
) -> dict[str, Any]:
    return {"from": client, "url": url, "expect": kw.pop("expect", "allowed"), **kw}


def policy(spec: dict[str, Any], name: str = "p", namespace: str = NS) -> dict[str, Any]:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def principal(sa: str) -> str:
    return f"cluster.local/ns/{NS}/sa/bookinfo-{sa}"
