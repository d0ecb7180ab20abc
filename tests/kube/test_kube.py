"""harness.kube.client against the in-process fake API server: the request contract."""

from __future__ import annotations

import functools
import json
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml
from fakes.fake_apiserver import ApiStatus, FakeApiServer
from helpers import CRDS
from kubernetes.dynamic.exceptions import ConflictError

from harness.kube.client import Kube
from harness.kube.errors import ApplyError, FieldTakeoverWarning, WaitTimeout
from harness.kube.objects import (
    FIELD_MANAGER,
    ObjectRef,
    daemonset_ref,
    deployment_ref,
    namespace_ref,
    service_ref,
    sort_for_apply,
)

REPO = Path(__file__).resolve().parents[2]
AUTHZ_L4 = REPO / "scenarios" / "ambient-authz-l4" / "manifests" / "ratings-allow-productpage.yaml"
AP_PATH = (
    "/apis/security.istio.io/v1/namespaces/ambient-authz-l4/authorizationpolicies/"
    "ratings-allow-productpage"
)


def ns_doc(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def obj(api_version: str, kind: str, name: str, ns: str | None = None, **extra: Any) -> dict:
    meta: dict[str, Any] = {"name": name}
    if ns is not None:
        meta["namespace"] = ns
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **extra}


def policy(name: str, ns: str = "demo") -> dict[str, Any]:
    return obj("security.istio.io/v1", "AuthorizationPolicy", name, ns, spec={"action": "ALLOW"})


def widget_crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }


def test_object_ref_prints_kind_namespace_and_name() -> None:
    ref = ObjectRef("security.istio.io/v1", "AuthorizationPolicy", "ambient-authz-l4", "ratings")
    assert str(ref) == "AuthorizationPolicy ambient-authz-l4/ratings"
    assert str(namespace_ref("demo")) == "Namespace demo"
    assert ref.group == "security.istio.io"


def test_apply_order_puts_crds_and_namespaces_first_and_policies_last() -> None:
    docs = [
        policy("p"),
        obj("gateway.networking.k8s.io/v1", "HTTPRoute", "r", "demo"),
        obj("apps/v1", "Deployment", "d", "demo"),
        obj("gateway.networking.k8s.io/v1", "Gateway", "g", "demo"),
        obj("v1", "Service", "s", "demo"),
        obj("v1", "ServiceAccount", "sa", "demo"),
        ns_doc("demo"),
        widget_crd(),
    ]
    kinds = [d["kind"] for d in sort_for_apply(docs)]
    assert kinds == [
        "CustomResourceDefinition",
        "Namespace",
        "ServiceAccount",
        "Service",
        "Deployment",
        "Gateway",
        "AuthorizationPolicy",  # unknown kinds keep their document order
        "HTTPRoute",
    ]


def test_apply_step_sends_server_side_apply_to_the_manifests_namespace(
    api: FakeApiServer, kube: Kube
) -> None:
    api.add(ns_doc("ambient-authz-l4"))
    docs = list(yaml.safe_load_all(AUTHZ_L4.read_text()))

    refs = kube.apply_step(docs)

    assert [str(r) for r in refs] == [
        "AuthorizationPolicy ambient-authz-l4/ratings-allow-productpage"
    ]
    dry, real = api.patches(dry_run=True), api.patches(dry_run=False)
    assert [r.path for r in dry] == [AP_PATH]
    assert [r.path for r in real] == [AP_PATH]
    for r in dry + real:
        assert r.content_type == "application/apply-patch+yaml"
        assert r.param("fieldManager") == FIELD_MANAGER
        assert r.body["metadata"]["namespace"] == "ambient-authz-l4"
    # The dry run without force, so that the server names fields other managers own.
    assert [r.param("force") for r in dry] == ["False"]
    assert [r.param("force") for r in real] == ["True"]
    assert api.requests.index(dry[0]) < api.requests.index(real[0])
    stored = api.get("AuthorizationPolicy", "ambient-authz-l4", "ratings-allow-productpage")
    assert stored is not None and stored["spec"]["action"] == "ALLOW"


