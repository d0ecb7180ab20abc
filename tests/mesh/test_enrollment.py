"""harness.mesh.enrollment: namespaces enrolled, pods really redirected or injected."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.fake_apiserver import FakeApiServer
from mesh_objects import (
    add_ns,
    app_pod,
)

from harness import mesh
from harness.kube.client import Kube
from harness.model.topology import NamespacePlan

# --- enrollment ------------------------------------------------------------------------------


def test_enroll_ambient_namespace_creates_it_with_its_labels(
    api: FakeApiServer, kube: Kube
) -> None:
    plan = NamespacePlan("ambient-authz-l4", "ambient", {"istio.io/dataplane-mode": "ambient"})
    mesh.enroll_namespace(kube, plan)
    (apply,) = api.patches(dry_run=False)
    assert apply.path == "/api/v1/namespaces/ambient-authz-l4"
    assert apply.body["metadata"]["labels"] == {"istio.io/dataplane-mode": "ambient"}


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
