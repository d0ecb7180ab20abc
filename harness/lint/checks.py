"""`ambient-harness lint`: every scenario and manifest checked offline, before any cluster.

For each scenario: the scenario file itself (the loader's own checks), then each manifest its
steps apply or delete:
- against its schema: the pinned CRD schemas for Istio and Gateway API kinds (strict: a field
  the API server would silently prune is an error), small structural schemas for built-in
  kinds, metadata for all;
- against the scenario: every namespaced object names one of the scenario's namespaces
  explicitly (manifests are applied with the namespace they carry, and a scenario must stay
  inside its own namespaces to run in parallel with others); `targetRefs`, route
  `parentRefs` and `backendRefs` name Services/Gateways the scenario defines (its backends'
  `<service>` and `<service>-<version>` Services, its waypoints, and Service/Gateway objects
  in its manifests), with a port those Services have; a pod `selector` names a workload of
  the scenario; AuthorizationPolicy principals and namespaces name identities of the scenario
  (istio-system excepted);
- step order: a manifest applied twice in one step, or deleted when no earlier step applied
  it (or it was already deleted);
- probes: the URL's host is a Service of the scenario (unless `unreachable` is expected) on
  one of its ports, and `served_by`/`split` name versions of its backends.

Every finding is an error (exit status 2). That includes principals of foreign namespaces:
such a rule can never match a client of the scenario, so the scenario would pass or fail for
a reason its author did not intend. Kinds from API groups without a schema are reported as
notes, which do not fail the run.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from harness.lint import schemas
from harness.model.scenario import (
    SCENARIO_FILE,
    Expect,
    Scenario,
    discover,
    parse_scenario,
)
from harness.model.source import (
    Document,
    PathKey,
    Problem,
    SourceError,
    format_path,
    load_documents,
)
from harness.model.topology import topology

GATEWAY_GROUP = "gateway.networking.k8s.io"
ROUTE_KINDS = frozenset({"HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute"})
# Namespaces a scenario may refer to without owning them: the mesh's own.
SHARED_NAMESPACES = frozenset({"istio-system"})
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"})
_PRINCIPAL = re.compile(r"^(?:spiffe://)?[^/]+/ns/([^/]+)/sa/([^/]+)$")


def _s(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _hint(word: str, candidates: set[str] | list[str]) -> str:
    close = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _listing(names: set[str] | list[str]) -> str:
    return ", ".join(sorted(names)) or "none"


@dataclass
class Findings:
    """Problems (errors) and notes (informational) of one input file."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)

    def add(self, doc: Document, path: PathKey | list[str | int], message: str) -> None:
        self.problems.append(doc.problem(list(path), f"{format_path(tuple(path))}: {message}"))


# --------------------------------------------------------------------------------------------
# What a scenario defines, for cross-checking its manifests.


@dataclass
class Context:
    scenario: Scenario
    namespaces: list[str]
    # (namespace, Service name) -> its ports, or None when unknown (e.g. a Gateway's Service).
    services: dict[tuple[str, str], tuple[int, ...] | None] = field(default_factory=dict)
    gateways: set[tuple[str, str]] = field(default_factory=set)
    # (namespace, app label) -> versions of that app, or None for "any".
    apps: dict[tuple[str, str], set[str] | None] = field(default_factory=dict)
    identities: set[tuple[str, str]] = field(default_factory=set)  # (namespace, SA)
    # Every "<version>" and "<service>-<version>" an echo backend can report as x-served-by.
    served_by: set[str] = field(default_factory=set)

    @staticmethod
    def in_namespace(table: Iterable[tuple[str, str]], ns: str) -> set[str]:
        """Names of `table`'s (namespace, name) entries in namespace `ns`."""
        return {name for (n, name) in table if n == ns}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _meta(data: dict[str, Any]) -> dict[str, Any]:
    return _dict(data.get("metadata"))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _object_namespace(data: dict[str, Any], ctx: Context) -> str:
    return _str(_meta(data).get("namespace")) or ctx.scenario.namespace


def _type_of(data: dict[str, Any]) -> tuple[str, str]:
    """(group, kind) of a manifest document, '' where missing."""
    api = _str(data.get("apiVersion")) or ""
    return schemas.split_api_version(api)[0], _str(data.get("kind")) or ""


