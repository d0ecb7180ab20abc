"""Mistakes Istio accepts silently: objects the API server takes and Istio then ignores, or
expectations no data plane can meet. Each message says what Istio does instead.

The per-step world (which Services a waypoint serves, each namespace's data plane) comes from
the mesh model (`harness.predict.world`), so lint and the model agree on who is in the path
(docs/architecture.md §5).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.lint.findings import Findings, hint, listing
from harness.lint.references import GATEWAY_GROUP, mappings, meta_of, str_or_none, type_of
from harness.model.outcome import Kind
from harness.model.scenario import Scenario, Step
from harness.model.source import Document, PathKey, format_path
from harness.model.topology import USE_WAYPOINT, WAYPOINT_CLASS
from harness.predict import Predicted, predict_scenario
from harness.predict.authz import Request, envoy_check
from harness.predict.world import Obj, World, worlds

# GatewayClasses istiod creates and serves (pilot/pkg/config/kube/gateway, builtin classes).
KNOWN_GATEWAY_CLASSES = ("istio", "istio-east-west", "istio-remote", "istio-waypoint")
# What ztunnel can see of a rule (the model's authz.py lists the same; istio#61126).
_L7_OPERATION = frozenset({"hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"})
_L7_SOURCE = frozenset(
    {"remoteIpBlocks", "notRemoteIpBlocks", "requestPrincipals", "notRequestPrincipals"}
)
_L4_WHEN = frozenset(
    {"source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port"}
)


def _add(
    out: Findings, seen: set[tuple[Path, int, str]], doc: Document, path: PathKey, msg: str
) -> None:
    problem = doc.problem(list(path), f"{format_path(path)}: {msg}")
    key = (problem.file, problem.line, problem.message)
    if key not in seen:  # the same object lives on in later steps' worlds
        seen.add(key)
        out.problems.append(problem)


def check_silent(
    s: Scenario,
    doc: Document,
    manifests: Mapping[str, list[Document]],
    out: Findings,
    predicted: Iterable[Predicted] | None = None,
) -> None:
    """Every silent mistake of a scenario whose files are otherwise sound (`manifests`: each
    loaded manifest by its normalised path; `predicted`: the scenario's predictions, when the
    caller has them, so lint predicts once)."""
    seen: set[tuple[Path, int, str]] = set()
    _same_object_in_two_files(s, manifests, out, seen)
    _waypoints(s, doc, manifests, out, seen)
    for step, world in worlds(s, manifests):
        for obj in world.of_kind("AuthorizationPolicy"):
            if obj.doc is not None:
                _target_refs(obj, obj.doc, world, step.name, out, seen)
                _http_only_deny(obj, obj.doc, world, step, out, seen)
        for obj in world.of_kind("TCPRoute"):
            if obj.doc is not None:
                _tcp_route_on_http_port(obj, obj.doc, world, out, seen)
    for item in predict_scenario(s, manifests) if predicted is None else predicted:
        p, expect = item.prediction, item.probe.expect
        if expect.l7 is True and p.l7 is False and not p.uncertain and item.probe.model_gap is None:
            path: PathKey = ("steps", item.step_index, "probes", item.probe_index, "expect", "l7")
            hops = " -> ".join(p.path)
            _add(
                out,
                seen,
                doc,
                path,
                f"expects l7 true, but no Envoy is in the path ({hops}): no sidecar or waypoint "
                "adds an x-request-id, so the backend sees the request as the client sent it; "
                "add a waypoint for the Service (waypoints[].services) or expect l7 false",
            )


def _same_object_in_two_files(
    s: Scenario,
    manifests: Mapping[str, list[Document]],
    out: Findings,
    seen: set[tuple[Path, int, str]],
) -> None:
    """One step applying two files that define the same object: the later apply replaces the
    earlier one whole (server-side apply, one field manager), so only one takes effect."""
    for step in s.steps:
        defined: dict[tuple[str, str, str, str], tuple[str, Document]] = {}
        for rel in dict.fromkeys(posixpath.normpath(r) for r in step.apply):
            for d in manifests.get(rel, []):
                if not isinstance(d.data, dict):
                    continue
                group, kind = type_of(d.data)
                meta = meta_of(d.data)
                name = str_or_none(meta.get("name"))
                if not kind or name is None:
                    continue
                ns = str_or_none(meta.get("namespace")) or s.namespace
                key = (group, kind, ns, name)
                if key in defined and defined[key][0] != rel:
                    first, first_doc = defined[key]
                    first_line = first_doc.line_of(["metadata", "name"])
                    _add(
                        out,
                        seen,
                        d,
                        ("metadata", "name"),
                        f'{kind} "{name}" is also defined in {first}:{first_line}, applied in '
                        f"the same step ({step.name!r}): this later apply replaces it, so only "
                        "this definition takes effect",
                    )
                defined.setdefault(key, (rel, d))


def _labels(data: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The object's labels, and its pod template's."""
    yield meta_of(dict(data)).get("labels") or {}
    spec = data.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    if isinstance(template, dict):
        yield meta_of(template).get("labels") or {}


