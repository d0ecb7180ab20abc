"""harness.mesh: Gateway API install, Istio detect/install/readiness, enrollment, waypoints."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakes.fake_apiserver import CORE_TYPES, GATEWAY_API_TYPES, FakeApiServer
from helpers import CRDS

from harness.host import argv as commands
from harness.kube.client import Kube
from harness.kube.errors import ApplyError, WaitTimeout
from harness.kube.objects import load_manifests
from harness.mesh import istio as mesh
from harness.model.topology import NamespacePlan, WaypointPlan

REPO = Path(__file__).resolve().parents[2]
GATEWAY_BUNDLE = (
    Path(os.environ.get("AMBIENT_HARNESS_CRD_DIR", CRDS))
    / "gateway-api-v1.5.1-experimental.yaml"
)
ISTIO = "istio-system"


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


# --- Gateway API ---------------------------------------------------------------------------


def test_gateway_api_bundle_is_applied_server_side_then_waited_established() -> None:
    docs = load_manifests(GATEWAY_BUNDLE)
    crds = [d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition"]
    assert len(crds) >= 10 and "httproutes.gateway.networking.k8s.io" in crds
    with FakeApiServer(CORE_TYPES, crd_established_after=2) as api:
        kube = Kube(api.api_client(), poll_interval=0.002)
        lines: list[str] = []

        refs = mesh.install_gateway_api(kube, GATEWAY_BUNDLE, timeout=10, output=lines.append)

        base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
        real = api.patches(dry_run=False)
        assert [r.path for r in real[: len(crds)]] == [base + n for n in crds]
        vap = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/"
        assert vap + "safe-upgrades.gateway.networking.k8s.io" in [r.path for r in real]
        assert len(real) == len(docs) == len(refs)
        assert all(r.param("fieldManager") == "ambient-harness" for r in real)
        # Every document was dry-run before the first real write.
        first_real = api.requests.index(real[0])
        assert len([r for r in api.requests[:first_real] if r.is_apply and r.dry_run]) == len(docs)
        # Each CRD was polled until Established (the fake flips it on the 2nd read).
        for name in crds:
            assert api.reads("CustomResourceDefinition", None, name) >= 2
            crd = api.get("CustomResourceDefinition", None, name)
            assert crd is not None
            assert {"type": "Established", "status": "True"}.items() <= crd["status"]["conditions"][
                -1
            ].items()
        assert api.find_type("gateway.networking.k8s.io/v1", "HTTPRoute").plural == "httproutes"
        assert any("Established" in line for line in lines)
        kube.close()


def test_a_newer_gateway_api_on_the_cluster_is_not_downgraded() -> None:
    docs = load_manifests(GATEWAY_BUNDLE)
    newer = next(d for d in docs if d["kind"] == "CustomResourceDefinition")
    newer = json.loads(json.dumps(newer))
    newer["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"] = "v1.6.0"
    with FakeApiServer(CORE_TYPES) as api:
        api.add(newer)
        kube = Kube(api.api_client(), poll_interval=0.002)
        lines: list[str] = []
        assert mesh.install_gateway_api(kube, GATEWAY_BUNDLE, output=lines.append) == []
        assert api.patches() == []
        assert lines == [
            "the cluster has Gateway API v1.6.0, newer than the pinned v1.5.1: leaving it as it is"
        ]
        kube.close()


def test_gateway_api_channel_refusal_stops_before_any_write() -> None:
    with FakeApiServer(CORE_TYPES) as api:
        kube = Kube(api.api_client(), poll_interval=0.002)
        refusal = (
            "Installing experimental CRDs on top of standard channel CRDs is prohibited by default."
        )
        api.fail_dry_run(
            "CustomResourceDefinition", "httproutes.gateway.networking.k8s.io", refusal
        )
        with pytest.raises(ApplyError) as err:
            mesh.install_gateway_api(kube, GATEWAY_BUNDLE, timeout=5)
        assert "CustomResourceDefinition httproutes.gateway.networking.k8s.io" in str(err.value)
        assert refusal in str(err.value)
        assert api.patches(dry_run=False) == []
        kube.close()


def test_gateway_api_readiness_is_printable_data() -> None:
    docs = load_manifests(GATEWAY_BUNDLE)
    checks = mesh.gateway_api_readiness(docs)
    assert str(checks[0]) == (
        "CustomResourceDefinition backendtlspolicies.gateway.networking.k8s.io: Established=True"
    )
    assert {c.want for c in checks} == {"established"}


# --- Istio detection and install ------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "labels", "version", "source"),
    [
        ("docker.io/istio/pilot:1.30.3", {}, "1.30.3", "image"),
        ("gcr.io/istio-release/pilot:1.30.3-distroless@sha256:" + "0" * 64, {}, "1.30.3", "image"),
        (
            "localhost:5000/pilot",
            {"app.kubernetes.io/version": "1.29.1"},
            "1.29.1",
            "label app.kubernetes.io/version",
        ),
        (
            "pilot",
            {"operator.istio.io/version": "1.22.0"},
            "1.22.0",
            "label operator.istio.io/version",
        ),
        ("pilot", {"helm.sh/chart": "istiod-1.28.0"}, "1.28.0", "label helm.sh/chart"),
        ("pilot", {"istio.io/rev": "1-30-3"}, None, "unknown"),
    ],
)
def test_istio_version_sources(
    image: str, labels: dict[str, str], version: str | None, source: str
) -> None:
    found, where = mesh.istio_version_of(istiod(image, **labels))
    assert found == version
    assert where.startswith(source)


def test_detect_istio(api: FakeApiServer, kube: Kube) -> None:
    assert mesh.detect_istio(kube) is None
    add_ns(api, ISTIO)
    api.add(istiod(**{"istio.io/rev": "default"}))
    found = mesh.detect_istio(kube)
    assert found is not None
    assert (found.deployment, found.version, found.revision) == ("istiod", "1.30.3", "default")
    assert found.image == "docker.io/istio/pilot:1.30.3-distroless"
    assert found.alpha_gateway_api
    listings = api.calls("GET", "/apis/apps/v1/namespaces/istio-system/deployments")
    assert [r.param("labelSelector") for r in listings] == ["app=istiod", "app=istiod"]


def test_istio_install_command_is_an_argument_list() -> None:
    # The flags themselves are pinned in test_cluster (commands.istioctl_install).
    argv = mesh.istio_install_command(Path("/cache/istioctl"), "1.30.3")
    assert argv == commands.istioctl_install(Path("/cache/istioctl"))
    assert argv[:2] == ["/cache/istioctl", "install"]
    argv = mesh.istio_install_command(
        Path("/cache/istioctl"), kubeconfig=Path("/tmp/kc"), context="kind-ambient"
    )
    assert argv[-4:] == ["--kubeconfig", "/tmp/kc", "--context", "kind-ambient"]
    with pytest.raises(ValueError, match="not an Istio release"):
        mesh.istio_install_command(Path("istioctl"), "latest; rm -rf /")


def test_readiness_waits_are_data() -> None:
    assert [str(c) for c in mesh.istio_readiness()] == [
        "Deployment istio-system/istiod: Available=True",
        "DaemonSet istio-system/istio-cni-node: rolled out on every node",
        "DaemonSet istio-system/ztunnel: rolled out on every node",
        "GatewayClass istio-waypoint: present",
    ]


def fake_istioctl(tmp_path: Path, body: str) -> Path:
    """An executable standing in for istioctl; it records its argv in argv.json."""
    script = tmp_path / "istioctl"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys, time, urllib.request\n"
        f"json.dump(sys.argv[1:], open({str(tmp_path / 'argv.json')!r}, 'w'))\n"
        + textwrap.dedent(body)
    )
    script.chmod(0o755)
    return script


# The fake istioctl "installs" istiod by a server-side apply to the fake API server.
INSTALLS_ISTIOD = """
print("✔ Istio core installed", flush=True)
dep = json.loads(os.environ["FAKE_ISTIOD"])
req = urllib.request.Request(
    os.environ["FAKE_API"] + "/apis/apps/v1/namespaces/istio-system/deployments/istiod"
    "?fieldManager=istioctl", data=json.dumps(dep).encode(), method="PATCH",
    headers={"Content-Type": "application/apply-patch+yaml"})
