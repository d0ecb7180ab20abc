"""harness.kube: ObjectRef, the apply order, manifests."""

from __future__ import annotations

from kube_manifests import ns_doc, obj, policy, widget_crd

from harness.kube.objects import (
    ObjectRef,
    namespace_ref,
    sort_for_apply,
)


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
