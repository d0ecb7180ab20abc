"""harness.mesh.istio: detect an istiod, install the ambient profile, wait ready."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from fakes.fake_apiserver import FakeApiServer
from fakes.standin import SHEBANG
from mesh_objects import (
    ISTIO,
    add_ns,
    daemonset,
    istiod,
    seed_ready_istio,
)

from harness import mesh
from harness.host import argv as commands
from harness.host.images import image_plan
from harness.kube.client import Kube
from harness.kube.errors import WaitTimeout

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
    # The flags themselves are pinned in tests/host/test_argv.py (commands.istioctl_install).
    argv = mesh.istio_install_command(Path("/cache/istioctl"), "1.30.3")
    assert argv == commands.istioctl_install(Path("/cache/istioctl"))
    assert argv[:2] == ["/cache/istioctl", "install"]
    argv = mesh.istio_install_command(
        Path("/cache/istioctl"), kubeconfig=Path("/tmp/kc"), context="kind-ambient"
    )
    assert argv[-4:] == ["--kubeconfig", "/tmp/kc", "--context", "kind-ambient"]
    with pytest.raises(ValueError, match="not an Istio release"):
        mesh.istio_install_command(Path("istioctl"), "latest; rm -rf /")
    # --image-registry: the mirror's hub goes to istioctl, before --skip-confirmation.
    mirrored = mesh.istio_install_command(
        Path("istioctl"), sets=image_plan(image_registry="gcr.io/istio-release").istioctl_sets()
    )
    assert mirrored[-3:] == ["--set", "hub=gcr.io/istio-release", "--skip-confirmation"]


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
    # urllib.request (http.client, email, ssl) only for a body that talks to the API server:
    # it is most of a stand-in's start-up.
    web = ", urllib.request" if "urllib" in body else ""
    script.write_text(
        f"{SHEBANG}\n"
        f"import json, os, sys, time{web}\n"
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
    with pytest.raises(mesh.IstioInstallError, match=r"timed out after 0\.1s"):
        mesh.install_istio(kube, istioctl, "1.30.3", install_timeout=0.1, ready_timeout=1)


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
