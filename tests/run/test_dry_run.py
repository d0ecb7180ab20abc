"""`ambient-harness run --dry-run`: every action of a live run, in order, touching nothing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import CRDS

from harness.cli import main as cli
from harness.host import versions
from harness.lint import crds
from harness.model.topology import AGENT_PORT

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No subprocess, no socket: a dry run that tried either would fail loudly."""

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"dry run started a process: {args}")

    def no_network(self: socket.socket, *args: object) -> None:
        raise AssertionError(f"dry run opened a connection: {args}")

    monkeypatch.setattr(subprocess, "Popen", no_subprocess)
    monkeypatch.setattr(subprocess, "run", no_subprocess)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    cache = tmp_path / "cache"
    monkeypatch.setenv("AMBIENT_HARNESS_CACHE", str(cache))
    for tool in ("KIND", "KUBECTL", "ISTIOCTL"):
        monkeypatch.delenv(f"AMBIENT_HARNESS_{tool}", raising=False)
    monkeypatch.chdir(REPO)
    return cache


def downloaded(cache: Path) -> list[Path]:
    """What landed in the cache besides lint's parsed-schema index (a dry run lints first)."""
    if not cache.exists():
        return []
    return [p for p in cache.rglob("*") if p.is_file() and "crd-index" not in p.parts]


def dry_run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["run", *args, "--dry-run"])
    out, err = capsys.readouterr()
    return code, out, err


def assert_in_order(text: str, *needles: str) -> None:
    at = 0
    for needle in needles:
        found = text.find(needle, at)
        assert found >= 0, f"{needle!r} not found after offset {at} in:\n{text}"
        at = found + len(needle)


def test_ambient_authz_l4_plan(
    capsys: pytest.CaptureFixture[str], offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(CRDS))
    code, out, err = dry_run(capsys, "scenarios/ambient-authz-l4")
    assert code == 0, err
    bin_dir = offline / "bin"
    kubeconfig = offline / "kind" / "ambient-harness" / "kubeconfig"
    kubectl = f"{bin_dir}/kubectl-{versions.KUBECTL_VERSION}"
    ns = "ambient-authz-l4"
    assert_in_order(
        out,
        "nothing is executed",
        # the cluster, with the pinned node image and the repository's kind config
        f"node {versions.NODE_IMAGE.ref}",
        f"run {bin_dir}/kind-{versions.KIND_VERSION} create cluster --name=ambient-harness "
        f"--kubeconfig={kubeconfig} --config {REPO / 'kind-config.yaml'}",
        f"run {kubectl} --kubeconfig {kubeconfig} --context kind-ambient-harness wait "
        "--for=condition=Ready nodes --all",
        # Gateway API CRDs, server-side, then Established
        f"apply Gateway API {versions.GATEWAY_API_VERSION} (experimental channel) from "
        f"{CRDS / versions.GATEWAY_API_CRDS.filename} (server-side, field manager "
        "ambient-harness",
        "wait CustomResourceDefinition ",
        ".gateway.networking.k8s.io: Established=True",
        # Istio, ambient profile, then readiness
        f"run {bin_dir}/istioctl-{versions.ISTIO_VERSION} install --set profile=ambient ",
        f"--skip-confirmation --kubeconfig {kubeconfig} --context kind-ambient-harness\n",
        "wait Deployment istio-system/istiod: Available=True",
        "wait DaemonSet istio-system/istio-cni-node: rolled out on every node",
        "wait DaemonSet istio-system/ztunnel: rolled out on every node",
        "wait GatewayClass istio-waypoint: present",
        # the scenario: namespace labelled before any workload
        f"scenario {ns} — ",
        f"namespace {ns} [istio.io/dataplane-mode=ambient]",
        f"apply ServiceAccount {ns}/bookinfo-productpage (server-side, field manager "
        "ambient-harness, preflight dryRun=All)",
        f"apply ConfigMap {ns}/ambient-harness-agent",
        f"apply Service {ns}/ratings ",
        f"apply Deployment {ns}/ratings-v1",
        f"apply Deployment {ns}/agent-productpage",
        f"wait Deployment {ns}/ratings-v1: Available=True",
        f"wait Deployment {ns}/agent-reviews: Available=True",
        f"check pods in {ns} annotated ambient.istio.io/redirection=enabled",
        f"port-forward for client productpage (cluster.local/ns/{ns}/sa/bookinfo-productpage): "
        f"{kubectl} --kubeconfig {kubeconfig} --context kind-ambient-harness port-forward "
        f"--address 127.0.0.1 -n {ns} pod/<ready pod of agent-productpage> :{AGENT_PORT}",
        "wait GET /healthz on the forwarded port: 200",
        # steps, probes and their expectations
        "step 1/2 baseline",
        "probe productpage -> GET http://ratings:9080/ratings/1: expect allowed, l7 false "
        "(3 in a row within 30s, polling every 0.1s)",
        "probe reviews -> GET http://ratings:9080/ratings/1: expect allowed, l7 false",
        "step 2/2 l4-policy",
        "preflight the step: server-side apply with dryRun=All of 1 object(s)",
        f"apply AuthorizationPolicy {ns}/ratings-allow-productpage (server-side, field manager "
        "ambient-harness, preflight dryRun=All)",
        "probe productpage -> GET http://ratings:9080/ratings/1: expect allowed (",
        "  the model predicts allowed (200, ratings-v1), l7 false, decided by the destination "
        f"ztunnel: AuthorizationPolicy {ns}/ratings-allow-productpage rules[0] allows "
        f"source.principal cluster.local/ns/{ns}/sa/bookinfo-productpage\n",
        "probe reviews -> GET http://ratings:9080/ratings/1: expect denied-l4 (3 in a row "
        "within 30s, polling every 0.1s, then holding for 2s)",
        # under each probe, who the mesh model says decides
        "  the model predicts denied-l4, decided by the destination ztunnel: "
        f"AuthorizationPolicy {ns}/ratings-allow-productpage (ALLOW): no rule matches "
        f"source.principal cluster.local/ns/{ns}/sa/bookinfo-reviews\n",
        # clean-up: namespaces, then port-forwards, then the cluster
        f"delete namespace {ns} (wait until gone)",
        "stop 2 port-forward(s)",
        "session teardown",
        f"if this run created the kind cluster: run {bin_dir}/kind-{versions.KIND_VERSION} "
        "delete cluster --name=ambient-harness",
    )
    # Nothing was downloaded or created.
    assert downloaded(offline) == []


