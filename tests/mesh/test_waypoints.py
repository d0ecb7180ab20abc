"""harness.mesh.waypoints: the waypoint Gateway, its readiness, then its labels."""

from __future__ import annotations

import pytest
import yaml
from fakes.fake_apiserver import FakeApiServer
from mesh_objects import (
    add_ns,
    app_pod,
    becomes_ready_on,
    meta,
)

from harness import mesh
from harness.kube.client import Kube
from harness.kube.errors import WaitTimeout
from harness.model.topology import WaypointPlan

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
