"""harness.kube waits: conditions, Deployments as `kubectl rollout status` waits, DaemonSets,
and timeout messages that say why."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.fake_apiserver import FakeApiServer
from kube_manifests import event, gateway, ns_doc, obj

from harness.kube import wait as wait_module
from harness.kube.client import Kube
from harness.kube.errors import WaitTimeout
from harness.kube.objects import (
    ObjectRef,
    daemonset_ref,
    service_ref,
)


def test_wait_timeout_names_the_object_and_its_last_conditions(
    api: FakeApiServer, kube: Kube
) -> None:
    api.add(ns_doc("demo"))
    api.add(gateway())
    api.set_conditions(
        "Gateway",
        "demo",
        "waypoint",
        [
            {"type": "Accepted", "status": "True", "reason": "Accepted", "message": ""},
            {
                "type": "Programmed",
                "status": "False",
                "reason": "Invalid",
                "message": "no healthy pods",
            },
        ],
    )
    ref = ObjectRef("gateway.networking.k8s.io/v1", "Gateway", "demo", "waypoint")
    with pytest.raises(WaitTimeout) as err:
        kube.wait_condition(ref, "Programmed", "True", timeout=0.05)
    text = str(err.value)
    assert "Gateway demo/waypoint" in text and "Programmed=True" in text
    assert "Accepted=True Accepted" in text
    assert "Programmed=False Invalid: no healthy pods" in text


def test_wait_condition_polls_until_the_condition_holds(api: FakeApiServer, kube: Kube) -> None:
    api.add(ns_doc("demo"))
    api.add(gateway())
    api.condition_after("Gateway", "demo", "waypoint", "Programmed", reads=4)
    ref = ObjectRef("gateway.networking.k8s.io/v1", "Gateway", "demo", "waypoint")
    got = kube.wait_condition(ref, "Programmed", timeout=5)
    assert any(c["type"] == "Programmed" for c in got["status"]["conditions"])
    assert api.reads("Gateway", "demo", "waypoint") == 4


def test_wait_for_a_missing_object_says_so(kube: Kube) -> None:
    with pytest.raises(WaitTimeout) as err:
        kube.wait_exists(service_ref("nowhere", "ratings"), timeout=0.03)
    assert "Service nowhere/ratings" in str(err.value) and "object not found" in str(err.value)


ALL_READY_1 = {"replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}


def test_deployment_available_needs_the_current_generation(api: FakeApiServer, kube: Kube) -> None:
    api.add(ns_doc("istio-system"))
    dep = obj("apps/v1", "Deployment", "istiod", "istio-system")
    dep["metadata"]["generation"] = 2
    dep["status"] = {
        "observedGeneration": 1,
        **ALL_READY_1,
        "conditions": [{"type": "Available", "status": "True"}],
    }
    api.add(dep)
    with pytest.raises(WaitTimeout):
        kube.wait_deployment_available("istio-system", "istiod", timeout=0.03)

    def observe(o: dict[str, Any], n: int) -> None:
        o["status"]["observedGeneration"] = 2

    api.on_read("Deployment", "istio-system", "istiod", observe)
    kube.wait_deployment_available("istio-system", "istiod", timeout=2)


def test_a_deployment_timeout_says_what_its_pods_wait_for(api: FakeApiServer, kube: Kube) -> None:
    api.add(ns_doc("demo"))
    dep = obj("apps/v1", "Deployment", "ratings-v1", "demo")
    dep["spec"] = {"selector": {"matchLabels": {"app": "ratings", "version": "v1"}}}
    dep["status"] = {
        "conditions": [
            {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"}
        ]
    }
    api.add(dep)
    pulling = obj("v1", "Pod", "ratings-v1-5d8f9-x1", "demo")
    pulling["metadata"]["labels"] = {"app": "ratings", "version": "v1"}
    pulling["status"] = {
        "phase": "Pending",
        "containerStatuses": [
            {
                "name": "echo",
                "state": {
                    "waiting": {
                        "reason": "ImagePullBackOff",
                        "message": 'Back-off pulling image "python:3.12-slim"',
                    }
                },
            }
        ],
    }
    api.add(pulling)
    other = obj("v1", "Pod", "agent-a-1", "demo")
    other["metadata"]["labels"] = {"app": "agent-a"}
    api.add(other)
    with pytest.raises(WaitTimeout) as err:
        kube.wait_deployment_available("demo", "ratings-v1", timeout=0.03)
    assert "Available=False MinimumReplicasUnavailable" in str(err.value)
    assert (
        "pods: ratings-v1-5d8f9-x1 Pending (echo: ImagePullBackOff: Back-off pulling image "
        '"python:3.12-slim")'
    ) in str(err.value)
    assert "agent-a-1" not in str(err.value)


def test_a_deployment_timeout_names_pod_conditions_and_the_latest_warnings(
    api: FakeApiServer, kube: Kube
) -> None:
    # Issue 11 item 9: `pods: ratings-v1-... Pending` hid `PodScheduled=False Unschedulable`.
    api.add(ns_doc("demo"))
    dep = obj("apps/v1", "Deployment", "ratings-v1", "demo")
    dep["spec"] = {"replicas": 1, "selector": {"matchLabels": {"app": "ratings"}}}
    api.add(dep)
    pending = obj("v1", "Pod", "ratings-v1-5d8f9-x1", "demo")
    pending["metadata"]["labels"] = {"app": "ratings"}
    pending["status"] = {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "no nodes available to schedule pods",
            }
        ],
    }
    api.add(pending)
    pod_name = "ratings-v1-5d8f9-x1"
    for i, sec in enumerate(["01", "02", "03", "04"]):
        api.add(
            event(
                f"e{i}",
                pod_name,
                "FailedScheduling",
                f"attempt {i}",
                lastTimestamp=f"2030-01-01T00:00:{sec}Z",
            )
        )
    # Microseconds against seconds: a string comparison would put this one first.
    api.add(
        event("e5", pod_name, "FailedScheduling", "newest", eventTime="2030-01-01T00:00:04.250000Z")
    )
    api.add(
        event(
            "n",
            pod_name,
            "Scheduled",
            "not a warning",
            type="Normal",
            lastTimestamp="2030-01-01T00:00:09Z",
        )
    )
    api.add(
        event("o", "other-pod", "BackOff", "someone else's", lastTimestamp="2030-01-01T00:00:09Z")
    )

    with pytest.raises(WaitTimeout) as err:
        kube.wait_deployment_available("demo", "ratings-v1", timeout=0.03)

    text = str(err.value)
    assert (
        "ratings-v1-5d8f9-x1 Pending (PodScheduled=False Unschedulable: "
        "no nodes available to schedule pods)"
    ) in text
    warnings = text.split("latest warnings: ")[1]
    assert [w.rsplit(": ", 1)[1] for w in warnings.split(" | ")] == [
        "attempt 2",
        "attempt 3",
        "newest",
    ]
    assert "not a warning" not in text and "someone else's" not in text


def test_a_deployment_with_fewer_ready_replicas_than_declared_is_not_rolled_out(
    api: FakeApiServer, kube: Kube
) -> None:
    # Issue 11 item 7: replicas 4 with a quota for 3 is Available=True (maxUnavailable 25 %).
    api.add(ns_doc("demo"))
    dep = obj("apps/v1", "Deployment", "ratings-v1", "demo", spec={"replicas": 4})
    dep["metadata"]["generation"] = 1
    three = {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3}
    dep["status"] = {
        "observedGeneration": 1,
        **three,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}
        ],
    }
    api.add(dep)
    with pytest.raises(WaitTimeout) as err:
        kube.wait_deployment_available("demo", "ratings-v1", timeout=0.05)
    assert "replicas 4: updated 3, ready 3, available 3, total 3" in str(err.value)

    def old_replica_left(o: dict[str, Any], n: int) -> None:  # all updated, one old one left
        o["status"].update(replicas=5, updatedReplicas=4, readyReplicas=4, availableReplicas=4)

    api.on_read("Deployment", "demo", "ratings-v1", old_replica_left)
    with pytest.raises(WaitTimeout):
        kube.wait_deployment_available("demo", "ratings-v1", timeout=0.05)

    def rolled_out(o: dict[str, Any], n: int) -> None:
        o["status"]["replicas"] = 4

    api.on_read("Deployment", "demo", "ratings-v1", rolled_out)
    kube.wait_deployment_available("demo", "ratings-v1", timeout=2)


def test_daemonset_rollout_wait_reports_counts(api: FakeApiServer, kube: Kube) -> None:
    api.add(ns_doc("istio-system"))
    ds = obj("apps/v1", "DaemonSet", "ztunnel", "istio-system")
    ds["metadata"]["generation"] = 1
    ds["status"] = {
        "observedGeneration": 1,
        "desiredNumberScheduled": 3,
        "numberReady": 2,
        "updatedNumberScheduled": 3,
    }
    api.add(ds)
    with pytest.raises(WaitTimeout) as err:
        kube.wait_daemonset_rolled_out("istio-system", "ztunnel", timeout=0.03)
    assert "DaemonSet istio-system/ztunnel" in str(err.value)
    assert "desired=3 ready=2 updated=3" in str(err.value)

    def ready(o: dict[str, Any], n: int) -> None:
        o["status"]["numberReady"] = 3

    api.on_read("DaemonSet", "istio-system", "ztunnel", ready)
    kube.wait_daemonset_rolled_out("istio-system", "ztunnel", timeout=2)
    assert kube.get(daemonset_ref("istio-system", "ztunnel")) is not None


class SteppedClock:
    """`time` for harness.kube.wait: sleeping advances it, nothing else does, so a wait's
    reports and timeout do not depend on how long the fake API server takes to answer
    (under load one answer took longer than the whole 0.05 s: one report, not several)."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_long_waits_report_progress_with_elapsed_seconds(
    api: FakeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wait_module, "time", SteppedClock())
    seen: list[tuple[str, float]] = []
    kube = Kube(
        api.api_client(),
        poll_interval=0.005,
        progress=lambda m, s: seen.append((m, s)),
        progress_every=0.0,
    )
    with pytest.raises(WaitTimeout):
        kube.wait_deployment_available("x", "y", timeout=0.05)
    assert seen and all("Deployment x/y" in m for m, _ in seen)
    assert seen[-1][1] > seen[0][1] >= 0
    kube.close()


def test_a_pod_wait_timeout_names_its_failing_conditions_and_warnings(
    api: FakeApiServer, kube: Kube
) -> None:
    api.add(ns_doc("demo"))
    pending = obj("v1", "Pod", "agent-a-7c9-x1", "demo")
    pending["metadata"]["labels"] = {"app": "agent-a"}
    unschedulable = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/1 nodes are available: 1 node(s) had untolerated taint.",
    }
    pending["status"] = {"phase": "Pending", "conditions": [unschedulable]}
    api.add(pending)
    api.add(
        event(
            "e1",
            "agent-a-7c9-x1",
            "FailedScheduling",
            "0/1 nodes are available",
            lastTimestamp="2030-01-01T00:00:01Z",
        )
    )

    with pytest.raises(WaitTimeout) as err:
        kube.wait_pod_ready("demo", "app=agent-a", timeout=0.03)

    text = str(err.value)
    assert "agent-a-7c9-x1 Pending (PodScheduled=False Unschedulable: 0/1 nodes" in text
    assert (
        "latest warnings: 2030-01-01T00:00:01Z Warning FailedScheduling Pod/agent-a-7c9-x1" in text
    )
