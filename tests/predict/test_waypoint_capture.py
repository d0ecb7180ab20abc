"""Which traffic a waypoint captures: istio.io/use-waypoint on a Service or its namespace,
`none` to opt out, istio.io/waypoint-for, waypoints declared as manifests, sidecar clients."""

from __future__ import annotations

from typing import Any

import pytest
from predict_builders import NS, Predict, probe


def service(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"app": "ratings", **labels}},
        "spec": {"selector": {"app": "ratings"}, "ports": [{"name": "http", "port": 9080}]},
    }


def gateway(name: str, for_: str = "service") -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "labels": {"istio.io/waypoint-for": for_}},
        "spec": {
            "gatewayClassName": "istio-waypoint",
            "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}],
        },
    }


def test_a_namespace_enrolled_in_a_waypoint_sends_every_service_through_it(
    predict_probes: Predict,
) -> None:
    wps = [{"name": "ns-waypoint", "enroll_namespace": True}]
    got = predict_probes(waypoints=wps, probes=[probe()])
    assert got[0].path[2] == f"waypoint {NS}/ns-waypoint" and got[0].l7 is True


def test_a_service_label_none_opts_out_of_the_namespace_waypoint(predict_probes: Predict) -> None:
    wps = [{"name": "ns-waypoint", "enroll_namespace": True}]
    manifests = [service("ratings", {"istio.io/use-waypoint": "none"})]
    got = predict_probes(waypoints=wps, manifests=manifests, probes=[probe()])
    assert got[0].l7 is False and not any(h.startswith("waypoint") for h in got[0].path)


@pytest.mark.parametrize(("for_", "used"), [("service", True), ("all", True), ("workload", False)])
def test_waypoint_for_decides_whether_service_traffic_uses_it(
    predict_probes: Predict, for_: str, used: bool
) -> None:
    manifests = [gateway("wp", for_), service("ratings", {"istio.io/use-waypoint": "wp"})]
    got = predict_probes(manifests=manifests, probes=[probe()])
    assert (got[0].path[2] == f"waypoint {NS}/wp") is used
    assert got[0].l7 is used


def test_a_label_naming_no_waypoint_changes_nothing(predict_probes: Predict) -> None:
    manifests = [service("ratings", {"istio.io/use-waypoint": "missing"})]
    got = predict_probes(manifests=manifests, probes=[probe()])
    assert got[0].l7 is False and not any(h.startswith("waypoint") for h in got[0].path)


def test_a_sidecar_client_uses_the_services_waypoint(predict_probes: Predict) -> None:
    namespaces = [{"name": NS}, {"name": f"{NS}-sc", "dataplane": "sidecar"}]
    clients = [{"name": "productpage", "namespace": f"{NS}-sc"}]
    waypoints = [{"name": "waypoint", "services": ["ratings"]}]
    got = predict_probes(
        namespaces=namespaces,
        clients=clients,
        waypoints=waypoints,
        probes=[probe(url=f"http://ratings.{NS}:9080/ratings/1")],
    )
    assert got[0].path[:3] == ["productpage", "sidecar (client)", f"waypoint {NS}/waypoint"]


def test_a_pod_label_does_not_capture_service_addressed_traffic(predict_probes: Predict) -> None:
    """istio.io/use-waypoint on a pod (a Deployment's pod template) applies to traffic
    addressed to the workload itself; a probe addresses the Service by name, so it goes to
    the Service's waypoint (none here) and the pod's waypoint is not in its path
    (https://istio.io/latest/docs/ambient/usage/waypoint/)."""
    pod_labels = {"app": "ratings", "version": "v1", "istio.io/use-waypoint": "wp"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "ratings-v1-extra"},
        "spec": {
            "selector": {"matchLabels": pod_labels},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {"containers": [{"name": "echo", "image": "echo"}]},
            },
        },
    }
    got = predict_probes(manifests=[gateway("wp", "all"), deployment], probes=[probe()])
    assert got[0].l7 is False and not any(h.startswith("waypoint") for h in got[0].path)


@pytest.mark.parametrize(("for_", "used"), [("all", True), ("workload", False)])
def test_a_namespace_waypoint_for_workloads_only_leaves_service_traffic_alone(
    predict_probes: Predict, for_: str, used: bool
) -> None:
    namespaces = [{"name": NS, "labels": {"istio.io/use-waypoint": "wp"}}]
    got = predict_probes(namespaces=namespaces, manifests=[gateway("wp", for_)], probes=[probe()])
    assert any(h.startswith("waypoint") for h in got[0].path) is used
