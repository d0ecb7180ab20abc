"""Built-in Kubernetes kinds: which exist in which API group and version, their scope, and
small hand-written structural schemas in the CRDs' OpenAPI format (the API server's own
schemas are not shipped offline; these cover the fields scenarios use)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.lint.crds import Schema, Scope

_S: Schema = {"type": "string"}
_I: Schema = {"type": "integer"}
_B: Schema = {"type": "boolean"}
_MAP_S: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
_ANY_OBJ: Schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_ANY_LIST: Schema = {"type": "array", "items": _ANY_OBJ}


def _enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def _obj(props: Mapping[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    out: dict[str, Any] = {"type": "object", "properties": dict(props)}
    if required:
        out["required"] = list(required)
    return out


def _root(props: Mapping[str, Schema], preserve: bool = False) -> Schema:
    out = dict(_obj({**props, "status": _ANY_OBJ}))
    if preserve:
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


_SERVICE_PORT = _obj(
    {
        "name": _S,
        "protocol": _enum("TCP", "UDP", "SCTP"),
        "appProtocol": _S,
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "targetPort": {"x-kubernetes-int-or-string": True},
        "nodePort": _I,
    },
    required=("port",),
)
_SERVICE = _root(
    {
        "spec": _obj(
            {
                "ports": {"type": "array", "items": _SERVICE_PORT},
                "selector": _MAP_S,
                "type": _enum("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"),
                "clusterIP": _S,
                "clusterIPs": {"type": "array", "items": _S},
                "externalIPs": {"type": "array", "items": _S},
                "sessionAffinity": _enum("ClientIP", "None"),
                "sessionAffinityConfig": _ANY_OBJ,
                "loadBalancerIP": _S,
                "loadBalancerSourceRanges": {"type": "array", "items": _S},
                "loadBalancerClass": _S,
                "externalName": _S,
                "externalTrafficPolicy": _enum("Cluster", "Local"),
                "internalTrafficPolicy": _enum("Cluster", "Local"),
                "healthCheckNodePort": _I,
                "publishNotReadyAddresses": _B,
                "ipFamilies": {"type": "array", "items": _enum("IPv4", "IPv6")},
                "ipFamilyPolicy": _enum("SingleStack", "PreferDualStack", "RequireDualStack"),
                "allocateLoadBalancerNodePorts": _B,
                "trafficDistribution": _S,
            }
        )
    }
)


def _open(props: Mapping[str, Schema]) -> Schema:
    """An object whose listed fields are typed and whose other fields are not checked."""
    return {**_obj(props), "x-kubernetes-preserve-unknown-fields": True}


_CONTAINER_PORT = _obj(
    {
        "name": _S,
        "containerPort": _I,
        "hostPort": _I,
        "hostIP": _S,
        "protocol": _enum("TCP", "UDP", "SCTP"),
    }
)
_CONTAINER = _open(
    {
        "name": _S,
        "image": _S,
        "command": {"type": "array", "items": _S},
        "args": {"type": "array", "items": _S},
        "ports": {"type": "array", "items": _CONTAINER_PORT},
        "env": {"type": "array", "items": _open({"name": _S, "value": _S})},
        "imagePullPolicy": _enum("Always", "Never", "IfNotPresent"),
    }
)
_POD_SPEC = _open(
    {
        "containers": {"type": "array", "items": _CONTAINER},
        "initContainers": {"type": "array", "items": _CONTAINER},
        "serviceAccountName": _S,
        "restartPolicy": _enum("Always", "OnFailure", "Never"),
    }
)
_POD_TEMPLATE = _obj(
    {
        "metadata": _obj({"labels": _MAP_S, "annotations": _MAP_S, "name": _S, "namespace": _S}),
        "spec": _POD_SPEC,
    }
)
_LABEL_SELECTOR = _obj({"matchLabels": _MAP_S, "matchExpressions": _ANY_LIST})
_DEPLOYMENT = _root(
    {
        "spec": _obj(
            {
                "replicas": {"type": "integer", "minimum": 0},
                "selector": _LABEL_SELECTOR,
                "template": _POD_TEMPLATE,
                "strategy": _ANY_OBJ,
                "minReadySeconds": _I,
                "revisionHistoryLimit": _I,
                "paused": _B,
                "progressDeadlineSeconds": _I,
            },
            required=("selector", "template"),
        )
    }
)
_NAMESPACE = _root({"spec": _obj({"finalizers": {"type": "array", "items": _S}})})
_SERVICE_ACCOUNT = _root(
    {"secrets": _ANY_LIST, "imagePullSecrets": _ANY_LIST, "automountServiceAccountToken": _B}
)
_CONFIG_MAP = _root({"data": _MAP_S, "binaryData": _MAP_S, "immutable": _B})
_SECRET = _root({"data": _MAP_S, "stringData": _MAP_S, "type": _S, "immutable": _B})
# Kinds without a hand-written schema: metadata checks and "spec is a mapping" only.
_GENERIC = _root({"spec": _ANY_OBJ}, preserve=True)


@dataclass(frozen=True)
class Builtin:
    versions: tuple[str, ...]
    scope: Scope
    schema: Schema


def _builtins() -> dict[tuple[str, str], Builtin]:
    ns: Scope = "Namespaced"
    cl: Scope = "Cluster"
    v1 = ("v1",)
    table: dict[tuple[str, str], Builtin] = {
        ("", "Service"): Builtin(v1, ns, _SERVICE),
        ("", "Namespace"): Builtin(v1, cl, _NAMESPACE),
        ("", "ServiceAccount"): Builtin(v1, ns, _SERVICE_ACCOUNT),
        ("", "ConfigMap"): Builtin(v1, ns, _CONFIG_MAP),
        ("", "Secret"): Builtin(v1, ns, _SECRET),
        ("apps", "Deployment"): Builtin(v1, ns, _DEPLOYMENT),
    }
    generic = {
        "": {
            "Binding": ns, "ComponentStatus": cl, "Endpoints": ns, "Event": ns,
            "LimitRange": ns, "Node": cl, "PersistentVolume": cl,
            "PersistentVolumeClaim": ns, "PodTemplate": ns,
            "ReplicationController": ns, "ResourceQuota": ns,
        },
        "apps": {"StatefulSet": ns, "DaemonSet": ns, "ReplicaSet": ns, "ControllerRevision": ns},
        "batch": {"Job": ns, "CronJob": ns},
        "networking.k8s.io": {
            "NetworkPolicy": ns, "Ingress": ns, "IngressClass": cl, "IPAddress": cl,
            "ServiceCIDR": cl,
        },
        "rbac.authorization.k8s.io": {
            "Role": ns, "RoleBinding": ns, "ClusterRole": cl, "ClusterRoleBinding": cl,
        },
        "policy": {"PodDisruptionBudget": ns},
        "discovery.k8s.io": {"EndpointSlice": ns},
    }  # fmt: skip
    table[("", "Pod")] = Builtin(v1, ns, _root({"spec": _POD_SPEC}))
    for group, kinds in generic.items():
        for kind, scope in kinds.items():
            table[(group, kind)] = Builtin(v1, scope, _GENERIC)
    table[("autoscaling", "HorizontalPodAutoscaler")] = Builtin(("v2", "v1"), ns, _GENERIC)
    return table


BUILTINS = _builtins()
BUILTIN_GROUPS = frozenset(g for g, _ in BUILTINS) | {"autoscaling"}
# Istio and Gateway API groups: covered by the CRD files; their absence is reported once.
CRD_GROUP_SUFFIXES = (".istio.io", "gateway.networking.k8s.io", "gateway.networking.x-k8s.io")


def is_crd_group(group: str) -> bool:
    return group.endswith(CRD_GROUP_SUFFIXES)