def _waypoints(
    s: Scenario,
    doc: Document,
    manifests: Mapping[str, list[Document]],
    out: Findings,
    seen: set[tuple[Path, int, str]],
) -> None:
    """A waypoint nothing is labelled to use, or one in a namespace that runs sidecars."""
    used: set[str] = {str(ns.labels.get(USE_WAYPOINT)) for ns in s.namespaces if ns.labels}
    gateways: list[tuple[Document, str, str]] = []
    for docs in manifests.values():
        for d in docs:
            if not isinstance(d.data, dict):
                continue
            for labels in _labels(d.data):
                if isinstance(labels, dict) and isinstance(labels.get(USE_WAYPOINT), str):
                    used.add(labels[USE_WAYPOINT])
            group, kind = type_of(d.data)
            spec = d.data.get("spec")
            name = str_or_none(meta_of(d.data).get("name"))
            if (
                group == GATEWAY_GROUP
                and kind == "Gateway"
                and isinstance(spec, dict)
                and spec.get("gatewayClassName") == WAYPOINT_CLASS
                and name is not None
            ):
                ns = str_or_none(meta_of(d.data).get("namespace")) or s.namespace
                gateways.append((d, name, ns))
    for w in s.waypoints:
        if w.services or w.enroll_namespace:
            used.add(w.name)
    found: list[tuple[Document, PathKey, str, str]] = [
        (doc, ("waypoints", i, "name"), w.name, s.namespace_of(w.namespace))
        for i, w in enumerate(s.waypoints)
    ]
    found += [(d, ("metadata", "name"), name, ns) for d, name, ns in gateways]
    for d, path, name, ns in found:
        if name not in used:
            _add(
                out,
                seen,
                d,
                path,
                f'waypoint "{name}" is used by nothing: no Service, namespace or pod is labelled '
                f"{USE_WAYPOINT}={name}, so Istio deploys it but sends no traffic through it "
                "(ztunnel alone decides, no L7); list the Services in waypoints[].services or "
                "set enroll_namespace",
            )
        elif s.mode_of(ns) == "sidecar":
            # The model follows istiod's sidecar interop (predict/path.py): a client sidecar
            # hands a Service with a waypoint to it, routing included.
            _add(
                out,
                seen,
                d,
                path,
                f'waypoint "{name}" is in namespace {ns}, which runs sidecars: Istio sends the '
                "sidecars' requests for its Services to the waypoint and leaves routing to it, "
                "so the client sidecar no longer routes them (VirtualService) and the scenario "
                "no longer shows sidecar mode; remove the waypoint or run the namespace in "
                "ambient",
            )


def _target_refs(
    obj: Obj, d: Document, world: World, step: str, out: Findings, seen: set[tuple[Path, int, str]]
) -> None:
    """A policy attached to a Service is enforced by that Service's waypoint only."""
    refs = obj.spec.get("targetRefs")
    for i, ref in mappings(refs if isinstance(refs, list) else []):
        if ref.get("kind") != "Service" or ref.get("group", "") not in ("", "core"):
            continue
        name = str_or_none(ref.get("name"))
        ns = str_or_none(ref.get("namespace")) or obj.namespace
        svc = world.services.get((ns, name or ""))
        if svc is None:
            continue  # an unknown Service is reported by the reference checks
        if world.service_waypoint(svc) is not None:
            continue  # ambient clients and sidecars (interop) both reach it through its waypoint
        _add(
            out,
            seen,
            d,
            ("spec", "targetRefs", i, "name"),
            f'Service "{name}" is served by no waypoint in step {step!r}: Istio enforces a '
            "targetRefs policy only at a waypoint and ignores this one, so requests pass as if "
            "it did not exist; give the Service a waypoint (waypoints[].services) or use a "
            "selector",
        )