def test_every_gateway_api_crd_is_awaited(
    capsys: pytest.CaptureFixture[str], offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(CRDS))
    _, out, _ = dry_run(capsys, "scenarios/ambient-authz-l4")
    for crd in ("gatewayclasses", "gateways", "httproutes", "tcproutes", "referencegrants"):
        assert (
            f"wait CustomResourceDefinition {crd}.gateway.networking.k8s.io: Established=True"
            in out
        )


def test_without_the_schemas_the_dry_run_refuses_and_names_the_fix(
    capsys: pytest.CaptureFixture[str],
    offline: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # The dry run lints first, and lint without the pinned CRD schemas cannot vouch for a
    # scenario: nothing is planned.
    monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(tmp_path / "no-crds"))
    code, out, err = dry_run(capsys, "scenarios/ambient-authz-l4")
    assert code == 2
    assert out == ""
    assert "ambient-harness schemas fetch" in err


def test_all_scenarios_by_default(capsys: pytest.CaptureFixture[str], offline: Path) -> None:
    code, out, _ = dry_run(capsys)
    assert code == 0
    names = sorted(p.parent.name for p in (REPO / "scenarios").glob("*/scenario.yaml"))
    assert names
    for name in names:
        assert f"\nscenario {name} — " in out
    # One session for all of them.
    assert out.count("session set-up") == 1
    assert out.count("create cluster") == 1


def test_sidecar_namespace_is_labelled_for_injection(
    capsys: pytest.CaptureFixture[str], offline: Path
) -> None:
    code, out, _ = dry_run(capsys, "scenarios/sidecar-authz-l4")
    assert code == 0
    assert_in_order(
        out,
        "namespace sidecar-authz-l4 [istio-injection=enabled]",
        "apply Deployment sidecar-authz-l4/agent-",
        "check pods in sidecar-authz-l4 have the istio-proxy sidecar",
    )


def test_waypoint_users_are_labelled_only_once_its_proxy_is_ready(
    capsys: pytest.CaptureFixture[str], offline: Path
) -> None:
    code, out, _ = dry_run(capsys, "scenarios/ambient-traffic-shift")
    assert code == 0
    assert_in_order(
        out,
        "apply Gateway ambient-traffic-shift/waypoint (class istio-waypoint, for service;",
        "wait Gateway ambient-traffic-shift/waypoint: Programmed=True",
        "wait a pod in ambient-traffic-shift with gateway.networking.k8s.io/gateway-name="
        "waypoint: Ready",
        "label Service ambient-traffic-shift/reviews: istio.io/use-waypoint=waypoint",
        "port-forward for client productpage",
    )


