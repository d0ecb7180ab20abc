"""Routing objects, as the proxy that applies them reads them: HTTPRoute and TCPRoute at a
waypoint, VirtualService (with DestinationRule subsets) at a client sidecar or a waypoint.

`Route` is what one matched rule tells the proxy: where to send (weighted backends), which
headers to set, the timeout, the retries, a fault. No route is `default_route`: the Service
itself, no timeout, Istio's default retry policy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.predict.world import Obj, Service, World

# Istio's default retry policy: 2 retries on connect-failure, refused-stream, unavailable,
# cancelled; 503 is not retried (pilot/pkg/networking/core/route/retry/retry.go,
# EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY on by default).
DEFAULT_RETRIES = 2
GATEWAY_ERRORS = frozenset({502, 503, 504})
DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")


@dataclass(frozen=True)
class Backend:
    service: Service | None  # None: the reference resolves to nothing
    weight: int
    subset: Mapping[str, str] = field(default_factory=dict)  # extra labels (DestinationRule)
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or (self.service.name if self.service else "?")


@dataclass
class Route:
    obj: Obj | None
    rule: str  # "rules[1]", "http[0]"
    backends: list[Backend]
    request_headers: dict[str, str] = field(default_factory=dict)
    response_headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float | None = None
    retries: int = DEFAULT_RETRIES
    retry_codes: frozenset[int] = frozenset()
    retry_any_5xx: bool = False
    abort: int | None = None
    abort_percent: float = 0.0
    delay_s: float = 0.0
    delay_percent: float = 0.0
    direct_status: int | None = None
    uncertain: str | None = None
    ignored: str | None = None  # a route object bound to the Service that does not apply

    def where(self) -> str:
        return f"{self.obj} {self.rule}" if self.obj else "no route: the Service itself"

    def summary(self) -> str:
        """What the rule does, in the words of the talk: weights, headers, timeout, retries."""
        parts = []
        live = [b for b in self.backends if b.weight > 0]
        if len(live) > 1:
            total = sum(b.weight for b in live)
            parts.append(
                "weights " + ", ".join(f"{b.label} {b.weight * 100 / total:g}%" for b in live)
            )
        elif live:
            parts.append(f"to {live[0].label}")
        parts += [f"sets request header {k}: {v}" for k, v in self.request_headers.items()]
        parts += [f"sets response header {k}: {v}" for k, v in self.response_headers.items()]
        if self.timeout_s is not None:
            parts.append(f"timeout {self.timeout_s:g}s")
        if self.retry_codes or self.retry_any_5xx:
            codes = ", ".join(str(c) for c in sorted(self.retry_codes)) or "5xx"
            parts.append(f"{self.retries} retries on {codes}")
        if self.ignored:
            parts.append(self.ignored)
        return f"{self.where()}: {'; '.join(parts)}" if parts else self.where()

    # Follows istio/istio/pilot/pkg/networking/core/route/retry/retry.go
    def retried(self, status: int) -> bool:
        return self.retries > 0 and (
            status in self.retry_codes or (self.retry_any_5xx and status >= 500)
        )


# Follows istio/istio/pilot/pkg/networking/core/route/retry/retry.go
def default_route(svc: Service) -> Route:
    return Route(None, "", [Backend(svc, 1)])


# Follows https://gateway-api.sigs.k8s.io/geps/gep-2257/
def duration_s(value: Any) -> float | None:
    """Gateway API (GEP-2257) and protobuf durations: `1s`, `500ms`, `1h30m`, `0.5s`."""
    if not isinstance(value, str) or not value:
        return None
    total, pos = 0.0, 0
    for m in DURATION.finditer(value):
        if m.start() != pos:
            return None
        n = float(m.group(1))
        total += {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}[m.group(2)] * n
        pos = m.end()
    return total if pos == len(value) else None


# Follows istio/istio/pilot/pkg/config/kube/gateway/conversion.go
def _ref_service(world: World, ns: str, name: Any) -> Service | None:
    return world.services.get((ns, str(name)))


# ---- Gateway API: HTTPRoute and TCPRoute with a Service parent (GAMMA) ----


def _parents_service(obj: Obj, svc: Service, port: int) -> bool:
    """https://gateway-api.sigs.k8s.io/concepts/gamma/: parentRefs kind Service, group "";
    a parentRef with a port binds only that port."""
    for ref in obj.spec.get("parentRefs") or []:
        if not isinstance(ref, dict) or ref.get("kind") != "Service" or ref.get("group", "") != "":
            continue
        same = ref.get("name") == svc.name and ref.get("namespace", obj.namespace) == svc.namespace
        if same and ref.get("port") in (None, port):
            return True
    return False


# Follows https://gateway-api.sigs.k8s.io/reference/spec/#httprouterule
def _path_match(match: Mapping[str, Any], path: str) -> bool:
    spec = match.get("path") or {}
    kind, value = spec.get("type", "PathPrefix"), str(spec.get("value", "/"))
    if kind == "Exact":
        return path == value
    if kind == "RegularExpression":
        return re.fullmatch(value, path) is not None
    prefix = value.rstrip("/")
    return prefix == "" or path == prefix or path.startswith(prefix + "/")  # element-wise


# Follows https://gateway-api.sigs.k8s.io/reference/spec/#httprouterule
def _headers_match(match: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
    for h in match.get("headers") or []:
        got = headers.get(str(h.get("name", "")).lower())
        if got is None:
            return False
        if h.get("type", "Exact") == "RegularExpression":
            if re.fullmatch(str(h.get("value", "")), got) is None:
                return False
        elif got != str(h.get("value", "")):
            return False
    return True


# Follows https://gateway-api.sigs.k8s.io/reference/spec/#httprouterule
def _http_match(
    match: Mapping[str, Any], method: str, path: str, headers: Mapping[str, str]
) -> bool:
    if match.get("method") not in (None, method):
        return False
    return _path_match(match, path) and _headers_match(match, headers)


def _precedence(match: Mapping[str, Any]) -> tuple[int, int, int, int, int]:
    """HTTPRouteRule precedence: Exact path, longest prefix, method, most header matches,
    most query matches (https://gateway-api.sigs.k8s.io/reference/spec/#httprouterule)."""
    spec = match.get("path") or {}
    kind = {"Exact": 0, "PathPrefix": 1}.get(spec.get("type", "PathPrefix"), 2)
    return (
        kind,
        -len(str(spec.get("value", "/"))),
        0 if match.get("method") else 1,
        -len(match.get("headers") or []),
        -len(match.get("queryParams") or []),
    )


# Follows https://gateway-api.sigs.k8s.io/reference/spec/#httprouterule
def _modifier(filters: list[Any], kind: str, key: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in filters:
        if isinstance(f, dict) and f.get("type") == kind:
            body = f.get(key) or {}
            for entry in [*(body.get("add") or []), *(body.get("set") or [])]:
                out[str(entry.get("name", "")).lower()] = str(entry.get("value", ""))
    return out


# Follows istio/istio/pilot/pkg/config/kube/gateway/conversion.go
def _gateway_backends(world: World, obj: Obj, refs: list[Any]) -> list[Backend]:
    out = []
    for ref in refs:
        if not isinstance(ref, dict) or ref.get("kind", "Service") != "Service":
            continue
        ns = str(ref.get("namespace", obj.namespace))
        weight = ref.get("weight", 1)
        svc = _ref_service(world, ns, ref.get("name"))
        out.append(
            Backend(svc, int(weight) if isinstance(weight, int) else 1, name=str(ref.get("name")))
        )
    return out


# Follows istio/istio/pilot/pkg/config/kube/gateway/conversion.go
def http_route(
    world: World, svc: Service, port: int, method: str, path: str, headers: Mapping[str, str]
) -> Route | None:
    """The HTTPRoute rule a waypoint applies to this request, if any route binds the Service."""
    candidates = []
    routes = [o for o in world.of_kind("HTTPRoute") if _parents_service(o, svc, port)]
    for order, obj in enumerate(routes):
        for i, rule in enumerate(obj.spec.get("rules") or []):
            for match in (rule.get("matches") or [{}]) if isinstance(rule, dict) else []:
                candidates.append((_precedence(match), order, i, obj, rule, match))
    for _, _, i, obj, rule, match in sorted(candidates, key=lambda c: c[:3]):
        if not _http_match(match, method, path, headers):
            continue
        filters = rule.get("filters") or []
        route = Route(
            obj, f"rules[{i}]", _gateway_backends(world, obj, rule.get("backendRefs") or [])
        )
        route.request_headers = _modifier(filters, "RequestHeaderModifier", "requestHeaderModifier")
        route.response_headers = _modifier(
            filters, "ResponseHeaderModifier", "responseHeaderModifier"
        )
        redirect = next(
            (f for f in filters if isinstance(f, dict) and f.get("type") == "RequestRedirect"), None
        )
        if redirect is not None:
            route.direct_status = int(
                (redirect.get("requestRedirect") or {}).get("statusCode", 302)
            )
        route.timeout_s = duration_s((rule.get("timeouts") or {}).get("request"))
        retry = rule.get("retry")
        if isinstance(retry, dict):
            # Istio maps `attempts` to Envoy's num_retries
            # (pilot/pkg/config/kube/gateway/conversion.go).
            attempts = retry.get("attempts")
            route.retries = int(attempts) if isinstance(attempts, int) else DEFAULT_RETRIES
            route.retry_codes = frozenset(int(c) for c in retry.get("codes") or [])
        return route
    return None


# Follows istio/istio/pilot/pkg/config/kube/gateway/conversion.go
def tcp_route(world: World, svc: Service, port: int) -> Route | None:
    """A TCPRoute bound to the Service port: one weighted choice per connection."""
    for obj in world.of_kind("TCPRoute"):
        if _parents_service(obj, svc, port):
            rules = obj.spec.get("rules") or [{}]
            rule = rules[0] if isinstance(rules[0], dict) else {}
            return Route(
                obj,
                "rules[0]",
                _gateway_backends(world, obj, rule.get("backendRefs") or []),
                retries=0,
            )
    return None


def ignored_tcp_route(world: World, svc: Service, port: int) -> str | None:
    """A TCPRoute bound to an HTTP port: Istio turns it into VirtualService `tcp` routes,
    which apply only to ports that are not HTTP or TLS
    (https://istio.io/latest/docs/reference/config/networking/virtual-service/#VirtualService),
    so the waypoint routes the request as HTTP without it."""
    route = tcp_route(world, svc, port)
    if route is None or route.obj is None:
        return None
    return (
        f"{route.obj} does not apply: port {port} is HTTP, and Istio applies TCP routes "
        "only to ports that are not HTTP or TLS"
    )


# ---- Istio: VirtualService and DestinationRule ----


def host_matches(host: str, obj_ns: str, svc: Service) -> bool:
    """A short host is qualified with the object's namespace
    (https://istio.io/latest/docs/reference/config/networking/virtual-service/#VirtualService)."""
    fqdn = f"{svc.name}.{svc.namespace}.svc.cluster.local"
    if host == "*":
        return True
    if host.startswith("*."):
        return fqdn.endswith(host[1:])
    if "." not in host:
        return host == svc.name and obj_ns == svc.namespace
    return fqdn == host or fqdn.startswith(host + ".")


# Follows https://istio.io/latest/docs/reference/config/networking/destination-rule/
def _subsets(world: World, svc: Service) -> dict[str, Mapping[str, str]]:
    for obj in world.of_kind("DestinationRule"):
        if host_matches(str(obj.spec.get("host", "")), obj.namespace, svc):
            return {
                str(s.get("name")): dict(s.get("labels") or {})
                for s in obj.spec.get("subsets") or []
                if isinstance(s, dict)
            }
    return {}


# Follows https://istio.io/latest/docs/reference/config/networking/virtual-service/
def _string_match(spec: Mapping[str, Any], value: str) -> bool:
    if "exact" in spec:
        return value == str(spec["exact"])
    if "prefix" in spec:
        return value.startswith(str(spec["prefix"]))
    if "regex" in spec:
        return re.fullmatch(str(spec["regex"]), value) is not None
    return True


# Follows https://istio.io/latest/docs/reference/config/networking/virtual-service/
def _vs_match(
    match: Mapping[str, Any], method: str, path: str, headers: Mapping[str, str], port: int
) -> bool:
    if "uri" in match and not _string_match(match["uri"] or {}, path):
        return False
    if "method" in match and not _string_match(match["method"] or {}, method):
        return False
    if match.get("port") not in (None, port):
        return False
    for name, spec in (match.get("headers") or {}).items():
        got = headers.get(str(name).lower())
        if got is None or not _string_match(spec or {}, got):
            return False
    return True


# Follows istio/istio/pilot/pkg/networking/core/route/route.go
def _percent(spec: Mapping[str, Any]) -> float:
    pct = spec.get("percentage")
    # Unset percentage: every request (pilot/pkg/networking/core/route/route.go translateFault).
    return float((pct or {}).get("value", 100)) if isinstance(pct, dict) or pct is None else 100.0


# Follows https://istio.io/latest/docs/reference/config/networking/virtual-service/
def _vs_headers(http: Mapping[str, Any], side: str) -> dict[str, str]:
    spec = (http.get("headers") or {}).get(side) or {}
    return {
        str(k).lower(): str(v) for part in ("add", "set") for k, v in (spec.get(part) or {}).items()
    }


# Follows https://istio.io/latest/docs/reference/config/networking/virtual-service/
def virtual_service(
    world: World, svc: Service, port: int, method: str, path: str, headers: Mapping[str, str]
) -> Route | None:
    """The first matching `http` route of the VirtualService for this host (mesh gateway)."""
    for obj in world.of_kind("VirtualService"):
        gateways = obj.spec.get("gateways")
        if gateways and "mesh" not in gateways:
            continue
        if not any(host_matches(str(h), obj.namespace, svc) for h in obj.spec.get("hosts") or []):
            continue
        for i, http in enumerate(obj.spec.get("http") or []):
            matches = http.get("match") or [{}]
            if not any(_vs_match(m, method, path, headers, port) for m in matches):
                continue
            return _vs_route(world, obj, i, http, svc)
    return None


# Follows https://istio.io/latest/docs/reference/config/networking/virtual-service/
def _vs_route(world: World, obj: Obj, i: int, http: Mapping[str, Any], svc: Service) -> Route:
    backends = []
    dests = http.get("route") or []
    for d in dests:
        dest = d.get("destination") or {}
        target = _dest_service(world, obj, str(dest.get("host", "")), svc)
        weight = d.get("weight", 100 if len(dests) == 1 else 0)
        subset_name = dest.get("subset")
        subset: Mapping[str, str] = {}
        name = str(dest.get("host", ""))
        if subset_name is not None and target is not None:
            subsets = _subsets(world, target)
            if str(subset_name) not in subsets:
                target = None  # no such subset: the cluster does not exist
            else:
                subset = subsets[str(subset_name)]
            name = f"{name} subset {subset_name}"
        backends.append(Backend(target, int(weight), subset, name))
    route = Route(obj, f"http[{i}]", backends)
    route.request_headers = _vs_headers(http, "request")
    route.response_headers = _vs_headers(http, "response")
    route.timeout_s = duration_s(http.get("timeout"))
    retries = http.get("retries")
    if isinstance(retries, dict):
        route.retries = int(retries.get("attempts", DEFAULT_RETRIES))
        retry_on = [p.strip() for p in str(retries.get("retryOn", "")).split(",") if p.strip()]
        route.retry_codes = frozenset(int(p) for p in retry_on if p.isdigit())
        if "gateway-error" in retry_on:
            route.retry_codes |= GATEWAY_ERRORS
        route.retry_any_5xx = "5xx" in retry_on
    fault = http.get("fault") or {}
    abort, delay = fault.get("abort") or {}, fault.get("delay") or {}
    if "httpStatus" in abort:
        route.abort, route.abort_percent = int(abort["httpStatus"]), _percent(abort)
    if delay:
        route.delay_s = duration_s(delay.get("fixedDelay")) or 0.0
        route.delay_percent = _percent(delay)
    direct = http.get("directResponse")
    if isinstance(direct, dict) and "status" in direct:
        route.direct_status = int(direct["status"])
    if 0 < route.abort_percent < 100 or 0 < route.delay_percent < 100:
        route.uncertain = f"{obj} {route.rule}: a fault on part of the requests"
    return route


# Follows https://istio.io/latest/docs/reference/config/networking/virtual-service/
def _dest_service(world: World, obj: Obj, host: str, svc: Service) -> Service | None:
    if host_matches(host, obj.namespace, svc):
        return svc
    parts = host.split(".")
    ns = parts[1] if len(parts) > 1 else obj.namespace
    return world.services.get((ns, parts[0]))
