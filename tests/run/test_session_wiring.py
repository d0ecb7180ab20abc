"""The live session's connection: field takeovers reported through the run's output, and an
unreachable API server named in one short line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fakes.fake_apiserver import FakeApiServer
from fakes.fake_kind import kubeconfig_text
from helpers import closed_port

from harness.cli.main import main
from harness.errors import HarnessError
from harness.host import versions
from harness.host.cluster import ClusterError
from harness.host.existing import ExistingProvider
from harness.host.kind import KindProvider
from harness.run import session as session_module
from harness.run.errors import SessionSetupFailed
from harness.run.options import SessionOptions
from harness.run.session import LiveSession, node_image

AGENT = Path(__file__).resolve().parents[2] / "harness" / "inpod" / "agent.py"


def gateway_class(description: str) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": "istio-waypoint"},
        "spec": {"controllerName": "istio.io/mesh-controller", "description": description},
    }


class Stop(HarnessError):
    """Ends the set-up right after the session connected."""


def test_the_sessions_kube_reports_field_takeovers_through_the_run_output(
    api: FakeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(kubeconfig_text(api.url))
    api.add(gateway_class("made by istiod"), field_manager="pilot-discovery")

    def stop(*args: object, **kwargs: object) -> Path:
        raise Stop("tools are not needed for this test")

    monkeypatch.setattr(session_module.tools, "ensure_tool", stop)
    said: list[str] = []
    session = LiveSession(SessionOptions(kubeconfig=str(kubeconfig)), say=said.append)
    session.provider = ExistingProvider(kubeconfig)  # what `up` would have chosen
    with pytest.raises(Stop):
        session.install_mesh()
    assert session.kube is not None
    try:
        session.kube.apply_step([gateway_class("made by the harness")])
    finally:
        session.close()
    assert any("takes over 1 field" in line and "pilot-discovery" in line for line in said), said


def test_an_unreachable_api_server_is_one_short_line(tmp_path: Path) -> None:
    port = closed_port()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(kubeconfig_text(f"https://127.0.0.1:{port}"))
    session = LiveSession(SessionOptions(kubeconfig=str(kubeconfig)), say=lambda line: None)
    with pytest.raises(ClusterError) as err:
        session.prepare()
    session.close()
    text = str(err.value)
    assert f"API server https://127.0.0.1:{port}: connection refused" in text
    assert text.count("API server") == 1
    assert "HTTPSConnection" not in text and len(text) < 200, text


def test_a_connection_lost_during_set_up_is_one_short_line(
    api: FakeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API server answered `up`, then went away before the mesh was installed."""
    monkeypatch.setattr(session_module.tools, "ensure_tool", lambda *a, **k: Path("/bin/true"))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(kubeconfig_text(api.url))
    session = LiveSession(SessionOptions(kubeconfig=str(kubeconfig)), say=lambda line: None)
    session.provider = ExistingProvider(kubeconfig)
    url = api.url
    api.stop()
    with pytest.raises(SessionSetupFailed) as err:
        session.install_mesh()
    session.close()
    assert str(err.value).startswith(f"API server {url}: "), str(err.value)
    assert len(str(err.value)) < 120, str(err.value)


def test_agent_help_names_the_command_it_was_run_as(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["agent", "--help"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("usage: ambient-harness agent ")
    # Run as a script in the pod (stdlib only: -S), it keeps its own name.
    own = subprocess.run(
        [sys.executable, "-S", str(AGENT), "--help"], capture_output=True, text=True, check=True
    )
    assert own.stdout.startswith("usage: agent ")


def test_the_report_records_what_a_reused_kind_clusters_nodes_run() -> None:
    provider = KindProvider("demo")
    options = SessionOptions("kind", "demo")
    assert node_image(options, provider) == versions.NODE_IMAGE.ref  # created: the pin
    provider.node_images = {
        "demo-control-plane": "kindest/node:v1.31.0",
        "demo-worker": "kindest/node:v1.31.0",
    }
    assert node_image(options, provider) == "kindest/node:v1.31.0"  # reused: what runs
    assert node_image(options, ExistingProvider(None)) is None
