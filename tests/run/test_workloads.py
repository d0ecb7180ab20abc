"""Workload manifests: identities, labels, security, probes, the agent ConfigMap, Services."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.host.versions import AGENT_IMAGE
from harness.model.scenario import load_scenario
from harness.model.topology import AGENT_PORT, topology
from harness.run import workloads
from harness.run.workloads import (
    AGENT_PATH,
    DRAIN_S,
    PRESTOP_S,
    READY_FILE,
    STARTUP_WAIT_SCRIPT,
    agent_source,
    workload_manifests,
)

REPO = Path(__file__).resolve().parents[2]
SCENARIO = """\
name: wl
title: t
description: d
dataplane: ambient
namespaces:
  - name: wl
  - name: wl-other
    dataplane: sidecar
backends:
  - service: reviews
    versions: [v1, v2]
  - service: ratings
    namespace: wl-other
    port: 8080
    replicas: 2
clients:
  - name: productpage
  - name: outsider
    namespace: wl-other
    service_account: custom-sa
steps:
  - name: s
    title: s
    probes:
      - from: productpage
        url: http://reviews:9080/
        expect: allowed
"""


@pytest.fixture
def objects(tmp_path: Path) -> list[dict[str, Any]]:
    d = tmp_path / "wl"
    d.mkdir()
    (d / "scenario.yaml").write_text(SCENARIO)
    return workload_manifests(topology(load_scenario(d)))


def by(objects: list[dict[str, Any]], kind: str, ns: str, name: str) -> dict[str, Any]:
    for o in objects:
        m = o["metadata"]
        if o["kind"] == kind and m["namespace"] == ns and m["name"] == name:
            return o
    raise AssertionError(f"no {kind} {ns}/{name} in {[workloads.describe(o) for o in objects]}")


def pod(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


def test_inventory_and_apply_order(objects: list[dict[str, Any]]) -> None:
    names = [workloads.describe(o) for o in objects]
    assert names == [
        "ServiceAccount wl/bookinfo-productpage",
        "ServiceAccount wl-other/custom-sa",
        "ServiceAccount wl/bookinfo-reviews",
        "ServiceAccount wl-other/bookinfo-ratings",
        "ConfigMap wl/ambient-harness-agent",
        "ConfigMap wl-other/ambient-harness-agent",
        "Service wl/reviews",
        "Service wl-other/ratings",
        "Service wl/reviews-v1",
        "Service wl/reviews-v2",
        "Service wl-other/ratings-v1",
        "Deployment wl/reviews-v1",
        "Deployment wl/reviews-v2",
        "Deployment wl-other/ratings-v1",
        "Deployment wl/agent-productpage",
        "Deployment wl-other/agent-outsider",
    ]
    # Round-trips through YAML and JSON: what a server-side apply sends.
    assert yaml.safe_load(yaml.safe_dump_all(objects[:1])) == objects[0]
    json.dumps(objects)


def test_configmap_holds_the_agent_source(objects: list[dict[str, Any]]) -> None:
    cm = by(objects, "ConfigMap", "wl", "ambient-harness-agent")
    source = cm["data"]["agent.py"]
    assert source == (REPO / "harness" / "inpod" / "agent.py").read_text()
    assert source == agent_source()
    # The in-pod program must not depend on the package it ships in.
    imports = [
        n for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.Import, ast.ImportFrom))
    ]
    modules = [a.name for n in imports if isinstance(n, ast.Import) for a in n.names]
    modules += [n.module or "" for n in imports if isinstance(n, ast.ImportFrom)]
    assert modules and not [m for m in modules if m.split(".")[0] == "harness"]


def test_agent_deployment(objects: list[dict[str, Any]]) -> None:
    dep = by(objects, "Deployment", "wl-other", "agent-outsider")
    assert dep["spec"]["selector"]["matchLabels"] == {"app": "agent-outsider"}
    assert dep["spec"]["template"]["metadata"]["labels"]["app"] == "agent-outsider"
    spec = pod(dep)
    assert spec["serviceAccountName"] == "custom-sa"
    (c,) = spec["containers"]
    assert c["image"] == AGENT_IMAGE.ref == "python:3.12-slim"
    assert c["command"] == [
        "python",
        AGENT_PATH,
        "proxy",
        "--listen",
        f"127.0.0.1:{AGENT_PORT}",
        "--ready-file",
        READY_FILE,
        "--drain-timeout",
        str(DRAIN_S),
    ]
    env = {e["name"]: e for e in c["env"]}
    assert env["PYTHONDONTWRITEBYTECODE"]["value"] == "1"
    assert env["PYTHONUNBUFFERED"]["value"] == "1"
    # The kubelet cannot reach a loopback-only listener, and a Python interpreter per probe
    # is too dear: readiness tests for the file the agent writes once listening.
    probe = c["readinessProbe"]
    assert "httpGet" not in probe
    assert probe["exec"]["command"] == ["test", "-f", READY_FILE]
    assert c["startupProbe"]["exec"]["command"] == ["sh", "-c", STARTUP_WAIT_SCRIPT]
    assert "python" not in json.dumps([probe, c["startupProbe"]])
    assert c["volumeMounts"] == [
        {"name": "agent", "mountPath": "/agent", "readOnly": True},
        {"name": "state", "mountPath": "/run/ambient-harness"},
    ]
    assert READY_FILE.startswith("/run/ambient-harness/")
    assert spec["volumes"][0]["configMap"]["name"] == "ambient-harness-agent"
    assert spec["volumes"][1] == {
        "name": "state",
        "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"},
    }
    # The grace period covers the drain; nothing routes to an agent, so no preStop pause.
    assert "lifecycle" not in c
    assert spec["terminationGracePeriodSeconds"] > DRAIN_S


@pytest.mark.parametrize("name", ["agent-productpage", "reviews-v1", "ratings-v1"])
def test_security_context_and_resources(objects: list[dict[str, Any]], name: str) -> None:
    dep = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == name)
    spec = pod(dep)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 65534
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    (c,) = spec["containers"]
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] == 65534
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert c["resources"]["requests"] == {"cpu": "10m", "memory": "32Mi"}
    assert c["resources"]["limits"] == {"memory": "128Mi"}


def test_echo_deployment(objects: list[dict[str, Any]]) -> None:
    dep = by(objects, "Deployment", "wl-other", "ratings-v1")
    assert dep["spec"]["replicas"] == 2
    labels = {"app": "ratings", "version": "v1"}
    assert dep["spec"]["selector"]["matchLabels"] == labels
    assert labels.items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    spec = pod(dep)
    assert spec["serviceAccountName"] == "bookinfo-ratings"
    (c,) = spec["containers"]
    assert c["command"] == [
        "python",
        AGENT_PATH,
        "echo",
        "--listen",
        "0.0.0.0:8080",
        "--service",
        "ratings",
        "--version",
        "v1",
        "--ready-file",
        READY_FILE,
        "--drain-timeout",
        str(DRAIN_S),
    ]
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["startupProbe"]["exec"]["command"] == ["sh", "-c", STARTUP_WAIT_SCRIPT]
    # Keeps serving while the mesh learns the pod is going, then drains: the grace covers both.
    assert c["lifecycle"] == {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_S)]}}}
    assert spec["terminationGracePeriodSeconds"] > PRESTOP_S + DRAIN_S
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"


def test_services_per_backend_and_per_version(objects: list[dict[str, Any]]) -> None:
    svc = by(objects, "Service", "wl", "reviews")
    assert svc["spec"]["selector"] == {"app": "reviews"}
    (port,) = svc["spec"]["ports"]
    # Istio treats the port as HTTP because of its name and appProtocol.
    assert port == {
        "name": "http",
        "port": 9080,
        "targetPort": "http",
        "protocol": "TCP",
        "appProtocol": "http",
    }
    v2 = by(objects, "Service", "wl", "reviews-v2")
    assert v2["spec"]["selector"] == {"app": "reviews", "version": "v2"}
    assert by(objects, "Service", "wl-other", "ratings")["spec"]["ports"][0]["port"] == 8080


def test_service_accounts_are_unique_and_tokenless(objects: list[dict[str, Any]]) -> None:
    sas = [o for o in objects if o["kind"] == "ServiceAccount"]
    keys = [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in sas]
    assert len(keys) == len(set(keys))
    assert all(o["automountServiceAccountToken"] is False for o in sas)


def test_agent_change_rolls_the_pods(tmp_path: Path) -> None:
    d = tmp_path / "wl"
    d.mkdir()
    (d / "scenario.yaml").write_text(SCENARIO)
    topo = topology(load_scenario(d))
    a = workload_manifests(topo, source="print(1)\n")
    b = workload_manifests(topo, source="print(2)\n")

    def digest(objs: list[dict[str, Any]]) -> str:
        dep = next(o for o in objs if o["kind"] == "Deployment")
        value: str = dep["spec"]["template"]["metadata"]["annotations"][
            workloads.SOURCE_DIGEST_ANNOTATION
        ]
        return value

    assert digest(a) != digest(b)


def _in(directory: Path, words: list[str]) -> list[str]:
    """A probe command with READY_FILE moved into `directory` (not /run on this machine)."""
    return [w.replace(READY_FILE, str(directory / "ready")) for w in words]


def _agent_with_ready_file(directory: Path) -> subprocess.Popen[str]:
    # -S: stdlib only, as in its pod (the virtualenv's .pth files are a tenth of its start-up).
    argv = [sys.executable, "-S", str(REPO / "harness" / "inpod" / "agent.py"), "proxy"]
    argv += ["--listen", "127.0.0.1:0", "--ready-file", str(directory / "ready")]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)


def test_startup_and_readiness_probes_against_a_real_agent(
    objects: list[dict[str, Any]], tmp_path: Path
) -> None:
    (c,) = pod(by(objects, "Deployment", "wl", "agent-productpage"))["containers"]
    startup = _in(tmp_path, c["startupProbe"]["exec"]["command"])
    readiness = _in(tmp_path, c["readinessProbe"]["exec"]["command"])
    assert subprocess.run(readiness, check=False, timeout=10).returncode != 0  # not yet
    # The startup probe runs before the agent listens: it waits, it does not fail.
    waiting = subprocess.Popen(startup)
    agent = _agent_with_ready_file(tmp_path)
    try:
        assert agent.stdout is not None
        assert "listening on 127.0.0.1:" in agent.stdout.readline()
        assert waiting.wait(timeout=20) == 0
        assert subprocess.run(readiness, check=False, timeout=10).returncode == 0
    finally:
        agent.terminate()
        agent.communicate(timeout=10)  # reaps it and closes its stdout pipe
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    # SIGTERM removed the file: not ready any more.
    assert agent.returncode == 0
    assert subprocess.run(readiness, check=False, timeout=10).returncode != 0


def test_startup_probe_gives_up_within_its_timeout(
    objects: list[dict[str, Any]], tmp_path: Path
) -> None:
    (c,) = pod(by(objects, "Deployment", "wl", "agent-productpage"))["containers"]
    startup = c["startupProbe"]
    # Fewer rounds than its timeout allows, so the kubelet sees exit 1, not a timeout.
    script = _in(tmp_path, startup["exec"]["command"])
    script[2] = script[2].replace(f"-gt {workloads.STARTUP_WAIT_S * 10}", "-gt 2")
    assert subprocess.run(script, check=False, timeout=10).returncode == 1
    assert startup["timeoutSeconds"] > workloads.STARTUP_WAIT_S
