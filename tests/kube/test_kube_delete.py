"""harness.kube: Deletes: propagation, and what an awaited delete waits for."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.fake_apiserver import ApiStatus, FakeApiServer
from kube_manifests import ns_doc, obj, owned, policy
from kubernetes.dynamic.exceptions import ConflictError

from harness.kube.client import Kube
from harness.kube.errors import WaitTimeout
from harness.kube.objects import (
    namespace_ref,
)


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