def test_namespace_is_applied_before_the_objects_in_it(api: FakeApiServer, kube: Kube) -> None:
    docs = [
        policy("allow", "fresh"),
        obj("v1", "Service", "ratings", "fresh", spec={"ports": [{"port": 9080}]}),
        obj("v1", "ServiceAccount", "bookinfo-ratings", "fresh"),
        ns_doc("fresh", **{"istio.io/dataplane-mode": "ambient"}),
    ]

    refs = kube.apply_step(docs)

    kinds = [r.kind for r in refs]
    assert kinds == ["Namespace", "ServiceAccount", "Service", "AuthorizationPolicy"]
    real = [r.path for r in api.patches(dry_run=False)]
    assert real[0] == "/api/v1/namespaces/fresh"
    # The namespace did not exist: its objects are dry-run only once it does.
    ns_applied = api.requests.index(api.patches(dry_run=False)[0])
    later_dry = [r.path for r in api.requests[ns_applied:] if r.is_apply and r.dry_run]
    assert "/api/v1/namespaces/fresh/services/ratings" in later_dry
    assert api.get("Service", "fresh", "ratings") is not None


def test_a_failing_preflight_applies_nothing(api: FakeApiServer, kube: Kube) -> None:
    api.add(ns_doc("demo"))
    message = 'AuthorizationPolicy.security.istio.io "bad" is invalid: spec.action: Unsupported'
    api.fail_dry_run("AuthorizationPolicy", "bad", message)
    docs = [obj("v1", "ServiceAccount", "sa", "demo"), policy("good"), policy("bad")]

    with pytest.raises(ApplyError) as err:
        kube.apply_step(docs)

    assert api.patches(dry_run=False) == []
    assert len(api.patches(dry_run=True)) == 3  # every document was checked
    text = str(err.value)
    assert "AuthorizationPolicy demo/bad" in text and message in text
    assert "nothing was applied" in text
    assert [f.ref.name for f in err.value.failures] == ["bad"]
    assert err.value.failures[0].status == 422 and err.value.failures[0].reason == "Invalid"
    assert api.get("ServiceAccount", "demo", "sa") is None


def test_preflight_lists_every_rejection(api: FakeApiServer, kube: Kube) -> None:
    api.add(ns_doc("demo"))
    api.fail_dry_run("AuthorizationPolicy", "a", "first problem")
    api.fail_dry_run("AuthorizationPolicy", "b", "second problem")
    with pytest.raises(ApplyError) as err:
        kube.preflight([policy("a"), policy("b")])
    assert [str(f.ref) for f in err.value.failures] == [
        "AuthorizationPolicy demo/a",
        "AuthorizationPolicy demo/b",
    ]
    assert "first problem" in str(err.value) and "second problem" in str(err.value)


