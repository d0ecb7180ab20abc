"""harness.mesh.doctor: the Istio settings and Gateway API channel of an existing cluster,
read through the fake API server; `preflight` stops on a failed check."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from fakes.fake_apiserver import FakeApiServer
from fakes.fake_kind import kubeconfig_text
from helpers import closed_port
from mesh_objects import ISTIO, add_ns, gateway_bundle, istiod

from harness.host.doctor import DoctorFailed, Finding
from harness.kube.client import Kube
from harness.mesh import doctor
from harness.mesh.doctor import ClusterReadings
from harness.model.scenario import Scenario, load_scenario


def gateway_crd(version: str, channel: str) -> dict[str, Any]:
    (shared,) = [
        d
        for d in gateway_bundle()
        if d["kind"] == "CustomResourceDefinition"
        and d["metadata"]["name"] == "gateways.gateway.networking.k8s.io"
    ]
    crd = copy.deepcopy(shared)
    crd["metadata"]["annotations"] = {
        "gateway.networking.k8s.io/bundle-version": version,
        "gateway.networking.k8s.io/channel": channel,
    }
    return crd


def severities(findings: list[Finding]) -> list[str]:
    return [f.severity for f in findings]


def test_the_harness_install_has_nothing_to_report() -> None:
    env = {"PILOT_ENABLE_ALPHA_GATEWAY_API": "true"}
    findings = doctor.cluster_findings(
        ClusterReadings(env, "1.30.3", gateway_crd("v1.5.1", "experimental"))
    )
    assert set(severities(findings)) == {"ok"}


def test_a_non_default_waypoint_setting_is_warned_about_with_the_reinstall_command() -> None:
    env = {
        "PILOT_ENABLE_ALPHA_GATEWAY_API": "true",
        "PILOT_AUTO_ALLOW_WAYPOINT_POLICY": "true",
        "ENABLE_LAYERED_WAYPOINT_AUTHORIZATION_POLICIES": "true",
    }
    warned = [f for f in doctor.check_istio_settings(env, "1.30.3") if f.severity == "warn"]
    assert [f.found.split(",")[0] for f in warned] == [
        "istiod runs with PILOT_AUTO_ALLOW_WAYPOINT_POLICY=true",
        "istiod runs with ENABLE_LAYERED_WAYPOINT_AUTHORIZATION_POLICIES=true",
    ]
    assert "may not hold here" in warned[0].found
    assert warned[0].fix.startswith(
        "reinstall with `istioctl install --set "
        "values.pilot.env.PILOT_AUTO_ALLOW_WAYPOINT_POLICY=false`"
    )


def test_no_alpha_gateway_api_names_the_scenario_that_fails() -> None:
    (warned,) = [f for f in doctor.check_istio_settings({}, "1.30.3") if f.severity == "warn"]
    assert "PILOT_ENABLE_ALPHA_GATEWAY_API=false" in warned.found
    assert "ambient-tcproute" in warned.found
    assert "values.pilot.env.PILOT_ENABLE_ALPHA_GATEWAY_API=true" in warned.fix


def test_standard_channel_gateway_api_fails_before_the_install_is_refused() -> None:
    (found,) = doctor.check_gateway_api(gateway_crd("v1.5.1", "standard"))
    assert found.severity == "fail"
    assert found.found.startswith("Gateway API v1.5.1 standard channel; the harness needs v1.5.1")
    assert "safe-upgrades.gateway.networking.k8s.io" in found.found
    assert "kubectl delete validatingadmissionpolicy safe-upgrades" in found.fix
    assert (
        "kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api" in found.fix
    )


def test_gateway_api_versions() -> None:
    (older,) = doctor.check_gateway_api(gateway_crd("v1.4.0", "experimental"))
    assert older.severity == "warn" and "upgrades it to v1.5.1 experimental" in older.found
    (newer,) = doctor.check_gateway_api(gateway_crd("v1.6.0", "experimental"))
    assert newer.severity == "ok"
    (none,) = doctor.check_gateway_api(None)
    assert none.severity == "ok" and "installs v1.5.1 experimental" in none.found


def test_preflight_reads_an_existing_cluster(
    api: FakeApiServer, kube: Kube, tmp_path: Path
) -> None:
    add_ns(api, ISTIO)
    env = [
        {"name": "PILOT_ENABLE_ALPHA_GATEWAY_API", "value": "true"},
        {"name": "PILOT_AUTO_ALLOW_WAYPOINT_POLICY", "value": "true"},
    ]
    api.add(istiod(env=env))
    api.add(gateway_crd("v1.5.1", "experimental"))
    lines: list[str] = []
    findings = doctor.preflight(
        kind=False, cache_dir=tmp_path, kube=lambda: kube, output=lines.append
    )
    assert [f.check for f in findings] == ["python", "istio", "istio", "istio", "istio", "gateway"]
    assert severities(findings).count("warn") == 1
    assert any(
        line.startswith("WARN  istio    istiod runs with PILOT_AUTO_ALLOW") for line in lines
    )


def test_preflight_stops_on_a_failed_check(api: FakeApiServer, kube: Kube, tmp_path: Path) -> None:
    api.add(gateway_crd("v1.5.1", "standard"))
    with pytest.raises(DoctorFailed, match="standard channel"):
        doctor.preflight(kind=False, cache_dir=tmp_path, kube=lambda: kube)


def test_preflight_on_an_unreadable_cluster_fails_with_the_reason(tmp_path: Path) -> None:
    def connect() -> Kube:
        return Kube.from_kubeconfig(tmp_path / "absent", "nowhere")

    with pytest.raises(DoctorFailed) as err:
        doctor.preflight(kind=False, cache_dir=tmp_path, kube=connect)
    assert "FAIL  cluster  cannot read the cluster" in str(err.value)
    assert "kubectl --context CONTEXT get nodes" in str(err.value)


def test_an_unreachable_cluster_is_named_in_one_short_line(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(kubeconfig_text(f"http://127.0.0.1:{closed_port()}", "mine"))

    with pytest.raises(DoctorFailed) as err:
        doctor.preflight(
            kind=False, cache_dir=tmp_path, kube=lambda: Kube.from_kubeconfig(kubeconfig, "mine")
        )
    line = next(ln for ln in str(err.value).splitlines() if "cannot read the cluster" in ln)
    refused = r"cannot read the cluster: API server http://127.0.0.1:\d+: connection refused$"
    assert re.search(refused, line)


def catalogue() -> list[Scenario]:
    root = Path(__file__).resolve().parents[2] / "scenarios"
    return [load_scenario(d) for d in sorted(root.iterdir()) if (d / "scenario.yaml").is_file()]


def test_scenarios_that_depend_on_a_setting_the_cluster_lacks_are_named() -> None:
    env = {"PILOT_AUTO_ALLOW_WAYPOINT_POLICY": "true"}  # and no alpha Gateway API
    found = doctor.scenario_findings(env, catalogue())
    named = sorted(f.found.split(":", 1)[0] for f in found)
    assert "ambient-tcproute" in named  # TCPRoute: needs the alpha Gateway API flag
    assert not [n for n in named if n.startswith("sidecar-")]
    tcp = next(f for f in found if f.found.startswith("ambient-tcproute:"))
    assert "assume PILOT_ENABLE_ALPHA_GATEWAY_API=true, this istiod runs false" in tcp.found
    assert "leave ambient-tcproute out of this run" in tcp.fix
    waypoint = [f for f in found if "PILOT_AUTO_ALLOW_WAYPOINT_POLICY" in f.found]
    assert waypoint, "an ambient waypoint authorization scenario depends on it"
    for f in waypoint:
        scenario = next(s for s in catalogue() if s.name == f.found.split(":", 1)[0])
        assert scenario.dataplane == "ambient" and scenario.waypoints


def test_the_harness_install_warns_about_no_scenario() -> None:
    env = {"PILOT_ENABLE_ALPHA_GATEWAY_API": "true"}
    assert doctor.scenario_findings(env, catalogue()) == []
    assert doctor.scenario_findings(None, catalogue()) == []  # no istiod: the harness installs it
