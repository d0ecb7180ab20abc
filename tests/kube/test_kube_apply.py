"""harness.kube server-side apply and the step preflight against the fake API server: the
request contract."""

from __future__ import annotations

import json

import pytest
import yaml
from fakes.fake_apiserver import FakeApiServer
from kube_manifests import (
    AP_PATH,
    AUTHZ_L4,
    ONE_OF,
    gateway_class,
    ns_doc,
    obj,
    policy,
    real_crd,
    widget_crd,
)
from kubernetes.dynamic.exceptions import ConflictError

from harness.kube.client import Kube
from harness.kube.errors import ApplyError, FieldTakeoverWarning
from harness.kube.objects import (
    FIELD_MANAGER,
    ObjectRef,
)


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
    api.add(real_crd("AuthorizationPolicy"))
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
