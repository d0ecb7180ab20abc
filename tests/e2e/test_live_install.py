"""On a real cluster: the mesh is installed and ready, and a minimal scenario passes.

Skipped without a cluster, with the reason `no cluster: pass --cluster=kind,
--context=CONTEXT or --kubeconfig=PATH`. Run: `pytest tests/e2e --cluster=kind` (or `make e2e`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import mesh
from harness.host import versions
from harness.kube.objects import namespace_ref
from harness.model.scenario import load_scenario
from harness.run.session import LiveSession

pytestmark = pytest.mark.live

SMOKE = """\
name: e2e-smoke
title: "Smoke: an enrolled client reaches an enrolled backend over ztunnel"
description: The smallest ambient scenario; proves agents, port-forwards and probes work.
dataplane: ambient
namespaces:
  - name: e2e-smoke
backends:
  - service: ratings
clients:
  - name: productpage
steps:
  - name: reach
    title: "No policy: allowed, L4 only (no Envoy in the path)"
    probes:
      - from: productpage
        url: http://ratings:9080/ratings/1
        expect: {outcome: allowed, l7: false, served_by: v1}
"""


def test_mesh_is_installed_and_ready(live: LiveSession) -> None:
    kube = live.kube
    assert kube is not None
    install = mesh.detect_istio(kube)
    assert install is not None, "no istiod Deployment in istio-system"
    wanted = live.options.istio_version or versions.ISTIO_VERSION
    assert live.environment.istio_version == install.version
    if install.version != wanted:
        pytest.fail(f"cluster runs Istio {install.version}, the run asked for {wanted}")
    if not install.alpha_gateway_api:
        pytest.fail("istiod runs without PILOT_ENABLE_ALPHA_GATEWAY_API=true: TCPRoute is ignored")
    # Every readiness check holds now (a short budget: they held at set-up).
    mesh.wait_ready(kube, mesh.istio_readiness(), timeout=30)
    for crd in ("gateways", "httproutes", "tcproutes"):
        obj = kube.wait_established(f"{crd}.gateway.networking.k8s.io", timeout=30)
        assert obj["metadata"]["name"].startswith(crd)
    assert live.environment.kubernetes_version


def test_a_minimal_scenario_passes(live: LiveSession, tmp_path: Path) -> None:
    directory = tmp_path / "e2e-smoke"
    directory.mkdir()
    (directory / "scenario.yaml").write_text(SMOKE)
    result = live.run(load_scenario(directory))
    assert result.verdict == "pass", (
        result.error,
        [(s.name, s.error, [p.message for p in s.probes]) for s in result.steps],
    )
    (probe,) = result.steps[0].probes
    assert probe.observations[-1].served_by == "ratings-v1"
    assert probe.time_to_consistency_s is not None
    # The namespace was removed afterwards (unless --keep).
    assert live.kube is not None
    if not live.options.keep:
        assert live.kube.get(namespace_ref("e2e-smoke")) is None