def test_preflight_lists_every_client_side_rejection_too(api: FakeApiServer, kube: Kube) -> None:
    # Issue 11 item 10: a manifest with no apiVersion used to end the preflight at once.
    api.add(ns_doc("demo"))
    no_api_version = {"kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "demo"}}
    no_name = obj("v1", "ConfigMap", "x", "demo")
    del no_name["metadata"]["name"]
    not_served = obj("telemetry.istio.io/v1", "Telemetry", "mesh", "demo")
    no_namespace = policy("p")
    del no_namespace["metadata"]["namespace"]
    api.fail_dry_run("AuthorizationPolicy", "rejected", "server says no")

    with pytest.raises(ApplyError) as err:
        kube.apply_step(
            [no_api_version, policy("fine"), no_name, not_served, no_namespace, policy("rejected")]
        )

    assert sorted(str(f.ref) for f in err.value.failures) == [
        "(no apiVersion) ConfigMap demo/cm",
        "AuthorizationPolicy demo/rejected",
        "AuthorizationPolicy p",
        "ConfigMap demo/(no name)",
        "Telemetry demo/mesh",
    ]
    assert "nothing was applied" in str(err.value)
    assert api.patches(dry_run=False) == []


def test_unknown_kind_fails_preflight_without_any_patch(api: FakeApiServer, kube: Kube) -> None:
    api.add(ns_doc("demo"))
    doc = obj("telemetry.istio.io/v1", "Telemetry", "mesh", "demo")
    with pytest.raises(ApplyError) as err:
        kube.apply_step([doc, policy("p")])
    assert "Telemetry demo/mesh" in str(err.value)
    assert "is its CRD installed?" in str(err.value)
    assert api.patches(dry_run=False) == []


def test_crd_created_in_the_same_step_is_applied_then_its_objects_preflighted() -> None:
    with FakeApiServer(crd_established_after=3) as api:
        kube = Kube(api.api_client(), poll_interval=0.005)
        api.add(ns_doc("demo"))
        widget = obj("example.com/v1", "Widget", "w1", "demo", spec={"size": 3})

        refs = kube.apply_step([widget, widget_crd()])

        crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"
        w_path = "/apis/example.com/v1/namespaces/demo/widgets/w1"
        seq = [(r.path, r.dry_run) for r in api.patches()]
        assert seq == [(crd_path, True), (crd_path, False), (w_path, True), (w_path, False)]
        assert [r.kind for r in refs] == ["CustomResourceDefinition", "Widget"]
        # The widget waited for its CRD to be Established (3rd read).
        assert api.reads("CustomResourceDefinition", None, "widgets.example.com") >= 3
        assert api.get("Widget", "demo", "w1") is not None
        kube.close()


def test_rejected_object_after_its_new_crd_names_what_was_applied(
    api: FakeApiServer, kube: Kube
) -> None:
    api.add(ns_doc("demo"))
    api.fail_dry_run("Widget", "w1", "spec.size: must be at most 2")
    widget = obj("example.com/v1", "Widget", "w1", "demo", spec={"size": 3})
    with pytest.raises(ApplyError) as err:
        kube.apply_step([widget_crd(), widget])
    assert [str(r) for r in err.value.applied] == ["CustomResourceDefinition widgets.example.com"]
    assert "already applied: CustomResourceDefinition widgets.example.com" in str(err.value)
    assert not [r for r in api.patches(dry_run=False) if "widgets/w1" in r.path]


def test_apply_stops_at_the_first_rejection(api: FakeApiServer, kube: Kube) -> None:
    api.add(ns_doc("demo"))
    api.fail_apply(
        "AuthorizationPolicy", "second", "admission webhook denied", code=403, reason="Forbidden"
    )
    with pytest.raises(ApplyError) as err:
        kube.apply([policy("first"), policy("second"), policy("third")])
    assert err.value.phase == "apply"
    assert [r.name for r in err.value.applied] == ["first"]
    assert "admission webhook denied" in str(err.value)
    assert not [r for r in api.patches() if r.path.endswith("/third")]


def test_namespace_comes_from_metadata_or_the_explicit_default(
    api: FakeApiServer, kube: Kube
) -> None:
    api.add(ns_doc("fallback"))
    no_ns = obj("v1", "ConfigMap", "cm")
    with pytest.raises(ApplyError) as err:
        kube.preflight([no_ns])
    assert "metadata.namespace is required" in str(err.value)
    assert api.patches() == []

    kube.apply_step([no_ns], default_namespace="fallback")
    assert [r.path for r in api.patches(dry_run=False)] == [
        "/api/v1/namespaces/fallback/configmaps/cm"
    ]


def test_cluster_scoped_objects_are_sent_without_a_namespace(
    api: FakeApiServer, kube: Kube
) -> None:
    role = obj("rbac.authorization.k8s.io/v1", "ClusterRole", "reader", "ignored", rules=[])
    (ref,) = kube.apply_step([role])
    assert ref.namespace is None
    (real,) = api.patches(dry_run=False)
    assert real.path == "/apis/rbac.authorization.k8s.io/v1/clusterroles/reader"
    assert "namespace" not in real.body["metadata"]


def test_delete_namespace_waits_until_it_is_gone() -> None:
    with FakeApiServer(linger_reads=3) as api:
        kube = Kube(api.api_client(), poll_interval=0.005)
        kube.ensure_namespace("ambient-authz-l4", {"istio.io/dataplane-mode": "ambient"})
        api.add(obj("v1", "ConfigMap", "cm", "ambient-authz-l4"))

        kube.delete_namespace("ambient-authz-l4", wait=True, timeout=5)

        (delete,) = api.calls("DELETE")
        assert delete.path == "/api/v1/namespaces/ambient-authz-l4"
        assert delete.param("propagationPolicy") == "Background"
        polls = [r for r in api.calls("GET", "/api/v1/namespaces/ambient-authz-l4")]
        assert len(polls) >= 4  # 3 reads while terminating, then the 404
        assert api.get("Namespace", None, "ambient-authz-l4") is None
        assert api.get("ConfigMap", "ambient-authz-l4", "cm") is None
        kube.close()


def test_deleting_a_namespace_that_is_already_terminating_waits_for_it() -> None:
    """A real API server answers 409 Conflict to DELETE of a Terminating namespace (it is
    "ensuring all content is removed"); a rerun right after a Ctrl-C meets exactly that."""
    with FakeApiServer(linger_reads=3) as api:
        original = api.handle_delete
        conflicts: list[str] = []

        def delete_like_a_real_server(r: Any, query: Any) -> Any:
            stored = api.get(r.rtype.kind, r.namespace, r.name)
            terminating = stored is not None and stored["metadata"].get("deletionTimestamp")
            if terminating or r.name == "busy":
                conflicts.append(r.name)
                raise ApiStatus(409, "Conflict", f"Operation cannot be fulfilled on {r.name}")
            return original(r, query)

        api.handle_delete = delete_like_a_real_server  # type: ignore[method-assign]
        kube = Kube(api.api_client(), poll_interval=0.005)
        kube.ensure_namespace("left-over")
        kube.delete_namespace("left-over", wait=False)  # the interrupted run
        kube.delete_namespace("left-over", wait=True, timeout=5)  # the rerun

        assert conflicts == ["left-over"]
        assert len(api.calls("DELETE")) == 2
        assert api.get("Namespace", None, "left-over") is None
        # A conflict on anything but a Namespace is still an error.
        kube.ensure_namespace("demo")
        api.add(policy("busy"))
        with pytest.raises(ConflictError):
            kube.delete([policy("busy")], wait=False)
        kube.close()


def test_delete_wait_times_out_naming_the_object() -> None:
    with FakeApiServer(linger_reads=10_000) as api:
        kube = Kube(api.api_client(), poll_interval=0.005)
        kube.ensure_namespace("stuck")
        with pytest.raises(WaitTimeout) as err:
            kube.delete([namespace_ref("stuck")], wait=True, timeout=0.05)
        assert "Namespace stuck" in str(err.value)
        assert "to be deleted" in str(err.value) and "deleting since" in str(err.value)
        kube.close()


def test_delete_uses_background_for_leaf_objects_and_ignores_missing_ones(
    api: FakeApiServer, kube: Kube
) -> None:
    api.add(ns_doc("demo"))
    api.add(policy("p"))
    refs = kube.delete([policy("p"), policy("never-existed")], wait=True, timeout=2)
    assert {r.name for r in refs} == {"p", "never-existed"}
    deletes = api.calls("DELETE")
    assert {d.param("propagationPolicy") for d in deletes} == {"Background"}
    assert api.get("AuthorizationPolicy", "demo", "p") is None


def owned(kind: str, name: str, owner: dict[str, Any], api_version: str = "v1") -> dict[str, Any]:
    ref = {
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    o = obj(api_version, kind, name, "demo")
    o["metadata"]["ownerReferences"] = [ref]
    return o


def test_an_awaited_delete_of_an_owner_waits_for_its_dependents(
    api: FakeApiServer, kube: Kube
) -> None:
    api.add(ns_doc("demo"))
    dep = api.add(obj("apps/v1", "Deployment", "ratings", "demo"))
    rs = api.add(owned("ReplicaSet", "ratings-5d8f9", dep, "apps/v1"))
    api.add(owned("Pod", "ratings-5d8f9-x1", rs))

    kube.delete([obj("apps/v1", "Deployment", "ratings", "demo")], wait=True, timeout=2)

    assert api.calls("DELETE")[-1].param("propagationPolicy") == "Foreground"
    assert api.objects("ReplicaSet") == [] and api.objects("Pod") == []
    api.add(obj("apps/v1", "Deployment", "q", "demo"))
    kube.delete([obj("apps/v1", "Deployment", "q", "demo")], wait=False)
    assert api.calls("DELETE")[-1].param("propagationPolicy") == "Background"


def test_deletes_of_leaf_objects_need_no_garbage_collector() -> None:
    """Issue 11 item 8: without kube-controller-manager a Foreground delete never ends, even
    for an AuthorizationPolicy that owns nothing."""
    with FakeApiServer(controllers=False) as api:
        kube = Kube(api.api_client(), poll_interval=0.005)
        api.add(ns_doc("demo"))
        api.add(policy("leaf"))
        api.add(obj("v1", "ConfigMap", "cm", "demo"))
        kube.delete([policy("leaf"), obj("v1", "ConfigMap", "cm", "demo")], timeout=1)
        assert api.objects("AuthorizationPolicy") == [] and api.objects("ConfigMap") == []
        kube.close()


def test_a_delete_timeout_says_what_the_deletion_waits_for() -> None:
    with FakeApiServer(controllers=False) as api:
        kube = Kube(api.api_client(), poll_interval=0.005)
        api.add(ns_doc("demo"))
        api.add(obj("apps/v1", "Deployment", "ratings", "demo"))
        with pytest.raises(WaitTimeout) as err:
            kube.delete([obj("apps/v1", "Deployment", "ratings", "demo")], timeout=0.05)
        assert "waiting for finalizer foregroundDeletion (the garbage collector" in str(err.value)
        assert "kube-controller-manager" in str(err.value)

        guarded = obj("v1", "ConfigMap", "guarded", "demo")
        guarded["metadata"]["finalizers"] = ["example.com/cleanup"]
        api.add(guarded)
        with pytest.raises(WaitTimeout) as err:
            kube.delete([obj("v1", "ConfigMap", "guarded", "demo")], timeout=0.05)
        assert "waiting for finalizer example.com/cleanup (removed by the controller" in str(
            err.value
        )
        with pytest.raises(WaitTimeout) as err:
            kube.delete_namespace("demo", timeout=0.05)
        assert "status.phase=Terminating" in str(err.value)
        assert "spec.finalizers=['kubernetes'] (the namespace controller" in str(err.value)
        kube.close()


def gateway(ns: str = "demo", name: str = "waypoint") -> dict[str, Any]:
    return obj(
        "gateway.networking.k8s.io/v1",
        "Gateway",
        name,
        ns,
        spec={"gatewayClassName": "istio-waypoint"},
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


def event(name: str, about: str, reason: str, message: str, **when: str) -> dict[str, Any]:
    return {
        **obj("v1", "Event", name, "demo"),
        "type": when.pop("type", "Warning"),
        "reason": reason,
        "message": message,
        "involvedObject": {"kind": "Pod", "name": about},
        **when,
    }


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


def test_long_waits_report_progress_with_elapsed_seconds(api: FakeApiServer) -> None:
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


def test_ensure_namespace_and_label(api: FakeApiServer, kube: Kube) -> None:
    kube.ensure_namespace("demo", {"istio.io/dataplane-mode": "ambient"})
    (apply,) = api.patches(dry_run=False)
    assert apply.path == "/api/v1/namespaces/demo"
    assert apply.body["metadata"]["labels"] == {"istio.io/dataplane-mode": "ambient"}

    api.add(obj("v1", "Service", "ratings", "demo", spec={"ports": [{"port": 9080}]}))
    kube.label(service_ref("demo", "ratings"), {"istio.io/use-waypoint": "waypoint"})
    (patch,) = api.calls("PATCH", "/api/v1/namespaces/demo/services/ratings")
    assert patch.content_type == "application/merge-patch+json"
    assert patch.body == {"metadata": {"labels": {"istio.io/use-waypoint": "waypoint"}}}
    svc = api.get("Service", "demo", "ratings")
    assert svc is not None and svc["spec"]["ports"] == [{"port": 9080}]
    assert svc["metadata"]["labels"] == {"istio.io/use-waypoint": "waypoint"}

    kube.label(service_ref("demo", "ratings"), {"istio.io/use-waypoint": None})
    svc = api.get("Service", "demo", "ratings")
    assert svc is not None and "istio.io/use-waypoint" not in svc["metadata"].get("labels", {})


def pod(
    ns: str,
    name: str,
    *,
    labels: dict[str, str] | None = None,
    containers: tuple[str, ...] = ("app",),
) -> dict[str, Any]:
    p = obj(
        "v1",
        "Pod",
        name,
        ns,
        spec={"nodeName": "n1", "containers": [{"name": c} for c in containers]},
    )
    p["metadata"]["labels"] = labels or {}
    p["status"] = {"phase": "Running"}
    return p


def test_pods_logs_events_and_version(api: FakeApiServer, kube: Kube) -> None:
    api.add(ns_doc("demo"))
    api.add(pod("demo", "agent-a", labels={"app": "agent"}))
    api.add(pod("demo", "echo-b", labels={"app": "echo"}, containers=("echo", "istio-proxy")))
    api.set_logs("demo", "echo-b", "".join(f"line {i}\n" for i in range(10)), container="echo")
    for i, when in enumerate(["2030-01-01T00:00:02Z", "2030-01-01T00:00:01Z"]):
        api.add(obj("v1", "Event", f"ev{i}", "demo", lastTimestamp=when, reason=f"R{i}"))

    assert [p["metadata"]["name"] for p in kube.pods("demo", "app=echo")] == ["echo-b"]
    assert len(kube.pods("demo")) == 2
    text = kube.pod_logs("demo", "echo-b", "echo", tail_lines=3, limit_bytes=12)
    assert text == "line 7\nline "
    (logreq,) = api.calls("GET", "/api/v1/namespaces/demo/pods/echo-b/log")
    assert logreq.param("container") == "echo"
    assert logreq.param("tailLines") == "3" and logreq.param("limitBytes") == "12"
    assert [e["reason"] for e in kube.events("demo")] == ["R1", "R0"]
    assert kube.server_version() == "v1.35.8"


def test_get_of_a_kind_the_server_does_not_serve_is_none(kube: Kube) -> None:
    assert kube.get(ObjectRef("example.com/v9", "Nothing", "demo", "x")) is None
    assert kube.get(deployment_ref("demo", "absent")) is None


def test_a_hung_api_server_fails_a_call_instead_of_blocking_it(api: FakeApiServer) -> None:
    kube = Kube(api.api_client(), request_timeout=0.02)
    api.add(ns_doc("demo"))
    api.add(obj("apps/v1", "Deployment", "slow", "demo"))
    assert kube.get(deployment_ref("demo", "slow")) is not None  # discovery done
    api.on_read("Deployment", "demo", "slow", lambda o, n: time.sleep(0.1) if n >= 2 else None)
    with pytest.raises(urllib3.exceptions.HTTPError, match="ReadTimeoutError"):
        kube.get(deployment_ref("demo", "slow"))
    kube.close()
    # Let the fake finish answering the client's retries (one at a time) inside this test,
    # so its complaints about the closed connections stay in this test's captured output.
    time.sleep(0.1 * 4 + 0.1)


def test_api_errors_are_described_by_the_servers_message_not_its_headers() -> None:
    from kubernetes.client.exceptions import ApiException

    from harness.kube.errors import api_error_text
    from harness.run.runner import describe_error as _describe

    err = ApiException(status=403, reason="Forbidden")
    err.body = (
        b'{"kind":"Status","reason":"Forbidden","message":"customresourcedefinitions is '
        b'forbidden: User \\"dev\\" cannot create resource"}'
    )
    err.headers = {"Audit-Id": "0f00", "Content-Type": "application/json"}
    text = api_error_text(err)
    assert text == (
        'HTTP 403 Forbidden: customresourcedefinitions is forbidden: User "dev" cannot '
        "create resource"
    )
    assert _describe(err) == f"ApiException: {text}"
    assert "Audit-Id" in str(err) and "Audit-Id" not in _describe(err)
    assert api_error_text(ValueError("x")) is None


# --- field validation (issue 9 item 6) --------------------------------------------------------


@functools.cache
def _istio_crds() -> dict[str, dict[str, Any]]:
    bundle = CRDS / "istio-1.30.3-crd-all.gen.yaml"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    docs = [d for d in yaml.load_all(bundle.read_text(), Loader=loader) if d]
    return {
        d["spec"]["names"]["kind"]: d for d in docs if d.get("kind") == "CustomResourceDefinition"
    }


def _real_crd(kind: str) -> dict[str, Any]:
    """The pinned Istio CRD of `kind`, as the real server would serve its schema."""
    return dict(_istio_crds()[kind])


def test_every_server_side_apply_asks_for_strict_field_validation(
    api: FakeApiServer, kube: Kube
) -> None:
    api.add(ns_doc("demo"))

    kube.apply_step([policy("p1"), obj("v1", "ConfigMap", "c1", "demo", data={"a": "b"})])
    kube.ensure_namespace("other", {"k": "v"})

    sent = api.patches()
    assert len(sent) == 5  # two dry runs, two applies, one namespace
    assert {r.param("fieldValidation") for r in sent} == {"Strict"}


def test_a_field_the_schema_does_not_declare_fails_the_preflight_naming_it(
    api: FakeApiServer, kube: Kube
) -> None:
    api.add(_real_crd("AuthorizationPolicy"))
    api.add(ns_doc("demo"))
    bad = obj("security.istio.io/v1", "AuthorizationPolicy", "typo", "demo", spec={"acton": "DENY"})

    with pytest.raises(ApplyError) as err:
        kube.apply_step([policy("fine"), bad])

    # As kube-apiserver answers it: 500 and no Status.reason; the message names the field.
    (failure,) = err.value.failures
    assert failure.status == 500
    assert ".spec.acton: field not declared in schema" in failure.message
    assert "[500 Internal Server Error]" in str(err.value) and "nothing was applied" in str(
        err.value
    )
    assert api.patches(dry_run=False) == []


def test_an_unverified_tls_api_server_is_reported_once_not_per_request(tmp_path: Path) -> None:
    # Issue 11 item 12: urllib3 printed InsecureRequestWarning for each of 89 requests.
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    with (
        FakeApiServer(tls=(str(cert), str(key))) as api,
        warnings.catch_warnings(record=True) as seen,
    ):
        warnings.simplefilter("always")
        kube = Kube(api.api_client(verify_ssl=False), poll_interval=0.005)
        for _ in range(5):
            kube.get(namespace_ref("demo"))
        kube.close()

    kinds = [type(w.message).__name__ for w in seen]
    assert kinds.count("UnverifiedTLSWarning") == 1
    assert "InsecureRequestWarning" not in kinds
    assert api.calls("GET", "/api/v1/namespaces/demo")  # the requests did go over TLS


# --- fields owned by other field managers (issue 11 item 11) --------------------------------


def gateway_class(description: str) -> dict[str, Any]:
    return obj(
        "gateway.networking.k8s.io/v1",
        "GatewayClass",
        "istio-waypoint",
        spec={"controllerName": "istio.io/mesh-controller", "description": description},
    )


def test_a_forced_apply_reports_each_field_it_takes_over(api: FakeApiServer) -> None:
    api.add(gateway_class("made by istiod"), field_manager="pilot-discovery")
    said: list[str] = []
    kube = Kube(api.api_client(), poll_interval=0.005, notice=said.append)

    kube.apply_step([gateway_class("made by the harness")])

    assert said == [
        "GatewayClass istio-waypoint: the forced apply takes over 1 field from "
        '"pilot-discovery" using gateway.networking.k8s.io/v1: .spec.description'
    ]
    stored = api.get("GatewayClass", None, "istio-waypoint")
    assert stored is not None and stored["spec"]["description"] == "made by the harness"
    # The same values again: the harness owns them now, nothing to take over or say.
    kube.apply_step([gateway_class("made by the harness")])
    assert len(said) == 1


def test_without_a_notice_callback_a_takeover_is_a_warning(api: FakeApiServer, kube: Kube) -> None:
    api.add(gateway_class("made by istiod"), field_manager="pilot-discovery")
    with pytest.warns(FieldTakeoverWarning, match=r"takes over 1 field .*\.spec\.description"):
        kube.apply_step([gateway_class("mine")])


def test_the_409_conflict_is_what_a_non_forced_apply_gets(api: FakeApiServer, kube: Kube) -> None:
    """The stand-in answers as kube-apiserver does: 409 listing the fields, unless force."""
    api.add(gateway_class("made by istiod"), field_manager="pilot-discovery")
    ref = ObjectRef("gateway.networking.k8s.io/v1", "GatewayClass", None, "istio-waypoint")
    with pytest.raises(ConflictError) as err:
        kube.server_side_apply(gateway_class("mine"), ref, dry_run=False, force=False)
    body = json.loads(err.value.body)
    assert body["reason"] == "Conflict" and body["message"] == (
        'Apply failed with 1 conflict: conflict with "pilot-discovery" using '
        "gateway.networking.k8s.io/v1: .spec.description"
    )
    assert body["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "pilot-discovery" using gateway.networking.k8s.io/v1',
            "field": ".spec.description",
        }
    ]
    managers = {
        m["manager"]
        for m in kube.server_side_apply(gateway_class("mine"), ref, dry_run=False, force=True)[
            "metadata"
        ]["managedFields"]
    }
    assert managers == {FIELD_MANAGER, "pilot-discovery"}  # it keeps .spec.controllerName


ONE_OF = 'spec: Invalid value: "object": only one of targetRefs or selector can be set'


def test_an_invalid_merge_with_another_managers_fields_is_refused_naming_them(
    api: FakeApiServer, kube: Kube
) -> None:
    # A foreign targetRefs merged with the harness's selector: the error names a field that
    # is not in the manifest, so the refusal must say where it comes from.
    api.add(ns_doc("demo"))
    foreign = obj(
        "security.istio.io/v1",
        "AuthorizationPolicy",
        "ratings",
        "demo",
        spec={"targetRefs": [{"kind": "Service", "group": "", "name": "ratings"}]},
    )
    api.add(foreign, field_manager="kubectl-edit")
    api.validate(
        "AuthorizationPolicy",
        lambda o: ONE_OF if {"selector", "targetRefs"} <= set(o.get("spec") or {}) else None,
    )
    mine = obj(
        "security.istio.io/v1",
        "AuthorizationPolicy",
        "ratings",
        "demo",
        spec={"selector": {"matchLabels": {"app": "ratings"}}, "action": "ALLOW"},
    )

    with pytest.raises(ApplyError) as err:
        kube.apply_step([mine])

    text = str(err.value)
    assert ONE_OF in text and "[422 Invalid]" in text
    assert "merged with the fields other field managers own" in text
    assert '"kubectl-edit" owns .spec.targetRefs' in text
    assert "nothing was applied" in text and api.patches(dry_run=False) == []