def _tcp_route_on_http_port(
    obj: Obj, d: Document, world: World, out: Findings, seen: set[tuple[Path, int, str]]
) -> None:
    """Istio makes a TCPRoute VirtualService `tcp` routes, which apply only to ports that are
    not HTTP or TLS: on an HTTP port of a waypoint's Service it is ignored (predict/routes.py)."""
    refs = obj.spec.get("parentRefs")
    for i, ref in mappings(refs if isinstance(refs, list) else []):
        if ref.get("kind") != "Service" or ref.get("group", "") != "":
            continue
        ns = str_or_none(ref.get("namespace")) or obj.namespace
        svc = world.services.get((ns, str_or_none(ref.get("name")) or ""))
        if svc is None or world.service_waypoint(svc) is None:
            continue  # unknown Services and Services without a waypoint are reported elsewhere
        ports = [p for p in svc.ports if ref.get("port") in (None, p.port) and p.is_http]
        for port in ports:
            _add(
                out,
                seen,
                d,
                ("spec", "parentRefs", i),
                f'Service "{svc.name}" port {port.port} is HTTP: Istio applies a TCPRoute only '
                "to ports that are not HTTP or TLS, so its waypoint ignores this route and "
                "routes the requests as HTTP; declare the port TCP (appProtocol: tcp or a "
                "tcp- name) or use an HTTPRoute",
            )


def _http_only(rule: Mapping[str, Any]) -> list[str]:
    """The HTTP attributes of a rule made of nothing else ([] when it has an L4 attribute)."""
    l7: list[str] = []
    for _, t in mappings(rule.get("to")):
        op = t.get("operation")
        for key in op if isinstance(op, dict) else {}:
            if key not in _L7_OPERATION:
                return []
            l7.append(key)
    for _, f in mappings(rule.get("from")):
        src = f.get("source")
        for key in src if isinstance(src, dict) else {}:
            if key not in _L7_SOURCE:
                return []
            l7.append(key)
    for _, cond in mappings(rule.get("when")):
        key = str(cond.get("key", ""))
        if key in _L4_WHEN:
            return []
        l7.append(key)
    return list(dict.fromkeys(l7))


def _shown_ignored(obj: Obj, rule: Mapping[str, Any], world: World, step: Step) -> bool:
    """A probe of the step sends a request the rule names and expects it allowed: the
    scenario shows the rule being ignored (a lesson, not a mistake)."""
    alone = Obj(obj.kind, obj.namespace, obj.name, {"spec": {"action": "DENY", "rules": [rule]}})
    for probe in step.probes:
        if probe.expect.outcome != Kind.ALLOWED:
            continue
        url = urlsplit(probe.url)
        request = Request(
            world.client_pod(probe.from_).principal,
            url.port or 80,
            probe.method,
            url.path or "/",
            url.hostname or "",
            {k.lower(): v for k, v in probe.headers.items()},
        )
        if not envoy_check([alone], request).allowed:
            return True
    return False


def _http_only_deny(
    obj: Obj, d: Document, world: World, step: Step, out: Findings, seen: set[tuple[Path, int, str]]
) -> None:
    """A selector (or namespace-wide) DENY in ambient is enforced by ztunnel, at L4."""
    if obj.spec.get("action") != "DENY" or obj.spec.get("targetRefs") or obj.spec.get("targetRef"):
        return
    if world.mode(obj.namespace) != "ambient":
        return
    rules = obj.spec.get("rules")
    for i, rule in mappings(rules if isinstance(rules, list) else []):
        l7 = _http_only(rule)
        if l7 and not _shown_ignored(obj, rule, world, step):
            _add(
                out,
                seen,
                d,
                ("spec", "rules", i),
                f"a DENY rule made only of HTTP attributes ({', '.join(l7)}) in a policy "
                "without targetRefs: in ambient the destination ztunnel enforces it, sees no "
                "HTTP and ignores the rule (istio#61126), so nothing is denied; attach the "
                "policy to a waypoint with targetRefs",
            )


def gateway_class_problem(name: str, defined: set[str]) -> str | None:
    """A Gateway whose class no controller serves is never Accepted: nothing is deployed."""
    if name in KNOWN_GATEWAY_CLASSES or name in defined:
        return None
    known = [*KNOWN_GATEWAY_CLASSES, *sorted(defined)]
    return (
        f'"{name}" is not a GatewayClass Istio serves{hint(name, known)}; known: '
        f"{listing(known)}: Istio ignores this Gateway (it is never Accepted and no proxy is "
        "deployed for it)"
    )
