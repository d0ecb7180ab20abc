"""AuthorizationPolicy and PeerAuthentication, as each enforcement point evaluates them.

Two evaluators, because Istio compiles one policy into two different programs:
- `ztunnel_check`: istiod converts the policy for ztunnel (pilot/pkg/serviceregistry/kube/
  controller/ambient/authorization.go, `convertAuthorizationPolicy`/`handleRule`) and ztunnel
  matches connections (ztunnel src/rbac.rs, `Authorization::matches`). L4 attributes only.
- `envoy_check`: a sidecar or a waypoint (pilot/pkg/security/authz/builder), all attributes.
Order at both: CUSTOM, then DENY, then ALLOW
(https://istio.io/latest/docs/concepts/security/#implicit-enablement).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.model.outcome import redact_header_values
from harness.predict.world import ROOT_NAMESPACE, Obj, Pod, Service, Waypoint, World

# Attributes ztunnel can see (authorization.go: httpOperations, httpSources, l4WhenAttributes).
L7_OPERATION_FIELDS = ("hosts", "notHosts", "methods", "notMethods", "paths", "notPaths")
L7_SOURCE_FIELDS = (
    "remoteIpBlocks",
    "notRemoteIpBlocks",
    "requestPrincipals",
    "notRequestPrincipals",
)
L4_WHEN_KEYS = (
    "source.ip",
    "source.namespace",
    "source.principal",
    "destination.ip",
    "destination.port",
)
HEADER_KEY = re.compile(r"^request\.headers\[(.+)\]$")


@dataclass(frozen=True)
class Request:
    """What an enforcement point knows about one request (or connection)."""

    principal: str | None  # peer identity `cluster.local/ns/<ns>/sa/<sa>`; None = plaintext
    port: int  # destination (pod) port
    method: str = "GET"
    path: str = "/"
    host: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names

    # Follows https://istio.io/latest/docs/reference/config/security/authorization-policy/
    @property
    def namespace(self) -> str:
        if not self.principal:
            return ""
        parts = self.principal.split("/")
        return parts[2] if len(parts) > 4 and parts[1] == "ns" else ""

    # Follows https://istio.io/latest/docs/reference/config/security/authorization-policy/
    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    because: str
    policy: Obj | None = None
    uncertain: str | None = None


# Follows https://istio.io/latest/docs/reference/config/security/authorization-policy/
def _rules(obj: Obj) -> list[dict[str, Any]]:
    rules = obj.spec.get("rules")
    if not isinstance(rules, list):
        return []  # no rules: an ALLOW that matches nothing, a DENY that never fires
    return [r if isinstance(r, dict) else {} for r in rules]


# Follows https://istio.io/latest/docs/reference/config/security/authorization-policy/
def _action(obj: Obj) -> str:
    return str(obj.spec.get("action") or "ALLOW")


# Follows https://istio.io/latest/docs/reference/config/security/authorization-policy/
def _targets(obj: Obj) -> list[dict[str, Any]]:
    refs = obj.spec.get("targetRefs") or []
    single = obj.spec.get("targetRef")
    out = [r for r in refs if isinstance(r, dict)]
    return out + ([single] if isinstance(single, dict) else [])


def _selects(obj: Obj, pod: Pod) -> bool:
    """Selector policies (and namespace-wide and root-namespace ones) for a workload
    (https://istio.io/latest/docs/reference/config/security/authorization-policy/)."""
    if _targets(obj):
        return False
    selector = obj.spec.get("selector")
    labels = selector.get("matchLabels") if isinstance(selector, dict) else None
    if labels:
        return obj.namespace == pod.namespace and all(
            pod.labels.get(k) == v for k, v in labels.items()
        )
    return obj.namespace in (pod.namespace, ROOT_NAMESPACE)


# Follows istio/istio/pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go
def workload_policies(world: World, pod: Pod) -> list[Obj]:
    return [o for o in world.of_kind("AuthorizationPolicy") if _selects(o, pod)]


def waypoint_policies(world: World, waypoint: Waypoint, svc: Service) -> list[Obj]:
    """Policies bound to a waypoint: targetRefs to the Service it serves, to its Gateway, or
    to the istio-waypoint GatewayClass in the root namespace
    (https://istio.io/latest/docs/ambient/usage/l7-features/#targeting-policies-or-routing-rules)."""
    out = []
    for obj in world.of_kind("AuthorizationPolicy"):
        for ref in _targets(obj):
            kind, name = ref.get("kind"), ref.get("name")
            if (
                (kind == "Service" and name == svc.name and obj.namespace == svc.namespace)
                or (
                    kind == "Gateway"
                    and name == waypoint.name
                    and obj.namespace == waypoint.namespace
                )
                or (
                    kind == "GatewayClass"
                    and name == "istio-waypoint"
                    and obj.namespace == ROOT_NAMESPACE
                )
            ):
                out.append(obj)
                break
    return out


# ---- string matching shared by both (Istio: `*` presence, `x*` prefix, `*x` suffix) ----


# Follows https://istio.io/latest/docs/reference/config/security/authorization-policy/
def string_match(pattern: str, value: str) -> bool:
    if pattern == "*":
        return value != ""
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return pattern == value


# Follows istio/ztunnel/src/rbac.rs
def _field(positive: Iterable[Any], negative: Iterable[Any], pred: Any) -> bool:
    """ztunnel `matches_internal` (and Envoy's AND of a field and its not-field)."""
    pos, neg = list(positive), list(negative)
    return (not pos or any(pred(p) for p in pos)) and not any(pred(n) for n in neg)


def _strs(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


# ---- ztunnel ----

Clauses = list[list[dict[str, list[str]]]]


# Follows istio/istio/pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go
def _ztunnel_rule(
    action: str, rule: Mapping[str, Any]
) -> tuple[list[list[dict[str, list[str]]]] | None, list[str]]:
    """handleRule: a rule as clauses of matches; None when an ALLOW rule has HTTP attributes
    (omitted: "L7 policies never match for ALLOW")."""
    l7: list[str] = []
    clauses: list[list[dict[str, list[str]]]] = []
    to = [t.get("operation") or {} for t in rule.get("to") or [] if isinstance(t, dict)]
    if to:
        l7 += [f for op in to for f in L7_OPERATION_FIELDS if op.get(f)]
        clauses.append(
            [{"ports": _strs(op.get("ports")), "not_ports": _strs(op.get("notPorts"))} for op in to]
        )
    src = [f.get("source") or {} for f in rule.get("from") or [] if isinstance(f, dict)]
    if src:
        l7 += [f for s in src for f in L7_SOURCE_FIELDS if s.get(f)]
        clauses.append(
            [
                {
                    "principals": _strs(s.get("principals")),
                    "not_principals": _strs(s.get("notPrincipals")),
                    "namespaces": _strs(s.get("namespaces")),
                    "not_namespaces": _strs(s.get("notNamespaces")),
                    "service_accounts": _strs(s.get("serviceAccounts")),
                    "not_service_accounts": _strs(s.get("notServiceAccounts")),
                    "ips": _strs(s.get("ipBlocks")) + _strs(s.get("notIpBlocks")),
                }
                for s in src
            ]
        )
    for cond in rule.get("when") or []:
        if not isinstance(cond, dict):
            continue
        key = str(cond.get("key", ""))
        if key not in L4_WHEN_KEYS:
            l7.append(key)
        m: dict[str, list[str]] = {}
        attr = {
            "source.principal": "principals",
            "source.namespace": "namespaces",
            "destination.port": "ports",
        }.get(key)
        if attr:
            m[attr] = _strs(cond.get("values"))
            m[f"not_{attr}"] = _strs(cond.get("notValues"))
        elif key in ("source.ip", "destination.ip"):
            m["ips"] = _strs(cond.get("values")) + _strs(cond.get("notValues"))
        clauses.append([m])  # an HTTP key leaves an empty match, which ztunnel skips
    if action == "ALLOW" and l7:
        return None, l7
    return clauses, l7


# Follows istio/istio/pilot/pkg/serviceregistry/kube/controller/ambient/authorization.go
def _sa_match(entry: str, req: Request, rule_ns: str) -> bool:
    ns, _, sa = entry.partition("/") if "/" in entry else (rule_ns, "", entry)
    return req.principal is not None and req.principal.endswith(f"/ns/{ns}/sa/{sa}")


# Follows istio/ztunnel/src/rbac.rs
def _ztunnel_match(m: dict[str, list[str]], req: Request, rule_ns: str) -> bool:
    if not any(m.values()):
        return False  # rbac.rs: an empty match is skipped, it never matches
    if m.get("ips"):
        return False  # the model knows no pod IPs
    principal = req.principal or ""
    ok = _field(m.get("ports", []), m.get("not_ports", []), lambda p: p == str(req.port))
    ok &= _field(
        m.get("service_accounts", []),
        m.get("not_service_accounts", []),
        lambda e: _sa_match(e, req, rule_ns),
    )
    # matches_principal: no identity never matches a principal (not even a not-principal).
    ok &= _field(
        m.get("principals", []),
        m.get("not_principals", []),
        lambda p: bool(principal) and string_match(p, principal),
    )
    ok &= _field(
        m.get("namespaces", []),
        m.get("not_namespaces", []),
        lambda p: string_match(p, req.namespace),
    )
    return ok


# Follows istio/ztunnel/src/rbac.rs
def _ztunnel_rule_matches(clauses: list[list[dict[str, list[str]]]], req: Request, ns: str) -> bool:
    # ALL clauses; in a clause ANY match; a clause with no match at all is true.
    return all(not clause or any(_ztunnel_match(m, req, ns) for m in clause) for clause in clauses)


# Follows istio/ztunnel/src/rbac.rs
def ztunnel_check(policies: list[Obj], req: Request) -> Verdict:
    """The destination ztunnel's decision for one connection (L4)."""
    Converted = list[tuple[int, Clauses | None, list[str]]]
    denies: list[tuple[Obj, Converted]] = []
    allows: list[tuple[Obj, Converted]] = []
    unsupported: list[str] = []
    for obj in policies:
        action = _action(obj)
        if action not in ("ALLOW", "DENY"):
            # convertAuthorizationPolicy sends ztunnel only ALLOW and DENY; any other action
            # is left out, with the status "ztunnel does not support the <action> action".
            unsupported.append(
                f"{obj} ({action}) is not enforced at ztunnel: istiod does not send it "
                f"(status: ztunnel does not support the {action} action)"
                + ("; an external authorizer needs a waypoint" if action == "CUSTOM" else "")
            )
            continue
        converted = [(i, *_ztunnel_rule(action, r)) for i, r in enumerate(_rules(obj))]
        (denies if action == "DENY" else allows).append((obj, converted))
    for obj, rules in denies:
        for i, clauses, _ in rules:
            if clauses is not None and _ztunnel_rule_matches(clauses, req, obj.namespace):
                return Verdict(False, f"{obj} (DENY) rules[{i}] matches {_who(req)}", obj)
    if not allows:
        ignored = [
            f"{o}: its rules with HTTP attributes never match at ztunnel (istio#61126)"
            for o, rs in denies
            if any(l7 for _, _, l7 in rs)
        ]
        said = [*unsupported, *ignored]
        return Verdict(True, "; ".join(said) or "no AuthorizationPolicy applies: allowed", None)
    for obj, rules in allows:
        for i, clauses, _ in rules:
            if clauses is not None and _ztunnel_rule_matches(clauses, req, obj.namespace):
                return Verdict(True, f"{obj} rules[{i}] allows {_who(req)}", obj)
    obj = allows[0][0]
    dropped = sorted({k for o, rs in allows for _, c, l7 in rs if c is None for k in l7})
    why = (
        f"; rules with HTTP attributes ({', '.join(dropped)}) are dropped at ztunnel, "
        "so it fails closed"
        if dropped
        else ""
    )
    return Verdict(False, f"{obj} (ALLOW): no rule matches {_who(req)}{why}", obj)


def _who(req: Request) -> str:
    return (
        f"source.principal {req.principal}"
        if req.principal
        else "a plaintext connection (no identity)"
    )


# ---- Envoy: server sidecar and waypoint ----


# Follows istio/istio/pilot/pkg/security/authz/builder/builder.go
def _envoy_source(s: Mapping[str, Any], req: Request, rule_ns: str) -> bool:
    principal = req.principal or ""
    ok = _field(
        _strs(s.get("principals")),
        _strs(s.get("notPrincipals")),
        lambda p: bool(principal) and string_match(p, principal),
    )
    ok &= _field(
        _strs(s.get("namespaces")),
        _strs(s.get("notNamespaces")),
        lambda p: string_match(p, req.namespace),
    )
    ok &= _field(
        _strs(s.get("serviceAccounts")),
        _strs(s.get("notServiceAccounts")),
        lambda e: _sa_match(e, req, rule_ns),
    )
    ok &= _field(
        _strs(s.get("requestPrincipals")), _strs(s.get("notRequestPrincipals")), lambda p: False
    )  # no JWT
    ips = _strs(s.get("ipBlocks")) + _strs(s.get("remoteIpBlocks"))
    return ok and not ips  # no pod IPs in the model


# Follows https://istio.io/latest/docs/reference/config/security/authorization-policy/
def _host_match(pattern: str, host: str) -> bool:
    bare = host.rsplit(":", 1)[0] if ":" in host else host
    return any(string_match(pattern.lower(), h.lower()) for h in (host, bare))


# Follows istio/istio/pilot/pkg/security/authz/builder/builder.go
def _envoy_operation(op: Mapping[str, Any], req: Request) -> bool:
    ok = _field(_strs(op.get("ports")), _strs(op.get("notPorts")), lambda p: p == str(req.port))
    ok &= _field(_strs(op.get("methods")), _strs(op.get("notMethods")), lambda m: m == req.method)
    ok &= _field(
        _strs(op.get("paths")), _strs(op.get("notPaths")), lambda p: string_match(p, req.path)
    )
    ok &= _field(
        _strs(op.get("hosts")), _strs(op.get("notHosts")), lambda h: _host_match(h, req.host)
    )
    return ok


# Follows https://istio.io/latest/docs/reference/config/security/conditions/
def _when_value(key: str, req: Request) -> str | None:
    header = HEADER_KEY.match(key)
    if header:
        return req.header(header.group(1))
    return {
        "source.principal": req.principal or None,
        "source.namespace": req.namespace or None,
        "destination.port": str(req.port),
    }.get(key)  # request.auth.*, IPs, SNI: nothing the model knows


# Follows istio/istio/pilot/pkg/security/authz/builder/builder.go
def _envoy_when(cond: Mapping[str, Any], req: Request) -> bool:
    value = _when_value(str(cond.get("key", "")), req)
    if value is None:
        return False
    return _field(
        _strs(cond.get("values")), _strs(cond.get("notValues")), lambda p: string_match(p, value)
    )


# Follows istio/istio/pilot/pkg/security/authz/builder/builder.go
def _has_l7(rule: Mapping[str, Any]) -> bool:
    ops = [t.get("operation") or {} for t in rule.get("to") or [] if isinstance(t, dict)]
    srcs = [f.get("source") or {} for f in rule.get("from") or [] if isinstance(f, dict)]
    whens = [c for c in rule.get("when") or [] if isinstance(c, dict)]
    return (
        any(op.get(f) for op in ops for f in L7_OPERATION_FIELDS)
        or any(s.get(f) for s in srcs for f in L7_SOURCE_FIELDS)
        or any(str(c.get("key")) not in L4_WHEN_KEYS for c in whens)
    )


# Follows istio/istio/pilot/pkg/security/authz/builder/builder.go
def _envoy_rule(rule: Mapping[str, Any], req: Request, ns: str) -> bool:
    srcs = [f.get("source") or {} for f in rule.get("from") or [] if isinstance(f, dict)]
    ops = [t.get("operation") or {} for t in rule.get("to") or [] if isinstance(t, dict)]
    whens = [c for c in rule.get("when") or [] if isinstance(c, dict)]
    return (
        (not srcs or any(_envoy_source(s, req, ns) for s in srcs))
        and (not ops or any(_envoy_operation(op, req) for op in ops))
        and all(_envoy_when(c, req) for c in whens)
    )


# Follows istio/istio/pilot/pkg/security/authz/builder/builder.go
def envoy_check(policies: list[Obj], req: Request, *, tcp: bool = False) -> Verdict:
    """A sidecar's or waypoint's RBAC decision. On a TCP port (`tcp`) an ALLOW rule with HTTP
    attributes is dropped (pilot/pkg/security/authz/builder: the TCP filter chain)."""
    custom = [o for o in policies if _action(o) == "CUSTOM"]
    uncertain = f"{custom[0]} (CUSTOM) asks an external authorizer first" if custom else None
    for obj in (o for o in policies if _action(o) == "DENY"):
        for i, rule in enumerate(_rules(obj)):
            if _envoy_rule(rule, req, obj.namespace):
                return Verdict(False, f"{obj} (DENY) rules[{i}] matches", obj, uncertain)
    allows = [o for o in policies if _action(o) == "ALLOW"]
    if not allows:
        return Verdict(True, "no AuthorizationPolicy applies: allowed", None, uncertain)
    for obj in allows:
        for i, rule in enumerate(_rules(obj)):
            if tcp and _has_l7(rule):
                continue
            if _envoy_rule(rule, req, obj.namespace):
                return Verdict(True, f"{obj} rules[{i}] allows {_who(req)}", obj, uncertain)
    names = ", ".join(str(o) for o in allows)
    what = _who(req) if tcp else _request_words(req)
    return Verdict(False, f"{names} (ALLOW): no rule matches {what}", allows[0], uncertain)


# Follows https://istio.io/latest/docs/reference/config/security/authorization-policy/ (an
# Envoy matches `to.operation` and `when` on the request, `from` on the peer)
def _request_words(req: Request) -> str:
    """`GET /ratings/1 with x-test: not-istio from source.principal ...`: an Envoy sees the
    whole request, and the header may be what no rule matched (credentials redacted)."""
    headers = redact_header_values(req.headers)
    with_ = " with " + ", ".join(f"{k}: {v}" for k, v in headers.items()) if headers else ""
    return f"{req.method} {req.path}{with_}{',' if headers else ''} from {_who(req)}"


# ---- PeerAuthentication ----


def mtls_mode(world: World, pod: Pod, port: int) -> tuple[str, Obj | None]:
    """The effective mTLS mode for a workload port: workload > namespace > mesh, UNSET
    inherits (ambient/authorization.go `convertedSelectorPeerAuthentications`;
    https://istio.io/latest/docs/reference/config/security/peer_authentication/)."""
    mesh = ns = workload = None
    for obj in world.of_kind("PeerAuthentication"):
        selector = obj.spec.get("selector")
        labels = selector.get("matchLabels") if isinstance(selector, dict) else None
        if not labels:
            if obj.namespace == ROOT_NAMESPACE:
                mesh = mesh or obj
            elif obj.namespace == pod.namespace:
                ns = ns or obj
        elif obj.namespace == pod.namespace and all(
            pod.labels.get(k) == v for k, v in labels.items()
        ):
            workload = workload or obj
    mode, source = "PERMISSIVE", None
    for level in (mesh, ns, workload):
        if level is None:
            continue
        m = str((level.spec.get("mtls") or {}).get("mode") or "UNSET")
        port_level = level.spec.get("portLevelMtls") if level is workload else None
        if isinstance(port_level, dict) and str(port) in {str(k) for k in port_level}:
            entry = {str(k): v for k, v in port_level.items()}[str(port)]
            m = str((entry or {}).get("mode") or m)
        if m != "UNSET":
            mode, source = m, level
    return mode, source
