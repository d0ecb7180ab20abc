"""Server-side apply, and the whole-step preflight.

Apply is *server-side apply* (PATCH `application/apply-patch+yaml`) with the field manager
`ambient-harness` and `force=true`: the harness owns what it applies, and a CRD as large as
HTTPRoute's fits (client-side apply would overflow the last-applied annotation).

`apply_step` = preflight, then apply. The preflight server-side-applies *every* document with
`dryRun=All` before anything is written, collects every rejection, and raises `ApplyError`
naming each object and the API server's message: then nothing was applied. Objects whose
prerequisite is created by the same step cannot be dry-run first (their CRD is not served
yet, or their Namespace does not exist yet); the preflight *defers* them. `apply_step` then
applies only the step's own CRDs/Namespaces (waiting for CRDs to be Established), preflights
the deferred objects, and applies the rest only if that second preflight passes. So a
rejected step leaves at most its own CRDs and Namespaces behind, and `ApplyError.applied`
says which. Every rejection is collected, the client's own (a manifest without apiVersion,
a kind the server does not serve) with the server's.

Fields of an existing object owned by another field manager (an Istio-made GatewayClass, a
CRD installed by kubectl: scenario namespaces are recreated, so cluster-scoped objects) are
not taken silently: the preflight dry-runs *without* force, so the server answers 409 naming
each such field; those are reported (`notice`, else `FieldTakeoverWarning`) and dry-run again
forced, as the apply will be. A rejection of an object merged with foreign fields says which
manager owns what, since the server's error may name a field the manifest does not have.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# `kubernetes` is imported in the methods that catch its errors (why: harness/kube/api.py).
from harness.kube.errors import (
    ApplyError,
    ApplyFailure,
    FieldTakeoverWarning,
    ManifestError,
    api_failure,
)
from harness.kube.objects import (
    Manifest,
    ObjectRef,
    crd_type,
    is_crd,
    is_namespace,
    is_prerequisite,
    loose_ref,
    namespace_ref,
    sort_for_apply,
)
from harness.kube.status import field_owners
from harness.kube.wait import KubeWaits


@dataclass(frozen=True)
class Takeover:
    """Fields of an existing object that another field manager owns and the harness's forced
    apply takes over (each a (manager, field) pair, as the server's 409 Conflict named them)."""

    ref: ObjectRef
    fields: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        by: dict[str, list[str]] = {}
        for manager, path in self.fields:
            by.setdefault(manager, []).append(path)
        whose = "; ".join(f"from {m}: {', '.join(p)}" for m, p in by.items())
        n = len(self.fields)
        return f"{self.ref}: the forced apply takes over {n} field{'s' if n != 1 else ''} {whose}"


@dataclass(frozen=True)
class Preflight:
    """What the dry run checked, what it had to defer (prerequisite in the same step), and
    the fields the apply will take over from other field managers."""

    checked: list[ObjectRef] = field(default_factory=list)
    deferred: list[ObjectRef] = field(default_factory=list)
    takeovers: list[Takeover] = field(default_factory=list)


def field_conflicts(err: Any) -> list[tuple[str, str]]:
    """(manager, field) of each FieldManagerConflict cause of a 409 apply answer:
    `('"kubectl-edit" using security.istio.io/v1', '.spec.action')`."""
    body = getattr(err, "body", None)
    body = body.decode(errors="replace") if isinstance(body, bytes) else body
    try:
        causes = (json.loads(body or "{}").get("details") or {}).get("causes") or []
    except (ValueError, AttributeError):
        return []
    return [
        (str(c.get("message", "")).removeprefix("conflict with "), str(c.get("field", "")))
        for c in causes
        if isinstance(c, dict) and c.get("reason") == "FieldManagerConflict"
    ]


class KubeApply(KubeWaits):
    """The applies of `Kube` (see harness.kube.client)."""

    def _try_ref(
        self, doc: Mapping[str, Any], default_namespace: str | None
    ) -> tuple[ObjectRef, ApplyFailure | None]:
        """The manifest's resolved reference, or a rejection that never reached the server
        (incomplete manifest, kind not served): returned, not raised, so that a preflight
        lists every one of them."""
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            return self.ref_for(doc, default_namespace), None
        except ResourceNotFoundError:
            ref = loose_ref(doc)
            msg = f"the server has no {ref.api_version} {ref.kind} (is its CRD installed?)"
            return ref, ApplyFailure(ref, msg, None, "NoKind")
        except ManifestError as e:
            ref = loose_ref(doc)
            return ref, ApplyFailure(ref, str(e), None, "Invalid")

    def apply(
        self,
        docs: Sequence[Mapping[str, Any]],
        *,
        dry_run: bool = False,
        default_namespace: str | None = None,
        crd_timeout: float = 60.0,
    ) -> list[ObjectRef]:
        """Server-side apply in `APPLY_ORDER`; returns the refs in the order applied.

        A real apply stops at the first rejection (`ApplyError.applied` lists what was
        written before it). CRDs applied here are waited for (Established) before any
        object of their kind. `dry_run=True` checks every document and reports all failures.
        """
        from kubernetes.dynamic.exceptions import DynamicApiError

        ordered = sort_for_apply(dict(d) for d in docs)
        new_crds = {crd_type(d): d for d in ordered if is_crd(d)}
        applied: list[ObjectRef] = []
        failures: list[ApplyFailure] = []
        awaited: set[str] = set()
        for doc in ordered:
            ref0 = loose_ref(doc)
            crd = new_crds.get((ref0.group, ref0.kind))
            if crd is not None and not dry_run:
                name = str(crd["metadata"]["name"])
                if name not in awaited:
                    self.wait_established(name, timeout=crd_timeout)
                    awaited.add(name)
            ref, failure = self._try_ref(doc, default_namespace)
            if failure is None:
                try:
                    self.server_side_apply(doc, ref, dry_run=dry_run)
                except DynamicApiError as e:
                    failure = api_failure(ref, e)
            if failure is not None:
                if not dry_run:
                    raise ApplyError("apply", [failure], applied)
                failures.append(failure)
                continue
            applied.append(ref)
        if failures:
            raise ApplyError("preflight", failures)
        return applied

    def preflight(
        self, docs: Sequence[Mapping[str, Any]], *, default_namespace: str | None = None
    ) -> Preflight:
        """Dry-run every document (`dryRun=All`); raise `ApplyError` listing every rejection.

        Objects whose CRD or Namespace is created by these same documents are deferred
        (returned in `Preflight.deferred`), see the module docstring.
        """
        ordered = sort_for_apply(dict(d) for d in docs)
        new_crd_types = {crd_type(d) for d in ordered if is_crd(d)}
        new_namespaces = {loose_ref(d).name for d in ordered if is_namespace(d)}
        missing_ns = {ns for ns in new_namespaces if self.get(namespace_ref(ns)) is None}
        checked: list[ObjectRef] = []
        deferred: list[ObjectRef] = []
        failures: list[ApplyFailure] = []
        takeovers: list[Takeover] = []
        for doc in ordered:
            ref, failure = self._try_ref(doc, default_namespace)
            new_kind = (ref.group, ref.kind) in new_crd_types
            if failure is not None and failure.reason == "NoKind" and new_kind:
                deferred.append(ref)
                continue
            if failure is None and ref.namespace in missing_ns:
                deferred.append(ref)
                continue
            if failure is None:
                taken, failure = self._dry_run(doc, ref)
                if taken:
                    takeovers.append(Takeover(ref, tuple(taken)))
                if failure is None:
                    checked.append(ref)
                    continue
            failures.append(failure)
        if failures:
            raise ApplyError("preflight", failures)
        return Preflight(checked, deferred, takeovers)

    def _dry_run(
        self, doc: Mapping[str, Any], ref: ObjectRef
    ) -> tuple[list[tuple[str, str]], ApplyFailure | None]:
        """Dry-run `doc` without force, so that the server names the fields other managers
        own (409 Conflict); then, if there were any, forced as the real apply will be.
        Returns the (manager, field) pairs taken over and the rejection, if any."""
        from kubernetes.dynamic.exceptions import ConflictError, DynamicApiError

        taken: list[tuple[str, str]] = []
        try:
            self.server_side_apply(doc, ref, dry_run=True, force=False)
            return [], None
        except ConflictError as e:
            conflicted = field_conflicts(e)
            if not conflicted:
                return [], api_failure(ref, e)
            # Fields the harness itself set by merge patch (labels, as manager operation
            # Update) conflict with its own apply too: nothing to tell the user about.
            own = f'"{self.field_manager}" '
            taken = [(m, f) for m, f in conflicted if not m.startswith(own)]
        except DynamicApiError as e:
            return [], self._explain(ref, api_failure(ref, e))
        try:
            self.server_side_apply(doc, ref, dry_run=True, force=True)
        except DynamicApiError as e:
            return taken, self._explain(ref, api_failure(ref, e))
        return taken, None

    def _explain(self, ref: ObjectRef, failure: ApplyFailure) -> ApplyFailure:
        """A rejection of an object that exists with fields other field managers own: the
        server checked the manifest *merged* with those, so say which (the error may name a
        field that is not in the manifest)."""
        from kubernetes.dynamic.exceptions import DynamicApiError

        try:
            live = self.get(ref)
        except DynamicApiError:
            return failure
        foreign = {
            manager: paths
            for manager, paths in field_owners(live).items()
            if manager != self.field_manager
        }
        if not foreign:
            return failure
        owned = "; ".join(f'"{m}" owns {", ".join(p)}' for m, p in sorted(foreign.items()))
        message = (
            f"{failure.message} -- the object already exists and the server checked this "
            f"manifest merged with the fields other field managers own ({owned}); delete the "
            "object or make the manifest set those fields, the harness does not remove them"
        )
        return ApplyFailure(failure.ref, message, failure.status, failure.reason)

    def apply_step(
        self,
        docs: Sequence[Mapping[str, Any]],
        *,
        default_namespace: str | None = None,
        crd_timeout: float = 60.0,
    ) -> list[ObjectRef]:
        """Preflight, then apply: a rejected step applies nothing (see module docstring)."""
        pf = self.preflight(docs, default_namespace=default_namespace)
        self._report(pf.takeovers)
        if not pf.deferred:
            return self.apply(docs, default_namespace=default_namespace, crd_timeout=crd_timeout)
        prereqs = [d for d in docs if is_prerequisite(d)]
        rest = [d for d in docs if not is_prerequisite(d)]
        applied = self.apply(prereqs, crd_timeout=crd_timeout)
        for d in prereqs:
            if is_crd(d):
                self.wait_established(str(d["metadata"]["name"]), timeout=crd_timeout)
        try:
            again = self.preflight(rest, default_namespace=default_namespace)
        except ApplyError as e:
            raise ApplyError("preflight", e.failures, applied) from None
        if again.deferred:
            failures = [
                ApplyFailure(r, "still cannot be checked after its prerequisites were applied")
                for r in again.deferred
            ]
            raise ApplyError("preflight", failures, applied)
        self._report(again.takeovers)
        return applied + self.apply(rest, default_namespace=default_namespace)

    def _report(self, takeovers: Sequence[Takeover]) -> None:
        """Each field a forced apply is about to take from another manager, said aloud."""
        for t in takeovers:
            if self.notice is not None:
                self.notice(str(t))
            else:
                warnings.warn(str(t), FieldTakeoverWarning, stacklevel=3)

    def ensure_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> ObjectRef:
        """Create or update a Namespace with these labels (server-side apply)."""
        from kubernetes.dynamic.exceptions import DynamicApiError

        doc: Manifest = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": dict(labels or {})},
        }
        ref = namespace_ref(name)
        try:
            self.server_side_apply(doc, ref, dry_run=False)
        except DynamicApiError as e:
            raise ApplyError("apply", [api_failure(ref, e)]) from None
        return ref
