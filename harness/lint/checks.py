"""The checks of one scenario: its file (the loader's own checks), then each manifest its
steps apply or delete:
- against its schema: the pinned CRD schemas for Istio and Gateway API kinds (strict: a field
  the API server would silently prune is an error), small structural schemas for built-in
  kinds, metadata for all;
- against the scenario (references.py): namespaces, references, selectors, principals;
- step order: a manifest applied twice in one step, or deleted when no earlier step applied
  it (or it was already deleted);
- probes: the URL's host is a Service of the scenario (unless `unreachable` is expected) on
  one of its ports, and `served_by`/`split` name versions of its backends.

Every finding is an error (exit status 2). Kinds from API groups without a schema are
reported as notes, which do not fail the run.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.lint.crds import SchemaIndex
from harness.lint.findings import Findings, hint, listing
from harness.lint.objects import validate_object
from harness.lint.openapi import type_name
from harness.lint.references import (
    GATEWAY_GROUP,
    Context,
    build_context,
    check_namespace,
    check_refs,
    check_selectors,
    check_sources,
    mappings,
    meta_of,
    object_namespace,
    str_or_none,
    strings,
    type_of,
)
from harness.lint.resolution import resolve
from harness.lint.silent import check_silent, gateway_class_problem
from harness.model.files import SCENARIO_FILE, link_outside, path_kind
from harness.model.outcome import Kind
from harness.model.scenario import (
    Expect,
    Probe,
    Scenario,
    one_document,
    parse_scenario,
)
from harness.model.source import (
    Document,
    PathKey,
    Problem,
    SourceError,
    load_documents,
)
from harness.predict import contradictions, predict_scenario


def check_document(doc: Document, index: SchemaIndex, ctx: Context | None, out: Findings) -> None:
    """Schema checks always; scenario cross-checks when `ctx` is given."""
    data = doc.data
    if not isinstance(data, dict):
        got = type_name(data)
        out.problems.append(
            doc.problem([], f"a manifest document must be a mapping (one object), got {got}")
        )
        return
    for key in ("apiVersion", "kind"):
        if key not in data:
            out.add(doc, [key], "required field missing")
        elif not isinstance(data[key], str):
            out.add(doc, [key], f"expected string, got {type_name(data[key])}")
        elif not data[key]:
            out.add(doc, [key], "must not be empty")
    api, kind = str_or_none(data.get("apiVersion")), str_or_none(data.get("kind"))
    if not api or not kind:
        return
    if kind.endswith("List") and "items" in data:
        out.add(doc, ["kind"], f"{kind} is not supported: put one object per YAML document")
        return
    res = resolve(index, api, kind)
    if res.error is not None:
        field_name = "kind" if res.error.startswith("no kind") else "apiVersion"
        out.add(doc, [field_name], res.error)
    if res.note is not None:
        out.notes.append(Problem(doc.file, doc.line_of(["apiVersion"]), f"note: {res.note}"))
    for err in validate_object(data, res):
        out.add(doc, err.path, err.message, at=err.at)
    if ctx is None:
        return
    check_namespace(doc, data, res, ctx, out)
    if object_namespace(data, ctx) in ctx.namespaces:  # else reported once, just above
        check_refs(doc, data, res.group, kind, ctx, out)
        check_selectors(doc, data, res.group, ctx, out)
        if res.group == "security.istio.io" and kind == "AuthorizationPolicy":
            check_sources(doc, data, ctx, out)
        spec = data.get("spec")
        cls = spec.get("gatewayClassName") if isinstance(spec, dict) else None
        if res.group == GATEWAY_GROUP and kind == "Gateway" and isinstance(cls, str):
            problem = gateway_class_problem(cls, ctx.gateway_classes)
            if problem is not None:
                out.add(doc, ["spec", "gatewayClassName"], problem)


def _check_duplicates(docs: list[Document], out: Findings) -> None:
    seen: dict[tuple[str, str, str, str], Document] = {}
    for doc in docs:
        if not isinstance(doc.data, dict):
            continue
        group, kind = type_of(doc.data)
        meta = meta_of(doc.data)
        name = str_or_none(meta.get("name"))
        if not kind or name is None:
            continue
        key = (group, kind, str_or_none(meta.get("namespace")) or "", name)
        if key in seen:
            line = seen[key].line_of(["metadata", "name"])
            out.add(doc, ["metadata", "name"], f'{kind} "{name}" is also defined at line {line}')
        else:
            seen[key] = doc


# --------------------------------------------------------------------------------------------
# A scenario: its file, its steps, its probes, its manifests.


def _normal(rel: str) -> str:
    return posixpath.normpath(rel)


def _check_partner(s: Scenario, doc: Document, out: Findings) -> None:
    """`compare_with` names a scenario beside this one (same parent directory): a typo would
    silently drop the pair from the demo's closing matrix. Only its file is looked for, not
    parsed (each scenario is parsed once per run); a partner on the same data plane is simply
    never paired."""
    if s.compare_with is None or s.compare_with == s.name or not s.directory.name:
        return  # the loader already refused a scenario naming itself
    catalogue = s.directory.parent
    if not (catalogue / s.compare_with / SCENARIO_FILE).is_file():
        names = {p.parent.name for p in catalogue.glob(f"*/{SCENARIO_FILE}")} - {s.name}
        out.add(
            doc,
            ["compare_with"],
            f"no scenario {s.compare_with!r} in {catalogue}{hint(s.compare_with, names)}; "
            "expected a scenario directory beside this one",
        )


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


# A note about a probe, from a layer above lint (the split arithmetic lives in judge): the
# command passes it in, so lint does not depend on judge.
ProbeWarning = Callable[[Probe], str | None]


def _check_probes(
    s: Scenario, doc: Document, ctx: Context, out: Findings, probe_warning: ProbeWarning | None
) -> None:
    for i, st in enumerate(s.steps):
        for j, pr in enumerate(st.probes):
            base: PathKey = ("steps", i, "probes", j)
            warning = probe_warning(pr) if probe_warning is not None else None
            if warning is not None:  # e.g. samples below what the tolerance needs
                out.notes.append(doc.problem([*base, "samples"], f"warning: {warning}"))
            try:
                client_ns = s.namespace_of(s.client(pr.from_).namespace)
            except KeyError:
                continue  # the loader reports the unknown client
            target = _probe_service(pr.url, client_ns, ctx)
            if target is not None and pr.expect.outcome != Kind.UNREACHABLE:
                _check_probe_target(pr.url, target, (*base, "url"), doc, ctx, out)
            for key, expect in (("expect", pr.expect), ("gate", pr.gate)):
                if expect is not None:
                    _check_served_by(expect, (*base, key), target, doc, ctx, out)


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
            f'{hint(name, known)}; Services: {listing(known)} (expect "unreachable" '
            "to probe a name that does not exist)",
        )
        return
    port = urlsplit(url).port or 80
    ports = ctx.services.get(target)
    if ports and port not in ports:
        shown = ", ".join(map(str, ports))
        out.add(doc, path, f'Service "{name}" has no port {port}; ports: {shown}')


def _check_served_by(
    expect: Expect,
    path: PathKey,
    target: tuple[str, str] | None,
    doc: Document,
    ctx: Context,
    out: Findings,
) -> None:
    if not ctx.served_by:
        return
    names = [("served_by", expect.served_by)] if expect.served_by else []
    names += [("split", k) for k in expect.split or {}]
    # The probed Service's own versions, unless a route may send its requests elsewhere.
    own = ctx.versions.get(target) if target is not None and target[1] not in ctx.routed else None
    for key, value in names:
        where = (*path, key) if key == "served_by" else (*path, "split", value)
        if value not in ctx.served_by:
            out.add(
                doc,
                where,
                f'"{value}" is not a version of any backend of this scenario'
                f"{hint(value, ctx.served_by)}; versions: {listing(ctx.served_by)}",
            )
        elif own is not None and target is not None and value not in own:
            shown = listing({v for v in own if "-" not in v})
            out.add(
                doc,
                where,
                f'Service "{target[1]}" has no version "{value}" (its versions: {shown}): '
                "Istio can only send its requests to those, so this never matches",
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
    for _, st in mappings(steps):
        for key in ("apply", "delete"):
            for _, rel in strings(st.get(key)):
                if Path(rel).is_absolute() or ".." in Path(rel).parts:
                    continue
                if path_kind(directory / rel) == "file" and not link_outside(
                    directory, directory / rel
                ):
                    refs.setdefault(_normal(rel), None)
    return list(refs)


def _load_manifests(directory: Path, refs: list[str], out: Findings) -> dict[str, list[Document]]:
    """Each manifest that loads, by its (normalised) path relative to the scenario."""
    loaded: dict[str, list[Document]] = {}
    for rel in refs:
        file = directory / rel
        try:
            docs = load_documents(file)
        except SourceError as exc:
            out.problems.extend(exc.problems)
            continue
        if not docs:
            out.problems.append(Problem(file, 1, "no objects in this manifest (empty file)"))
        loaded[rel] = docs
    return loaded


def lint_scenario(
    file: Path, index: SchemaIndex, probe_warning: ProbeWarning | None = None
) -> Findings:
    out = Findings()
    try:
        docs = load_documents(file)
    except SourceError as exc:
        out.problems.extend(exc.problems)
        return out
    try:
        doc = one_document(file, docs)
    except SourceError as exc:
        out.problems.extend(exc.problems)
        return out
    try:
        scenario = parse_scenario(doc, file.parent)
    except SourceError as exc:
        out.problems.extend(exc.problems)
        for manifest in _load_manifests(
            file.parent, _raw_manifest_refs(doc.data, file.parent), out
        ).values():
            for d in manifest:
                check_document(d, index, None, out)
        return out
    return lint_parsed(file, doc, scenario, index, probe_warning, out)


def lint_parsed(
    file: Path,
    doc: Document,
    scenario: Scenario,
    index: SchemaIndex,
    probe_warning: ProbeWarning | None = None,
    out: Findings | None = None,
) -> Findings:
    """The checks of a scenario already parsed from `doc` (its file's one document): what
    `lint_scenario` does after parsing, so a caller holding the scenario does not parse twice."""
    out = Findings() if out is None else out
    refs = _manifest_refs(scenario)
    loaded = _load_manifests(file.parent, refs, out)
    manifests = list(loaded.values())
    ctx = build_context(scenario, [d for m in manifests for d in m])
    for m in manifests:
        _check_duplicates(m, out)
        for d in m:
            check_document(d, index, ctx, out)
    _check_steps(scenario, doc, out)
    _check_partner(scenario, doc, out)
    _check_probes(scenario, doc, ctx, out, probe_warning)
    if not out.problems:
        # Only a scenario that is otherwise sound is worth comparing with the mesh model,
        # predicted once from the documents parsed above.
        predicted = list(predict_scenario(scenario, loaded))
        check_silent(scenario, doc, loaded, out, predicted)
        if not out.problems:
            out.problems.extend(contradictions(scenario, doc, predicted))
    if not out.problems and not any(st.probes for st in scenario.steps):
        # Said once the rest is sound: a run of it would pass without observing anything.
        out.add(doc, ["steps"], "no step has a probe: a run would pass without testing anything")
    return out


def lint_manifest_file(file: Path, index: SchemaIndex) -> Findings:
    """A manifest given on its own: schema checks only (no scenario to compare with)."""
    out = Findings()
    for docs in _load_manifests(file.parent, [file.name], out).values():
        _check_duplicates(docs, out)
        for d in docs:
            check_document(d, index, None, out)
    return out