def build_context(s: Scenario, manifests: list[Document]) -> Context:
    topo = topology(s)
    ctx = Context(s, [n.name for n in s.namespaces])
    for e in topo.echoes:
        ctx.services[(e.namespace, e.service)] = (e.port,)
        ctx.services[(e.namespace, e.version_service)] = (e.port,)
        versions = ctx.apps.setdefault((e.namespace, e.service), set())
        if versions is not None:
            versions.add(e.version)
        ctx.identities.add((e.namespace, e.service_account))
        ctx.served_by.update({e.version, e.deployment})
    for a in topo.agents:
        ctx.apps[(a.namespace, a.deployment)] = None
        ctx.identities.add((a.namespace, a.service_account))
    for w in topo.waypoints:
        ctx.gateways.add((w.namespace, w.name))
        ctx.services.setdefault((w.namespace, w.name), None)
        ctx.identities.add((w.namespace, w.name))
    for doc in manifests:
        if isinstance(doc.data, dict):
            _define(ctx, doc.data)
    return ctx


def _define(ctx: Context, data: dict[str, Any]) -> None:
    """Record what one manifest object adds to the scenario's world."""
    group, kind = _type_of(data)
    name = _str(_meta(data).get("name"))
    if name is None:
        return
    ns = _object_namespace(data, ctx)
    spec = _dict(data.get("spec"))
    if group == "" and kind == "Service":
        ports = (p.get("port") for _, p in _items(spec.get("ports")))
        ctx.services[(ns, name)] = tuple(p for p in ports if type(p) is int)
    elif group == "" and kind == "ServiceAccount":
        ctx.identities.add((ns, name))
    elif group == GATEWAY_GROUP and kind == "Gateway":
        ctx.gateways.add((ns, name))
        # Istio deploys a Gateway as Deployment/Service/ServiceAccount `<name>-<class>`
        # (waypoints: `<name>`).
        cls = _str(spec.get("gatewayClassName")) or ""
        for svc in {name, f"{name}-{cls}"}:
            ctx.services.setdefault((ns, svc), None)
            ctx.identities.add((ns, svc))
    elif group == "apps" or (group == "" and kind == "Pod") or kind in WORKLOAD_KINDS:
        labels = _pod_labels(kind, data)
        app = _str(labels.get("app"))
        if app is not None:
            ctx.apps[(ns, app)] = None