def test_existing_cluster_plan(capsys: pytest.CaptureFixture[str], offline: Path) -> None:
    code, out, err = dry_run(
        capsys, "scenarios/ambient-authz-l4", "--kube-context", "prod", "--kubeconfig", "/k/config"
    )
    assert code == 0, err
    assert "create cluster" not in out
    assert "cluster: existing cluster, context 'prod' of /k/config" in out
    assert "--skip-confirmation --kubeconfig /k/config --context prod" in out
    assert "--kubeconfig /k/config --context prod port-forward --address 127.0.0.1" in out
    assert "leave the existing cluster as it is" in out
    assert "delete cluster" not in out


def test_keep_flags(capsys: pytest.CaptureFixture[str], offline: Path) -> None:
    code, out, _ = dry_run(capsys, "scenarios/ambient-authz-l4", "--keep", "--keep-cluster")
    assert code == 0
    assert "delete namespace" not in out
    assert "keep namespaces of ambient-authz-l4 (--keep)" in out
    assert "keep kind cluster 'ambient-harness' (--keep-cluster)" in out
    assert "delete cluster" not in out


def test_conflicting_cluster_options(capsys: pytest.CaptureFixture[str], offline: Path) -> None:
    code, _, err = dry_run(
        capsys, "scenarios/ambient-authz-l4", "--cluster", "kind", "--kube-context", "x"
    )
    assert code == 2
    assert "--cluster=kind manages its own kubeconfig" in err


def test_unknown_scenario_path(
    capsys: pytest.CaptureFixture[str], offline: Path, tmp_path: Path
) -> None:
    code, _, err = dry_run(capsys, str(tmp_path / "nothing-here"))
    assert code == 2
    assert f"no scenario file, directory or name {tmp_path / 'nothing-here'}" in err


def test_run_without_a_cluster_explains_the_choices(
    capsys: pytest.CaptureFixture[str], offline: Path
) -> None:
    code = cli.main(["run", "scenarios/ambient-authz-l4"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "error: `run` needs a cluster" in err
    assert "--cluster kind" in err and "--context CONTEXT" in err and "--dry-run" in err


def test_the_command_line_works_with_nothing_on_path(tmp_path: Path) -> None:
    # No docker, kind, kubectl or istioctl anywhere: the dry run still prints the whole plan.
    # The parsed CRD index this machine already has is copied in (lint's cache, not a
    # download): parsing the bundles again costs the subprocess ~0.3 s and tests no PATH.
    for index in crds.default_index_cache_dir().glob("crd-index-*.json"):
        (tmp_path / "cache" / "crd-index").mkdir(parents=True, exist_ok=True)
        shutil.copy(index, tmp_path / "cache" / "crd-index")
    env = {
        "PATH": str(tmp_path),
        "HOME": str(tmp_path),
        "AMBIENT_HARNESS_CACHE": str(tmp_path / "cache"),
        "AMBIENT_HARNESS_CRD_DIR": str(CRDS),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", "scenarios/ambient-authz-l4", "--dry-run"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "install --set profile=ambient" in proc.stdout
    assert downloaded(tmp_path / "cache") == []
    assert os.listdir(tmp_path) in ([], ["cache"])


def test_a_run_whose_cluster_is_unreachable_still_writes_its_report(
    capsys: pytest.CaptureFixture[str], offline: Path, tmp_path: Path
) -> None:
    from harness.report.document import load_json_report

    report = tmp_path / "out" / "report.json"
    missing = tmp_path / "no-kubeconfig"
    code = cli.main(
        [
            "run",
            "scenarios/ambient-authz-l4",
            "--kubeconfig",
            str(missing),
            "--report-json",
            str(report),
        ]
    )
    _, err = capsys.readouterr()
    assert code == 1
    assert f"error: ClusterError: kubeconfig {missing} does not exist" in err
    run = load_json_report(report)
    assert run.environment.provider == "existing"
    assert run.scenarios == []
    assert run.started_at and run.finished_at


def test_sigterm_cleans_up_like_ctrl_c() -> None:
    import signal

    from harness.cli.run import sigterm_as_interrupt

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # interrupted at once by the handler
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_probe_that_expects_otherwise_than_the_model_says_why(
    capsys: pytest.CaptureFixture[str], offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(CRDS))
    code, out, err = dry_run(capsys, str(REPO / "tests" / "malformed" / "model-gap-acknowledged"))
    assert code == 0, err
    assert_in_order(
        out,
        "probe reviews -> GET http://ratings:9080/ratings/1: expect denied-l7 (",
        "  the model predicts denied-l4, decided by the destination ztunnel: ",
        "; the scenario expects otherwise: checking whether a future ztunnel answers L4 "
        "denials with an HTTP 403\n",
    )