urllib.request.urlopen(req).read()
print("✔ Installation complete", flush=True)
"""


def test_install_istio_runs_istioctl_then_waits_ready(
    api: FakeApiServer, kube: Kube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_ready_istio(api, with_istiod=False)
    monkeypatch.setenv("FAKE_API", api.url)
    monkeypatch.setenv("FAKE_ISTIOD", json.dumps(istiod()))
    istioctl = fake_istioctl(tmp_path, INSTALLS_ISTIOD)
    lines: list[str] = []

    setup = mesh.install_istio(
        kube, istioctl, "1.30.3", install_timeout=20, ready_timeout=5, output=lines.append
    )

    assert setup.installed_now and setup.install.version == "1.30.3" and setup.warnings == []
    argv = json.loads((tmp_path / "argv.json").read_text())
    assert argv == mesh.istio_install_command(istioctl, "1.30.3")[1:]
    assert "✔ Installation complete" in lines
    assert api.get("Deployment", ISTIO, "istiod") is not None


def test_existing_istio_is_left_alone_with_a_version_warning(
    api: FakeApiServer, kube: Kube, tmp_path: Path
) -> None:
    seed_ready_istio(api, with_istiod=False)
    api.add(istiod("docker.io/istio/pilot:1.29.0"))
    istioctl = fake_istioctl(tmp_path, "sys.exit(9)\n")
    lines: list[str] = []

    setup = mesh.install_istio(kube, istioctl, "1.30.3", ready_timeout=2, output=lines.append)

    assert not setup.installed_now
    assert not (tmp_path / "argv.json").exists()  # istioctl never ran
    assert any("leaving it alone" in line for line in lines)
    (warning,) = setup.warnings
    assert "1.29.0" in warning and "1.30.3" in warning


def test_existing_istio_without_alpha_gateway_api_is_warned_about(
    api: FakeApiServer, kube: Kube, tmp_path: Path
) -> None:
    seed_ready_istio(api, with_istiod=False)
    api.add(istiod(env=[{"name": "PILOT_ENABLE_AMBIENT", "value": "true"}]))
    lines: list[str] = []

    setup = mesh.install_istio(
        kube, tmp_path / "istioctl", "1.30.3", ready_timeout=2, output=lines.append
    )

    assert not setup.install.alpha_gateway_api
    (warning,) = setup.warnings
    assert "PILOT_ENABLE_ALPHA_GATEWAY_API=true" in warning and "TCPRoute" in warning
    assert f"warning: {warning}" in lines


def test_an_existing_sidecar_only_istio_is_refused_quickly(
    api: FakeApiServer, kube: Kube, tmp_path: Path
) -> None:
    add_ns(api, ISTIO)
    api.add(istiod())
    with pytest.raises(mesh.IstioInstallError) as err:
        mesh.install_istio(kube, tmp_path / "istioctl", "1.30.3", ready_timeout=30)
    assert "no istio-cni-node or ztunnel DaemonSet" in str(err.value)
    assert "not the ambient profile" in str(err.value)


def test_install_failure_shows_istioctl_output(
    api: FakeApiServer, kube: Kube, tmp_path: Path
) -> None:
    istioctl = fake_istioctl(
        tmp_path, 'print("Error: failed to install manifests: boom")\nsys.exit(3)\n'
    )
    with pytest.raises(mesh.IstioInstallError) as err:
        mesh.install_istio(kube, istioctl, "1.30.3", ready_timeout=1)
    assert "exited with status 3" in str(err.value)
    assert "failed to install manifests: boom" in str(err.value)


def test_install_timeout_kills_istioctl(api: FakeApiServer, kube: Kube, tmp_path: Path) -> None:
    istioctl = fake_istioctl(tmp_path, 'print("waiting", flush=True)\ntime.sleep(30)\n')
    with pytest.raises(mesh.IstioInstallError, match=r"timed out after 0\.5s"):
        mesh.install_istio(kube, istioctl, "1.30.3", install_timeout=0.5, ready_timeout=1)


def test_ctrl_c_during_the_install_leaves_no_istioctl_behind(tmp_path: Path) -> None:
    istioctl = fake_istioctl(
        tmp_path, 'print(os.getpid(), flush=True)\ntime.sleep(30)\nprint("done")\n'
    )
    pids: list[int] = []

    def interrupted(line: str) -> None:
        pids.append(int(line))
        raise KeyboardInterrupt  # what SIGTERM becomes under `ambient-harness run`

    with pytest.raises(KeyboardInterrupt):
        mesh.run_streaming([str(istioctl)], timeout=20, output=interrupted)
    (pid,) = pids
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped, not left running (or a zombie)


def test_readiness_timeout_names_the_missing_component(api: FakeApiServer, kube: Kube) -> None:
    add_ns(api, ISTIO)
    api.add(istiod())
    api.add(daemonset("istio-cni-node"))
    api.add(daemonset("ztunnel", ready=1))
    with pytest.raises(WaitTimeout) as err:
        mesh.wait_ready(kube, mesh.istio_readiness(), timeout=0.05)
    assert "DaemonSet istio-system/ztunnel" in str(err.value)
    assert "desired=2 ready=1" in str(err.value)


# --- enrollment ------------------------------------------------------------------------------


def test_enroll_ambient_namespace_creates_it_with_its_labels(
    api: FakeApiServer, kube: Kube
) -> None:
    plan = NamespacePlan("ambient-authz-l4", "ambient", {"istio.io/dataplane-mode": "ambient"})
    mesh.enroll_namespace(kube, plan)
    (apply,) = api.patches(dry_run=False)
    assert apply.path == "/api/v1/namespaces/ambient-authz-l4"
    assert apply.body["metadata"]["labels"] == {"istio.io/dataplane-mode": "ambient"}


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


def test_sidecar_enrollment_refuses_pods_that_predate_injection(
    api: FakeApiServer, kube: Kube
) -> None:
    add_ns(api, "sidecar-authz")
    api.add(app_pod("sidecar-authz", "ratings-old"))
    api.add(app_pod("sidecar-authz", "native", init=("istio-proxy",)))
    api.add(app_pod("sidecar-authz", "classic", containers=("app", "istio-proxy")))
    api.add(app_pod("sidecar-authz", "done", phase="Succeeded"))
    plan = NamespacePlan("sidecar-authz", "sidecar", {"istio-injection": "enabled"})

    with pytest.raises(mesh.EnrollmentError) as err:
        mesh.enroll_namespace(kube, plan)
    assert "ratings-old" in str(err.value)
    assert "native" not in str(err.value) and "done" not in str(err.value)
    assert api.patches() == []

    api.set_status("Pod", "sidecar-authz", "ratings-old", {"phase": "Succeeded"})
    mesh.enroll_namespace(kube, plan)
    ns = api.get("Namespace", None, "sidecar-authz")
    assert ns is not None and ns["metadata"]["labels"] == {"istio-injection": "enabled"}


# --- waypoints --------------------------------------------------------------------------------

WP = WaypointPlan("waypoint", "ambient-l7", "service", ("ratings", "reviews"), True)


def test_waypoint_manifest() -> None:
    assert mesh.waypoint_manifest(WP) == {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {
            "name": "waypoint",
            "namespace": "ambient-l7",
            "labels": {"istio.io/waypoint-for": "service"},
        },
        "spec": {
            "gatewayClassName": "istio-waypoint",
            "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}],
        },
    }
    # Valid against the real Gateway CRD's required fields (offline sanity, no schema lib).
    text = yaml.safe_dump(mesh.waypoint_manifest(WP))
    assert "protocol: HBONE" in text


def test_use_waypoint_labels() -> None:
    assert [str(c) for c in mesh.use_waypoint_labels(WP)] == [
        "Service ambient-l7/ratings: istio.io/use-waypoint=waypoint",
        "Service ambient-l7/reviews: istio.io/use-waypoint=waypoint",
        "Namespace ambient-l7: istio.io/use-waypoint=waypoint",
    ]


def test_apply_waypoint_waits_programmed_then_labels_its_users(
    api: FakeApiServer, kube: Kube
) -> None:
    add_ns(api, "ambient-l7")
    for s in ("ratings", "reviews"):
        api.add(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta(s, "ambient-l7"),
                "spec": {"ports": [{"port": 9080}]},
            }
        )
    api.condition_after("Gateway", "ambient-l7", "waypoint", "Programmed", reads=3)
    # Istio's Programmed does not wait for the proxy: the pod is Ready only later.
    gw_label = {"gateway.networking.k8s.io/gateway-name": "waypoint"}
    api.add(app_pod("ambient-l7", "waypoint-7c9d", labels=gw_label, ready=False))
    api.on_read("Pod", "ambient-l7", "waypoint-7c9d", becomes_ready_on(3))

    ref = mesh.apply_waypoint(kube, WP, timeout=5)

    assert str(ref) == "Gateway ambient-l7/waypoint"
    gw_path = "/apis/gateway.networking.k8s.io/v1/namespaces/ambient-l7/gateways/waypoint"
    assert [(r.path, r.dry_run) for r in api.patches()] == [(gw_path, True), (gw_path, False)]
    assert api.reads("Gateway", "ambient-l7", "waypoint") == 3
    label_patches = [r for r in api.calls("PATCH") if not r.is_apply]
    assert [r.path for r in label_patches] == [
        "/api/v1/namespaces/ambient-l7/services/ratings",
        "/api/v1/namespaces/ambient-l7/services/reviews",
        "/api/v1/namespaces/ambient-l7",
    ]
    # Labels only after Programmed and a Ready waypoint pod: every label patch follows the
    # last Gateway poll and the last pod poll.
    pods_path = "/api/v1/namespaces/ambient-l7/pods"
    last_poll = max(
        i
        for i, r in enumerate(api.requests)
        if r.method == "GET" and r.path in (gw_path, pods_path)
    )
    assert api.reads("Pod", "ambient-l7", "waypoint-7c9d") == 3
    assert all(api.requests.index(r) > last_poll for r in label_patches)
    svc = api.get("Service", "ambient-l7", "ratings")
    assert svc is not None and svc["metadata"]["labels"]["istio.io/use-waypoint"] == "waypoint"


def test_a_programmed_waypoint_without_a_ready_pod_is_not_used(
    api: FakeApiServer, kube: Kube
) -> None:
    add_ns(api, "ambient-l7")
    api.condition_after("Gateway", "ambient-l7", "waypoint", "Programmed", reads=1)
    gw_label = {"gateway.networking.k8s.io/gateway-name": "waypoint"}
    api.add(app_pod("ambient-l7", "waypoint-7c9d", labels=gw_label, phase="Pending"))
    with pytest.raises(WaitTimeout) as err:
        mesh.apply_waypoint(kube, WP, timeout=0.2)
    assert "gateway.networking.k8s.io/gateway-name=waypoint" in str(err.value)
    assert "waypoint-7c9d Pending" in str(err.value)
    assert [r for r in api.calls("PATCH") if not r.is_apply] == []


def test_waypoint_that_never_programs_times_out_with_its_conditions(
    api: FakeApiServer, kube: Kube
) -> None:
    add_ns(api, "ambient-l7")
    api.condition_after(
        "Gateway",
        "ambient-l7",
        "waypoint",
        "Programmed",
        "False",
        reads=1,
        reason="Invalid",
        message="deployment has no ready pods",
    )
    plan = WaypointPlan("waypoint", "ambient-l7", "service", (), False)
    with pytest.raises(WaitTimeout) as err:
        mesh.apply_waypoint(kube, plan, timeout=0.05)
    assert "Gateway ambient-l7/waypoint" in str(err.value)
    assert "Programmed=False Invalid: deployment has no ready pods" in str(err.value)
    assert [r for r in api.calls("PATCH") if not r.is_apply] == []


# --- redirection ------------------------------------------------------------------------------


def test_redirection_check_flags_pods_without_the_annotation(
    api: FakeApiServer, kube: Kube
) -> None:
    ns = "ambient-authz-l4"
    add_ns(api, ns)
    enabled = {"ambient.istio.io/redirection": "enabled"}
    api.add(app_pod(ns, "ratings-v1-abc", annotations=enabled))
    api.add(app_pod(ns, "agent-reviews-xyz"))
    api.add(app_pod(ns, "waypoint-123", labels={"gateway.networking.k8s.io/gateway-name": "wp"}))
    api.add(app_pod(ns, "starting", phase="Pending"))

    report = mesh.check_ambient_redirection(kube, ns)

    assert not report.ok
    assert report.offenders == ["agent-reviews-xyz"]
    assert report.skipped == ["waypoint-123"]
    assert sorted(report.checked) == ["agent-reviews-xyz", "ratings-v1-abc"]
    assert "agent-reviews-xyz" in report.message
    assert "ambient.istio.io/redirection" in report.message
    with pytest.raises(mesh.RedirectionError, match="agent-reviews-xyz"):
        mesh.wait_ambient_redirection(kube, ns, timeout=0.05)


def test_redirection_wait_allows_istio_cni_a_moment(api: FakeApiServer, kube: Kube) -> None:
    ns = "ambient-authz-l4"
    add_ns(api, ns)
    api.add(app_pod(ns, "agent-reviews-xyz"))

    def annotate(obj: dict[str, Any], n: int) -> None:
        if n >= 3:
            obj["metadata"]["annotations"] = {"ambient.istio.io/redirection": "enabled"}

    api.on_read("Pod", ns, "agent-reviews-xyz", annotate)
    report = mesh.wait_ambient_redirection(kube, ns, timeout=5)
    assert report.ok and report.checked == ["agent-reviews-xyz"]
    assert api.reads("Pod", ns, "agent-reviews-xyz") == 3


def test_sidecar_check_names_pods_without_istio_proxy(api: FakeApiServer, kube: Kube) -> None:
    ns = "sidecar-authz"
    add_ns(api, ns)
    api.add(app_pod(ns, "native", init=("istio-proxy",)))
    api.add(app_pod(ns, "classic", containers=("app", "istio-proxy")))
    mesh.require_sidecars(kube, ns)
    api.add(app_pod(ns, "plain"))
    with pytest.raises(mesh.EnrollmentError, match=r"without the istio-proxy sidecar: plain \("):
        mesh.require_sidecars(kube, ns)


def test_gateway_api_types_fixture_matches_the_bundle() -> None:
    """The fake's built-in Gateway API kinds exist in the pinned bundle (no drift)."""
    docs = load_manifests(GATEWAY_BUNDLE)
    served = {
        (d["spec"]["group"], v["name"], d["spec"]["names"]["kind"])
        for d in docs
        if d["kind"] == "CustomResourceDefinition"
        for v in d["spec"]["versions"]
        if v.get("served")
    }
    for t in GATEWAY_API_TYPES:
        assert (t.group, t.version, t.kind) in served