def _pod_labels(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    meta = (
        _meta(data)
        if kind == "Pod"
        else _dict(_dict(_dict(data.get("spec")).get("template")).get("metadata"))
    )
    return _dict(meta.get("labels"))


# --------------------------------------------------------------------------------------------
# One manifest document.


def check_document(
    doc: Document, index: schemas.SchemaIndex, ctx: Context | None, out: Findings
) -> None:
    """Schema checks always; scenario cross-checks when `ctx` is given."""
    data = doc.data
    if not isinstance(data, dict):
        got = schemas.type_name(data)
        out.problems.append(
            doc.problem([], f"a manifest document must be a mapping (one object), got {got}")
        )
        return
    for key in ("apiVersion", "kind"):
        if key not in data:
            out.add(doc, [key], "required field missing")
        elif not isinstance(data[key], str):
            out.add(doc, [key], f"expected string, got {schemas.type_name(data[key])}")
        elif not data[key]:
            out.add(doc, [key], "must not be empty")
    api, kind = _str(data.get("apiVersion")), _str(data.get("kind"))
    if not api or not kind:
        return
    if kind.endswith("List") and "items" in data:
        out.add(doc, ["kind"], f"{kind} is not supported: put one object per YAML document")
        return
    res = schemas.resolve(index, api, kind)
    if res.error is not None:
        field_name = "kind" if res.error.startswith("no kind") else "apiVersion"
        out.add(doc, [field_name], res.error)
    if res.note is not None:
        out.notes.append(Problem(doc.file, doc.line_of(["apiVersion"]), f"note: {res.note}"))
    for err in schemas.validate_object(data, res):
        out.add(doc, err.path, err.message)
    if ctx is None:
        return
    _check_namespace(doc, data, res, ctx, out)
    if _object_namespace(data, ctx) in ctx.namespaces:  # else reported once, just above
        _check_refs(doc, data, res.group, kind, ctx, out)
        _check_selectors(doc, data, res.group, ctx, out)
        if res.group == "security.istio.io" and kind == "AuthorizationPolicy":
            _check_sources(doc, data, ctx, out)


def _check_namespace(
    doc: Document, data: dict[str, Any], res: schemas.Resolution, ctx: Context, out: Findings
) -> None:
    meta = _meta(data)
    ns = meta.get("namespace")
    declared = _listing(ctx.namespaces)
    if res.scope == "Cluster":
        if ns is not None:
            out.add(doc, ["metadata", "namespace"], f"{res.kind} is cluster-scoped: remove it")
        elif res.kind == "Namespace":
            name = _str(meta.get("name")) or ""
            if name and not name.startswith(ctx.scenario.name):
                out.add(
                    doc,
                    ["metadata", "name"],
                    f'namespace "{name}" must start with the scenario name "{ctx.scenario.name}"',
                )
        return
    if ns is None:
        if res.scope == "Namespaced":
            out.add(
                doc,
                ["metadata", "namespace"],
                f"required: manifests are applied to the namespace they name; one of: {declared}",
            )
    elif isinstance(ns, str) and ns not in ctx.namespaces:
        out.add(
            doc,
            ["metadata", "namespace"],
            f'"{ns}" is not a namespace of this scenario{_hint(ns, ctx.namespaces)}; '
            f"declared: {declared}",
        )


@dataclass(frozen=True)
class Ref:
    path: PathKey
    ref: dict[str, Any]
    default_group: str | None  # None: no default (the field is required or kind decides)
    default_kind: str | None


def _refs(data: dict[str, Any], group: str, kind: str) -> Iterator[Ref]:
    spec = data.get("spec")
    if not isinstance(spec, dict):
        return
    base: PathKey = ("spec",)
    if isinstance(spec.get("targetRef"), dict):
        yield Ref((*base, "targetRef"), spec["targetRef"], None, None)
    for i, r in _items(spec.get("targetRefs")):
        yield Ref((*base, "targetRefs", i), r, None, None)
    if group != GATEWAY_GROUP or kind not in ROUTE_KINDS:
        return
    for i, r in _items(spec.get("parentRefs")):
        yield Ref((*base, "parentRefs", i), r, GATEWAY_GROUP, "Gateway")
    for i, rule in _items(spec.get("rules")):
        for j, r in _items(rule.get("backendRefs")):
            yield Ref((*base, "rules", i, "backendRefs", j), r, "", "Service")
        for j, f in _items(rule.get("filters")):
            mirror = f.get("requestMirror")
            if isinstance(mirror, dict) and isinstance(mirror.get("backendRef"), dict):
                path = (*base, "rules", i, "filters", j, "requestMirror", "backendRef")
                yield Ref(path, mirror["backendRef"], "", "Service")


def _items(value: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield i, item


def _ref_target(ref: Ref) -> str | None:
    """'Service' or 'Gateway' when the reference is to one of those, else None."""
    kind = ref.ref.get("kind", ref.default_kind)
    group = ref.ref.get("group", ref.default_group)
    if kind == "Service" and group in ("", "core", None):
        return "Service"
    if kind == "Gateway" and group in (GATEWAY_GROUP, None):
        return "Gateway"
    return None


def _check_refs(
    doc: Document, data: dict[str, Any], group: str, kind: str, ctx: Context, out: Findings
) -> None:
    own_ns = _object_namespace(data, ctx)
    for ref in _refs(data, group, kind):
        target = _ref_target(ref)
        name = _str(ref.ref.get("name"))
        if target is None or name is None:
            continue
        ns = _str(ref.ref.get("namespace")) or own_ns
        if ns in SHARED_NAMESPACES:
            continue
        if ns not in ctx.namespaces:
            out.add(
                doc,
                (*ref.path, "namespace"),
                f'"{ns}" is not a namespace of this scenario; declared: {_listing(ctx.namespaces)}',
            )
            continue
        known = ctx.in_namespace(ctx.services if target == "Service" else ctx.gateways, ns)
        if name not in known:
            out.add(
                doc,
                (*ref.path, "name"),
                f'{target} "{name}" is not defined by this scenario in namespace {ns}'
                f"{_hint(name, known)}; defined: {_listing(known)}",
            )
            continue
        port = ref.ref.get("port")
        ports = ctx.services.get((ns, name)) if target == "Service" else None
        if isinstance(port, int) and ports and port not in ports:
            shown = ", ".join(map(str, ports))
            out.add(
                doc, (*ref.path, "port"), f'Service "{name}" has no port {port}; ports: {shown}'
            )


def _check_selectors(
    doc: Document, data: dict[str, Any], group: str, ctx: Context, out: Findings
) -> None:
    if not group.endswith(".istio.io"):
        return
    spec = _dict(data.get("spec"))
    ns = _object_namespace(data, ctx)
    selectors: list[tuple[PathKey, dict[str, Any]]] = [
        (
            ("spec", "selector", "matchLabels"),
            _dict(_dict(spec.get("selector")).get("matchLabels")),
        ),
        (
            ("spec", "workloadSelector", "labels"),
            _dict(_dict(spec.get("workloadSelector")).get("labels")),
        ),
    ]
    for path, labels in selectors:
        app = _str(labels.get("app"))
        if app is None:
            continue
        known = ctx.in_namespace(ctx.apps, ns)
        if app not in known:
            out.add(
                doc,
                (*path, "app"),
                f'no workload of this scenario has app "{app}" in namespace {ns}'
                f"{_hint(app, known)}; apps: {_listing(known)}",
            )
            continue
        versions = ctx.apps.get((ns, app))
        version = _str(labels.get("version"))
        if versions is not None and version is not None and version not in versions:
            out.add(
                doc,
                (*path, "version"),
                f'backend {app} has no version "{version}"; versions: {_listing(versions)}',
            )


def _check_sources(doc: Document, data: dict[str, Any], ctx: Context, out: Findings) -> None:
    """Principals/namespaces an AuthorizationPolicy matches must be the scenario's."""
    spec = data.get("spec")
    if not isinstance(spec, dict):
        return
    for i, rule in _items(spec.get("rules")):
        for j, frm in _items(rule.get("from")):
            source = frm.get("source")
            if not isinstance(source, dict):
                continue
            base: PathKey = ("spec", "rules", i, "from", j, "source")
            for key in ("principals", "notPrincipals"):
                for k, value in _strings(source.get(key)):
                    msg = _principal_problem(value, ctx)
                    if msg:
                        out.add(doc, (*base, key, k), msg)
            for key in ("namespaces", "notNamespaces"):
                for k, value in _strings(source.get(key)):
                    if "*" in value or value in SHARED_NAMESPACES or value in ctx.namespaces:
                        continue
                    hint = _hint(value, ctx.namespaces)
                    out.add(
                        doc,
                        (*base, key, k),
                        f'"{value}" is not a namespace of this scenario{hint}; '
                        f"declared: {_listing(ctx.namespaces)}",
                    )


def _strings(value: Any) -> Iterator[tuple[int, str]]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                yield i, item


def _principal_problem(principal: str, ctx: Context) -> str | None:
    m = _PRINCIPAL.match(principal)
    if m is None or "*" in principal:
        return None  # a wildcard or another form: nothing reliable to compare
    ns, sa = m.group(1), m.group(2)
    if ns in SHARED_NAMESPACES:
        return None
    if ns not in ctx.namespaces:
        return (
            f'principal "{principal}" is in namespace "{ns}", not one of this scenario\'s '
            f"({_listing(ctx.namespaces)}): it matches none of its workloads"
        )
    accounts = {a for (n, a) in ctx.identities if n == ns}
    if sa not in accounts:
        return (
            f'principal "{principal}": no workload of this scenario runs as "{sa}" in {ns}'
            f"{_hint(sa, accounts)}; service accounts: {_listing(accounts)}"
        )
    return None


def _check_duplicates(docs: list[Document], out: Findings) -> None:
    seen: dict[tuple[str, str, str, str], int] = {}
    for doc in docs:
        if not isinstance(doc.data, dict):
            continue
        group, kind = _type_of(doc.data)
        meta = _meta(doc.data)
        name = _str(meta.get("name"))
        if not kind or name is None:
            continue
        key = (group, kind, _str(meta.get("namespace")) or "", name)
        line = doc.line_of(["metadata", "name"])
        if key in seen:
            out.add(
                doc, ["metadata", "name"], f'{kind} "{name}" is also defined at line {seen[key]}'
            )
        else:
            seen[key] = line


# --------------------------------------------------------------------------------------------
# A scenario: its file, its steps, its probes, its manifests.


def _normal(rel: str) -> str:
    return posixpath.normpath(rel)


def _check_steps(s: Scenario, doc: Document, out: Findings) -> None:
    """Apply/delete order: nothing applied twice in a step, nothing deleted that is not applied."""
    active: dict[str, str] = {}  # manifest -> step that applied it
    deleted: dict[str, str] = {}  # manifest -> step that deleted it
    for i, st in enumerate(s.steps):
        for key in ("apply", "delete"):
            seen: dict[str, int] = {}
            for j, rel in enumerate(getattr(st, key)):
                n = _normal(rel)
                if n in seen:
                    out.add(
                        doc,
                        ["steps", i, key, j],
                        f"{rel!r} is already listed in this step ({key}[{seen[n]}])",
                    )
                seen.setdefault(n, j)
        applied_here = {_normal(r) for r in st.apply}
        for j, rel in enumerate(st.delete):
            n = _normal(rel)
            if n in applied_here:
                msg = f"{rel!r} is applied and deleted in the same step"
            elif n in active:
                continue
            elif n in deleted:
                msg = f"{rel!r} was already deleted in step {deleted[n]!r}"
            else:
                msg = f"{rel!r} is deleted, but no earlier step applies it"
            out.add(doc, ["steps", i, "delete", j], msg)
        for rel in st.apply:
            active[_normal(rel)] = st.name
            deleted.pop(_normal(rel), None)
        for rel in st.delete:
            if _normal(rel) not in applied_here:
                active.pop(_normal(rel), None)
                deleted[_normal(rel)] = st.name


def _probe_service(url: str, client_ns: str, ctx: Context) -> tuple[str, str] | None:
    """(namespace, Service) a probe URL names inside the scenario, or None (external host)."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    parts = host.split(".")
    if len(parts) == 1:
        return client_ns, parts[0]
    in_cluster = len(parts) == 2 or parts[2:] in (["svc"], ["svc", "cluster", "local"])
    if in_cluster and parts[1] in ctx.namespaces:
        return parts[1], parts[0]
    return None


def _check_probes(s: Scenario, doc: Document, ctx: Context, out: Findings) -> None:
    for i, st in enumerate(s.steps):
        for j, pr in enumerate(st.probes):
            base: PathKey = ("steps", i, "probes", j)
            try:
                client_ns = s.namespace_of(s.client(pr.from_).namespace)
            except KeyError:
                continue  # the loader reports the unknown client
            target = _probe_service(pr.url, client_ns, ctx)
            if target is not None and pr.expect.outcome != "unreachable":
                _check_probe_target(pr.url, target, (*base, "url"), doc, ctx, out)
            for key, expect in (("expect", pr.expect), ("gate", pr.gate)):
                if expect is not None:
                    _check_served_by(expect, (*base, key), doc, ctx, out)


def _check_probe_target(
    url: str, target: tuple[str, str], path: PathKey, doc: Document, ctx: Context, out: Findings
) -> None:
    ns, name = target
    known = ctx.in_namespace(ctx.services, ns)
    if name not in known:
        out.add(
            doc,
            path,
            f'host "{name}" is not a Service of this scenario in namespace {ns}'
            f'{_hint(name, known)}; Services: {_listing(known)} (expect "unreachable" '
            "to probe a name that does not exist)",
        )
        return
    port = urlsplit(url).port or 80
    ports = ctx.services.get(target)
    if ports and port not in ports:
        shown = ", ".join(map(str, ports))
        out.add(doc, path, f'Service "{name}" has no port {port}; ports: {shown}')


def _check_served_by(
    expect: Expect, path: PathKey, doc: Document, ctx: Context, out: Findings
) -> None:
    if not ctx.served_by:
        return
    names = [("served_by", expect.served_by)] if expect.served_by else []
    names += [("split", k) for k in expect.split or {}]
    for key, value in names:
        if value in ctx.served_by:
            continue
        where = (*path, key) if key == "served_by" else (*path, "split", value)
        out.add(
            doc,
            where,
            f'"{value}" is not a version of any backend of this scenario'
            f"{_hint(value, ctx.served_by)}; versions: {_listing(ctx.served_by)}",
        )


def _manifest_refs(s: Scenario) -> list[str]:
    """Every manifest the steps reference, once, in first-use order."""
    seen: dict[str, None] = {}
    for st in s.steps:
        for rel in (*st.apply, *st.delete):
            seen.setdefault(_normal(rel), None)
    return list(seen)


def _raw_manifest_refs(data: Any, directory: Path) -> list[str]:
    """Manifest paths of a scenario that failed to load: still worth a schema check."""
    refs: dict[str, None] = {}
    steps = data.get("steps") if isinstance(data, dict) else None
    for _, st in _items(steps):
        for key in ("apply", "delete"):
            for _, rel in _strings(st.get(key)):
                if Path(rel).is_absolute() or ".." in Path(rel).parts:
                    continue
                if (directory / rel).is_file():
                    refs.setdefault(_normal(rel), None)
    return list(refs)


def _load_manifests(directory: Path, refs: list[str], out: Findings) -> list[list[Document]]:
    loaded = []
    for rel in refs:
        file = directory / rel
        try:
            docs = load_documents(file)
        except SourceError as exc:
            out.problems.extend(exc.problems)
            continue
        if not docs:
            out.problems.append(Problem(file, 1, "no objects in this manifest (empty file)"))
        loaded.append(docs)
    return loaded


def lint_scenario(file: Path, index: schemas.SchemaIndex) -> Findings:
    out = Findings()
    try:
        docs = load_documents(file)
    except SourceError as exc:
        out.problems.extend(exc.problems)
        return out
    if len(docs) != 1:
        out.problems.append(Problem(file, 1, f"expected one YAML document, found {len(docs)}"))
        return out
    doc = docs[0]
    try:
        scenario = parse_scenario(doc, file.parent)
    except SourceError as exc:
        out.problems.extend(exc.problems)
        for manifest in _load_manifests(
            file.parent, _raw_manifest_refs(doc.data, file.parent), out
        ):
            for d in manifest:
                check_document(d, index, None, out)
        return out
    manifests = _load_manifests(file.parent, _manifest_refs(scenario), out)
    ctx = build_context(scenario, [d for m in manifests for d in m])
    for m in manifests:
        _check_duplicates(m, out)
        for d in m:
            check_document(d, index, ctx, out)
    _check_steps(scenario, doc, out)
    _check_probes(scenario, doc, ctx, out)
    return out


def lint_manifest_file(file: Path, index: schemas.SchemaIndex) -> Findings:
    """A manifest given on its own: schema checks only (no scenario to compare with)."""
    out = Findings()
    for docs in _load_manifests(file.parent, [file.name], out):
        _check_duplicates(docs, out)
        for d in docs:
            check_document(d, index, None, out)
    return out


# --------------------------------------------------------------------------------------------
# The command.


def _load_index(out: Findings) -> schemas.SchemaIndex:
    directory = schemas.default_crd_dir()
    try:
        return schemas.load_index(directory)
    except schemas.CrdFileError as exc:
        out.problems.append(
            Problem(exc.file, exc.line, f"{exc.reason} (run: ambient-harness schemas fetch)")
        )
        return schemas.SchemaIndex(directory, {}, ())


def _summary(problems: int, failing: int, total: int, all_scenarios: bool) -> str:
    noun = "scenario" if all_scenarios else "input"
    if problems == 0:
        return f"no problems in {_s(total, noun)}"
    return f"{_s(problems, 'problem')} in {failing} of {_s(total, noun)}"


def run_lint(paths: list[Path], out: TextIO) -> int:
    """Lint scenarios (directories or scenario.yaml files) and manifest files; print
    `file:line: message` per problem, then notes, then a summary. 0 when clean, else 2."""
    missing = [p for p in paths if not p.exists()]
    for path in missing:
        print(f"error: {path}: no such file or directory", file=out)
    files = discover([p for p in paths if p.exists()])
    if not files:
        if not missing:
            shown = " ".join(str(p) for p in paths)
            print(f"error: no {SCENARIO_FILE} found under {shown}", file=out)
        return 2
    general = Findings()
    index = _load_index(general)
    results: list[Findings] = []
    for f in files:
        results.append(
            lint_scenario(f, index) if f.name == SCENARIO_FILE else lint_manifest_file(f, index)
        )
    problems = _ordered([*general.problems, *(p for r in results for p in r.problems)])
    notes = _ordered([n for r in results for n in r.notes])
    for line in [*problems, *notes]:
        print(line, file=out)
    if index.empty:
        print(
            f"note: no CRD schemas in {index.directory}: Istio/Gateway API manifests were not "
            "validated against their schemas (run: ambient-harness schemas fetch)",
            file=out,
        )
    failing = sum(1 for r in results if r.problems)
    all_scenarios = all(f.name == SCENARIO_FILE for f in files)
    print(_summary(len(problems), failing, len(files), all_scenarios), file=out)
    return 2 if problems or missing else 0


def _ordered(items: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(items))
    return sorted(unique, key=lambda p: (str(p.file), p.line))
