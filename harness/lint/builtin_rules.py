"""The API server's own validation of the built-in kinds scenarios apply, beyond their schema.

A subset of Kubernetes' `ValidateService`, `ValidateDeployment`, `ValidateConfigMap` and
`ValidateSecret`, worded as the API server words them (`spec.ports[1].name: Required value`,
`spec.selector: Invalid value: "v1.0-": a valid label must be ...`): the checks users get
wrong in a hand-written manifest. Like the API server, they run on the defaulted object
(a Service port's protocol defaults to TCP, its targetPort to its port) and only when the
object decoded (no type error): objects.py calls them after the schema check.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from harness.lint.apimachinery import (
    config_map_key,
    dns1123_label,
    dns1123_subdomain,
    label_key,
    label_value,
    port_name,
    port_number,
)
from harness.lint.openapi import FieldError
from harness.model.source import PathKey


def quoted(value: Any) -> str:
    """A bad value as Go's field errors print it: strings %q, numbers plain."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def invalid(path: PathKey, value: Any, msg: str, at: PathKey | None = None) -> FieldError:
    return FieldError(path, f"Invalid value: {quoted(value)}: {msg}", at=at)


def required(path: PathKey, detail: str = "") -> FieldError:
    return FieldError(path, f"Required value: {detail}" if detail else "Required value")


def labels(value: Any, path: PathKey, where: PathKey | None = None) -> list[FieldError]:
    """ValidateLabels: every error is reported at the map's path (`path`), pointing at the
    key's line (under `where`, the map's place in the manifest, default `path`)."""
    if not isinstance(value, dict):
        return []
    base = path if where is None else where
    out: list[FieldError] = []
    for key, v in value.items():
        k = str(key)
        out.extend(invalid(path, k, m, at=(*base, k)) for m in label_key(k))
        if isinstance(v, str):
            out.extend(invalid(path, v, m, at=(*base, k)) for m in label_value(v))
    return out


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _go_service_port(protocol: str, port: Any) -> str:
    # The key the API server reports a repeated (protocol, port) with: a Go struct literal.
    return (
        f'core.ServicePort{{Name:"", Protocol:"{protocol}", AppProtocol:(*string)(nil), '
        f'Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}'
    )


def _service_port(
    p: dict[str, Any], path: PathKey, need_name: bool, names: set[str]
) -> list[FieldError]:
    out: list[FieldError] = []
    name = p.get("name") or ""
    if need_name and not name:
        out.append(required((*path, "name")))
    elif isinstance(name, str) and name:
        out.extend(invalid((*path, "name"), name, m) for m in dns1123_label(name))
        if name in names:
            out.append(FieldError((*path, "name"), f"Duplicate value: {quoted(name)}"))
        names.add(name)
    target = p.get("targetPort")
    if isinstance(target, int) and not isinstance(target, bool) and target != 0:
        out.extend(invalid((*path, "targetPort"), target, m) for m in port_number(target))
    elif isinstance(target, str) and target:
        out.extend(invalid((*path, "targetPort"), target, m) for m in port_name(target))
    app = p.get("appProtocol")
    if isinstance(app, str):
        out.extend(invalid((*path, "appProtocol"), app, m) for m in label_key(app))
    return out


def service(data: dict[str, Any]) -> list[FieldError]:
    spec = _dict(data.get("spec"))
    kind = spec.get("type") or "ClusterIP"
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    headless = spec.get("clusterIP") == "None"
    out: list[FieldError] = []
    if not ports and not headless and kind != "ExternalName":
        out.append(required(("spec", "ports")))
    names: set[str] = set()
    for i, p in enumerate(ports):
        out.extend(_service_port(p, ("spec", "ports", i), len(ports) > 1, names))
        if kind == "ClusterIP" and p.get("nodePort"):
            detail = "may not be used when `type` is 'ClusterIP'"
            out.append(FieldError(("spec", "ports", i, "nodePort"), f"Forbidden: {detail}"))
    if kind == "ExternalName":
        cname = str(spec.get("externalName") or "").removesuffix(".")
        if cname:
            path: PathKey = ("spec", "externalName")
            out.extend(invalid(path, cname, m) for m in dns1123_subdomain(cname))
        else:
            out.append(required(("spec", "externalName")))
    else:
        out.extend(labels(spec.get("selector"), ("spec", "selector")))
    seen: set[tuple[str, Any]] = set()
    for i, p in enumerate(ports):
        key = (str(p.get("protocol") or "TCP"), p.get("port"))
        if key in seen:
            out.append(
                FieldError(("spec", "ports", i), f"Duplicate value: {_go_service_port(*key)}")
            )
        seen.add(key)
    return out


def _matches(selector: dict[str, Any], labels_: dict[str, Any]) -> bool:
    """Whether a LabelSelector (matchLabels and matchExpressions) selects `labels_`."""
    for k, v in _dict(selector.get("matchLabels")).items():
        if labels_.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        if not isinstance(expr, dict):
            continue
        key, op, values = str(expr.get("key")), expr.get("operator"), expr.get("values") or []
        present = key in labels_
        if (
            (op == "In" and labels_.get(key) not in values)
            or (op == "NotIn" and present and labels_.get(key) in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def _go_map(value: dict[str, Any]) -> str:
    items = ", ".join(
        f"{json.dumps(str(k))}:{json.dumps(str(v))}" for k, v in sorted(value.items())
    )
    return f"map[string]string{{{items}}}"


def _selector(selector: dict[str, Any], path: PathKey) -> list[FieldError]:
    out = labels(selector.get("matchLabels"), (*path, "matchLabels"))
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        if not isinstance(expr, dict):
            continue
        here: PathKey = (*path, "matchExpressions", i)
        op, values = expr.get("operator"), expr.get("values") or []
        if op in ("In", "NotIn") and not values:
            detail = "must be specified when `operator` is 'In' or 'NotIn'"
            out.append(required((*here, "values"), detail))
        elif op in ("Exists", "DoesNotExist") and values:
            detail = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            out.append(FieldError((*here, "values"), f"Forbidden: {detail}"))
        elif op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            out.append(invalid((*here, "operator"), op, "not a valid selector operator"))
        key = expr.get("key")
        if isinstance(key, str):
            out.extend(invalid((*here, "key"), key, m) for m in label_key(key))
    return out


def not_supported(path: PathKey, value: Any, supported: list[str]) -> FieldError:
    shown = ", ".join(quoted(v) for v in supported)
    return FieldError(path, f"Unsupported value: {quoted(value)}: supported values: {shown}")


def _container_ports(ports: Any, path: PathKey) -> list[FieldError]:
    out: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports if isinstance(ports, list) else []):
        if not isinstance(port, dict):
            continue
        here: PathKey = (*path, i)
        name = port.get("name")
        if isinstance(name, str) and name:
            if msgs := port_name(name):
                out.extend(invalid((*here, "name"), name, m) for m in msgs)
            elif name in names:
                out.append(FieldError((*here, "name"), f"Duplicate value: {quoted(name)}"))
            names.add(name)
        number = port.get("containerPort")
        if not number:
            out.append(required((*here, "containerPort")))
        elif isinstance(number, int):
            out.extend(invalid((*here, "containerPort"), number, m) for m in port_number(number))
        host = port.get("hostPort")
        if isinstance(host, int) and host:
            out.extend(invalid((*here, "hostPort"), host, m) for m in port_number(host))
    return out


def pod_spec(spec: dict[str, Any], path: PathKey) -> list[FieldError]:
    """validateContainers' common part: names, images, ports (of containers and init containers)."""
    out: list[FieldError] = []
    containers = spec.get("containers")
    if not containers:
        out.append(required((*path, "containers")))
    for section in ("initContainers", "containers"):
        names: set[str] = set()
        for i, ctr in enumerate(spec.get(section) or []):
            if not isinstance(ctr, dict):
                continue
            here: PathKey = (*path, section, i)
            name = ctr.get("name")
            if not name:
                out.append(required((*here, "name")))
            elif isinstance(name, str):
                out.extend(invalid((*here, "name"), name, m) for m in dns1123_label(name))
            if not ctr.get("image"):
                out.append(required((*here, "image")))
            out.extend(_container_ports(ctr.get("ports"), (*here, "ports")))
            if isinstance(name, str) and name:
                if name in names:
                    out.append(FieldError((*here, "name"), f"Duplicate value: {quoted(name)}"))
                names.add(name)
    return out


def deployment(data: dict[str, Any]) -> list[FieldError]:
    spec = _dict(data.get("spec"))
    selector = _dict(spec.get("selector"))
    out = _selector(selector, ("spec", "selector"))
    template = _dict(spec.get("template"))
    tmeta = _dict(template.get("metadata"))
    tlabels = _dict(tmeta.get("labels"))
    empty = not selector.get("matchLabels") and not selector.get("matchExpressions")
    if empty and "selector" in spec:
        shown = "map[string]string{}" if "matchLabels" in selector else "map[string]string(nil)"
        value = (
            f"v1.LabelSelector{{MatchLabels:{shown}, "
            "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
        )
        out.append(
            FieldError(
                ("spec", "selector"),
                f"Invalid value: {value}: empty selector is invalid for deployment",
            )
        )
    elif not out and not _matches(selector, tlabels):
        detail = "`selector` does not match template `labels`"
        path: PathKey = ("spec", "template", "metadata", "labels")
        out.append(FieldError(path, f"Invalid value: {_go_map(tlabels)}: {detail}"))
    pod = _dict(template.get("spec"))
    out.extend(pod_spec(pod, ("spec", "template", "spec")))
    policy = pod.get("restartPolicy") or "Always"  # the default
    if policy != "Always":
        out.append(not_supported(("spec", "template", "spec", "restartPolicy"), policy, ["Always"]))
    # ValidatePodTemplateSpec reports the template's labels at spec.template.labels.
    out.extend(
        labels(tlabels, ("spec", "template", "labels"), ("spec", "template", "metadata", "labels"))
    )
    return out


def _data_keys(data: dict[str, Any]) -> list[FieldError]:
    out: list[FieldError] = []
    for section in ("data", "binaryData", "stringData"):
        for key in _dict(data.get(section)):
            k = str(key)
            path: PathKey = (f"{section}[{k}]",)
            out.extend(invalid(path, k, m, at=(section, k)) for m in config_map_key(k))
    both = set(_dict(data.get("data"))) & set(_dict(data.get("binaryData")))
    for k in sorted(both, key=str):
        msg = "duplicate of key present in binaryData"
        out.append(invalid((f"data[{k}]",), str(k), msg, at=("data", str(k))))
    return out


def pod(data: dict[str, Any]) -> list[FieldError]:
    return pod_spec(_dict(data.get("spec")), ("spec",))


VALIDATORS: dict[tuple[str, str], Callable[[dict[str, Any]], list[FieldError]]] = {
    ("", "Service"): service,
    ("apps", "Deployment"): deployment,
    ("", "Pod"): pod,
    ("", "ConfigMap"): _data_keys,
    ("", "Secret"): _data_keys,
}


def validate_builtin(group: str, kind: str, data: dict[str, Any]) -> list[FieldError]:
    check = VALIDATORS.get((group, kind))
    return check(data) if check is not None else []
