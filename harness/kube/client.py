"""Kubernetes API access: server-side apply with a dry-run preflight, delete, and waits.

Everything goes through `kubernetes.dynamic.DynamicClient` so any kind (core, Istio, Gateway
API) is handled the same way, with the namespace taken from each manifest's
`metadata.namespace` (never forced, unlike `utils.create_from_yaml`).

Apply is *server-side apply* (PATCH `application/apply-patch+yaml`) with the field manager
`ambient-harness` and `force=true`: the harness owns what it applies, and a CRD as large as
HTTPRoute's fits (client-side apply would overflow the last-applied annotation).

Order of apply (`APPLY_ORDER`; stable within a rank, reversed for delete):
  0 CustomResourceDefinition
  1 Namespace
  2 identity and configuration: ServiceAccount, ConfigMap, Secret, RBAC, admission policies
  3 Service
  4 workloads: Deployment, DaemonSet, StatefulSet, ReplicaSet, Job, CronJob, Pod
  5 gateways: GatewayClass, Gateway (waypoints)
  6 everything else: policies and routes (AuthorizationPolicy, HTTPRoute, VirtualService, ...)

`apply_step` = preflight, then apply. The preflight server-side-applies *every* document with
`dryRun=All` before anything is written, collects every rejection, and raises `ApplyError`
naming each object and the API server's message: then nothing was applied. Objects whose
prerequisite is created by the same step cannot be dry-run first (their CRD is not served
yet, or their Namespace does not exist yet); the preflight *defers* them. `apply_step` then
applies only the step's own CRDs/Namespaces (waiting for CRDs to be Established), preflights
the deferred objects, and applies the rest only if that second preflight passes. So a
rejected step leaves at most its own CRDs and Namespaces behind, and `ApplyError.applied`
says which.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import (
    ConflictError,
    DynamicApiError,
    NotFoundError,
    ResourceNotFoundError,
)

Manifest = dict[str, Any]
Progress = Callable[[str, float], None]  # (what is awaited, elapsed seconds)
Propagation = Literal["Foreground", "Background", "Orphan"]
T = TypeVar("T")

FIELD_MANAGER = "ambient-harness"
CRD_API_VERSION = "apiextensions.k8s.io/v1"

APPLY_ORDER: tuple[frozenset[str], ...] = (
    frozenset({"CustomResourceDefinition"}),
    frozenset({"Namespace"}),
    frozenset(
        {
            "ServiceAccount",
            "ConfigMap",
            "Secret",
            "Role",
            "ClusterRole",
            "RoleBinding",
            "ClusterRoleBinding",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "PersistentVolumeClaim",
        }
    ),
    frozenset({"Service"}),
    frozenset({"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job", "CronJob", "Pod"}),
    frozenset({"GatewayClass", "Gateway"}),
)


def apply_rank(kind: str) -> int:
    """Position of `kind` in `APPLY_ORDER`; unknown kinds (policies, routes) come last."""
    for rank, kinds in enumerate(APPLY_ORDER):
        if kind in kinds:
            return rank
    return len(APPLY_ORDER)


def sort_for_apply(docs: Iterable[Manifest]) -> list[Manifest]:
    return sorted(docs, key=lambda d: apply_rank(str(d.get("kind", ""))))


def sort_for_delete(docs: Iterable[Manifest]) -> list[Manifest]:
    return list(reversed(sort_for_apply(docs)))


def load_manifests(path: Path) -> list[Manifest]:
    """The non-empty YAML documents of a file (libyaml when available: bundles are ~1 MB)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as f:
        docs = list(yaml.load_all(f, Loader=loader))  # a safe loader (C or Python)
    out: list[Manifest] = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ManifestError(f"{path}: document {i + 1} is not a mapping")
        out.append(doc)
    return out


# --- references and errors -------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class ObjectRef:
    """Which object: printed as `AuthorizationPolicy ambient-authz-l4/ratings-allow`."""

    api_version: str
    kind: str
    namespace: str | None
    name: str

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> ObjectRef:
        """The reference a manifest names, as written (scope is not known without a server)."""
        meta = doc.get("metadata")
        if not isinstance(meta, dict):
            raise ManifestError(f"{doc.get('kind', '?')}: metadata is missing")
        api_version, kind, name = doc.get("apiVersion"), doc.get("kind"), meta.get("name")
        if not (isinstance(api_version, str) and isinstance(kind, str) and isinstance(name, str)):
            raise ManifestError(
                f"a manifest needs apiVersion, kind and metadata.name (got apiVersion="
                f"{api_version!r}, kind={kind!r}, name={name!r})"
            )
        ns = meta.get("namespace")
        return cls(api_version, kind, ns if isinstance(ns, str) and ns else None, name)


def namespace_ref(name: str) -> ObjectRef:
    return ObjectRef("v1", "Namespace", None, name)


def crd_ref(name: str) -> ObjectRef:
    return ObjectRef(CRD_API_VERSION, "CustomResourceDefinition", None, name)


def deployment_ref(namespace: str, name: str) -> ObjectRef:
    return ObjectRef("apps/v1", "Deployment", namespace, name)


def daemonset_ref(namespace: str, name: str) -> ObjectRef:
    return ObjectRef("apps/v1", "DaemonSet", namespace, name)


def service_ref(namespace: str, name: str) -> ObjectRef:
    return ObjectRef("v1", "Service", namespace, name)


class KubeError(Exception):
    """Base of the errors this module raises on purpose."""


class ManifestError(KubeError, ValueError):
    """A manifest the harness cannot even send (no kind, no name, ...)."""


@dataclass(frozen=True)
class ApplyFailure:
    """One object the API server (or discovery) rejected."""

    ref: ObjectRef
    message: str
    status: int | None = None  # HTTP status; None when it never reached the server
    reason: str = ""  # Status.reason, e.g. Invalid, NotFound, Forbidden

    def __str__(self) -> str:
        code = f" [{self.status} {self.reason}]".rstrip() if self.status else ""
        return f"{self.ref}: {self.message}{code}"


class ApplyError(KubeError):
    """Apply or preflight failed; `failures` names each object, `applied` what was written."""

    def __init__(
        self, phase: str, failures: Sequence[ApplyFailure], applied: Sequence[ObjectRef] = ()
    ) -> None:
        self.phase = phase
        self.failures = list(failures)
        self.applied = list(applied)
        super().__init__(self._message())

    def _message(self) -> str:
        n = len(self.failures)
        what = (
            "server-side dry run (preflight)" if self.phase == "preflight" else "server-side apply"
        )
        head = f"{what} rejected {n} object{'s' if n != 1 else ''}"
        if self.applied:
            done = ", ".join(str(r) for r in self.applied)
            head += f"; already applied: {done}"
        elif self.phase == "preflight":
            head += "; nothing was applied"
        return head + "".join(f"\n  {f}" for f in self.failures)


class WaitTimeout(KubeError, TimeoutError):
    """A wait ran out of time; the message names the object(s) and what was last seen."""

    def __init__(self, ref: ObjectRef | str, want: str, elapsed_s: float, last_seen: str) -> None:
        self.ref = ref
        self.want = want
        self.elapsed_s = elapsed_s
        self.last_seen = last_seen
        super().__init__(
            f"timed out after {elapsed_s:.1f}s waiting for {ref} to be {want}; "
            f"last seen: {last_seen}"
        )


@dataclass(frozen=True)
class Preflight:
    """What the dry run checked, and what it had to defer (prerequisite in the same step)."""

    checked: list[ObjectRef] = field(default_factory=list)
    deferred: list[ObjectRef] = field(default_factory=list)


# --- reading status ------------------------------------------------------------------------


def conditions(obj: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not obj:
        return []
    conds = (obj.get("status") or {}).get("conditions") or []
    return [c for c in conds if isinstance(c, dict)]


def condition_is(obj: Mapping[str, Any] | None, type_: str, status: str = "True") -> bool:
    return any(c.get("type") == type_ and c.get("status") == status for c in conditions(obj))


def format_conditions(obj: Mapping[str, Any] | None) -> str:
    """`Accepted=True Accepted; Programmed=False Invalid: no pods` (or `no conditions`)."""
    if obj is None:
        return "object not found"
    parts = []
    for c in conditions(obj):
        text = f"{c.get('type')}={c.get('status')}"
        if c.get("reason"):
            text += f" {c['reason']}"
        if c.get("message"):
            text += f": {c['message']}"
        parts.append(text)
    return "; ".join(parts) if parts else "no conditions"


def deployment_available(obj: Mapping[str, Any] | None) -> bool:
    if obj is None:
        return False
    gen = (obj.get("metadata") or {}).get("generation", 0)
    observed = (obj.get("status") or {}).get("observedGeneration", 0)
    return observed >= gen and condition_is(obj, "Available")


def pod_ready(pod: Mapping[str, Any]) -> bool:
    """Running, Ready=True and not being deleted."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    return (
        status.get("phase") == "Running"
        and condition_is(pod, "Ready")
        and not meta.get("deletionTimestamp")
    )


def ready_pod(pods: Sequence[Mapping[str, Any]]) -> str | None:
    """The newest ready pod's name (a rollout leaves older ones terminating), or None."""
    ready = sorted(
        (p for p in pods if pod_ready(p)),
        key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp", "")),
    )
    return str(ready[-1]["metadata"]["name"]) if ready else None


def describe_pods(pods: Sequence[Mapping[str, Any]]) -> str:
    """`a-1 Pending (echo: ImagePullBackOff: Back-off pulling image ...), b-2 Running (not
    ready)`, or `no pods`: why pods are not ready, in the kubelet's words."""
    if not pods:
        return "no pods"
    parts = []
    for p in pods:
        status = p.get("status") or {}
        phase = status.get("phase", "?")
        waiting = [
            ": ".join(str(x) for x in (c.get("name"), w.get("reason"), w.get("message")) if x)
            for key in ("initContainerStatuses", "containerStatuses")
            for c in status.get(key) or []
            if (w := (c.get("state") or {}).get("waiting"))
        ]
        if waiting:
            state = f" ({'; '.join(waiting)})"
        else:
            state = " (not ready)" if phase == "Running" and not pod_ready(p) else ""
        parts.append(f"{(p.get('metadata') or {}).get('name', '?')} {phase}{state}")
    return ", ".join(parts)


def daemonset_rolled_out(obj: Mapping[str, Any] | None) -> bool:
    """Every scheduled pod is updated and ready, for the current generation."""
    if obj is None:
        return False
    status = obj.get("status") or {}
    gen = (obj.get("metadata") or {}).get("generation", 0)
    desired = status.get("desiredNumberScheduled")
    return (
        status.get("observedGeneration", 0) >= gen
        and desired is not None
        and desired > 0
        and status.get("numberReady") == desired
        and status.get("updatedNumberScheduled") == desired
    )


def describe_daemonset(obj: Mapping[str, Any] | None) -> str:
    if obj is None:
        return "object not found"
    s = obj.get("status") or {}
    gen = (obj.get("metadata") or {}).get("generation", "?")
    return (
        f"desired={s.get('desiredNumberScheduled')} ready={s.get('numberReady')} "
        f"updated={s.get('updatedNumberScheduled')} "
        f"observedGeneration={s.get('observedGeneration')}/{gen}"
    )


def _status_words(err: Any) -> tuple[str, str]:
    """(message, reason) of an API error, from the `Status` object in its body."""
    message, reason = "", str(getattr(err, "reason", "") or "")
    body = getattr(err, "body", None)
    body = body.decode(errors="replace") if isinstance(body, bytes) else body
    if body:
        try:
            status = json.loads(body)
            message = str(status.get("message") or "")
            reason = str(status.get("reason") or reason)
        except (ValueError, AttributeError):
            message = str(body)[:2000]
    return message, reason


def _api_failure(ref: ObjectRef, err: DynamicApiError) -> ApplyFailure:
    """The API server's own words: Status.message and reason from the error body."""
    message, reason = _status_words(err)
    return ApplyFailure(ref, message or f"HTTP {err.status}", err.status, reason)


def api_error_text(exc: BaseException) -> str | None:
    """`HTTP 403 Forbidden: <the API server's message>` for the kubernetes client's errors
    (whose `str()` dumps every response header), None for any other exception."""
    status = getattr(exc, "status", None)
    if not isinstance(status, int) or not hasattr(exc, "body"):
        return None
    message, reason = _status_words(exc)
    return f"HTTP {status} {reason}".rstrip() + (f": {message}" if message else "")


def _json(resp: Any) -> dict[str, Any]:
    data = resp.data
    out = json.loads(data.decode() if isinstance(data, bytes) else data)
    if not isinstance(out, dict):
        raise KubeError(f"unexpected API response: {str(out)[:200]}")
    return out


# --- the client ------------------------------------------------------------------------------


class Kube:
    """One cluster, through one `ApiClient`.

    Tests pass an `ApiClient` pointed at a fake server and a tight `poll_interval`;
    `from_kubeconfig` builds one from a kubeconfig file and context. `progress` is called
    about every `progress_every` seconds during a wait with (what, elapsed seconds).
    `kubeconfig`/`context` are remembered for CLI tools (istioctl) run against this cluster.
    `request_timeout` bounds every API call, so a hung API server fails a wait instead of
    blocking it forever (the client's default is no timeout at all).
    """

    def __init__(
        self,
        api_client: k8s.ApiClient,
        *,
        field_manager: str = FIELD_MANAGER,
        poll_interval: float = 1.0,
        progress: Progress | None = None,
        progress_every: float = 5.0,
        kubeconfig: Path | None = None,
        context: str | None = None,
        request_timeout: float = 30.0,
    ) -> None:
        self._api = api_client
        self.field_manager = field_manager
        self.poll_interval = poll_interval
        self.progress = progress
        self.progress_every = progress_every
        self.kubeconfig = kubeconfig
        self.context = context
        self.request_timeout = request_timeout
        # Discovery is cached per Kube in a private directory: the client's default cache
        # is one file per host in /tmp, shared by users and stale across clusters.
        self._cache_dir = tempfile.mkdtemp(prefix="ambient-harness-discovery-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._cache_dir, True)
        self._dyn: DynamicClient | None = None

    @classmethod
    def from_kubeconfig(
        cls, kubeconfig: Path | None = None, context: str | None = None, **kwargs: Any
    ) -> Kube:
        api = k8s_config.new_client_from_config(
            config_file=str(kubeconfig) if kubeconfig else None,
            context=context,
            persist_config=False,
        )
        return cls(api, kubeconfig=kubeconfig, context=context, **kwargs)

    @property
    def api_client(self) -> k8s.ApiClient:
        return self._api

    def close(self) -> None:
        self._api.close()
        self._cleanup()

    def __enter__(self) -> Kube:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dynamic(self) -> DynamicClient:
        if self._dyn is None:
            cache = str(Path(self._cache_dir) / "discovery.json")
            self._dyn = DynamicClient(self._api, cache_file=cache)
        return self._dyn

    def _resource(self, api_version: str, kind: str) -> Any:
        return self.dynamic.resources.get(api_version=api_version, kind=kind)

    def ref_for(self, doc: Mapping[str, Any], default_namespace: str | None = None) -> ObjectRef:
        """The manifest's reference with its scope resolved by discovery.

        Namespaced objects use metadata.namespace, else `default_namespace`, else it is a
        `ManifestError`; cluster-scoped ones never carry a namespace.
        """
        ref = ObjectRef.of(doc)
        res = self._resource(ref.api_version, ref.kind)
        if not res.namespaced:
            return ObjectRef(ref.api_version, ref.kind, None, ref.name)
        ns = ref.namespace or default_namespace
        if ns is None:
            raise ManifestError(f"{ref}: metadata.namespace is required for a namespaced kind")
        return ObjectRef(ref.api_version, ref.kind, ns, ref.name)

    # --- apply ---------------------------------------------------------------------------

    def _ssa(self, doc: Mapping[str, Any], ref: ObjectRef, *, dry_run: bool) -> dict[str, Any]:
        body = json.loads(json.dumps(doc))  # a deep copy, fast for 1 MB CRDs
        meta = body.setdefault("metadata", {})
        if ref.namespace is None:
            meta.pop("namespace", None)
        else:
            meta["namespace"] = ref.namespace
        res = self._resource(ref.api_version, ref.kind)
        resp = res.server_side_apply(
            body=body,
            name=ref.name,
            namespace=ref.namespace,
            field_manager=self.field_manager,
            force_conflicts=True,
            dry_run="All" if dry_run else None,
            serialize=False,
            _request_timeout=self.request_timeout,
        )
        return _json(resp)

    def _try_ref(
        self, doc: Mapping[str, Any], default_namespace: str | None
    ) -> tuple[ObjectRef, ApplyFailure | None]:
        try:
            return self.ref_for(doc, default_namespace), None
        except ResourceNotFoundError:
            ref = ObjectRef.of(doc)
            msg = f"the server has no {ref.api_version} {ref.kind} (is its CRD installed?)"
            return ref, ApplyFailure(ref, msg, None, "NoKind")
        except ManifestError as e:
            ref = ObjectRef.of(doc)
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
        ordered = sort_for_apply(dict(d) for d in docs)
        new_crds = {_crd_type(d): d for d in ordered if _is_crd(d)}
        applied: list[ObjectRef] = []
        failures: list[ApplyFailure] = []
        awaited: set[str] = set()
        for doc in ordered:
            ref0 = ObjectRef.of(doc)
            crd = new_crds.get((ref0.group, ref0.kind))
            if crd is not None and not dry_run:
                name = str(crd["metadata"]["name"])
                if name not in awaited:
                    self.wait_established(name, timeout=crd_timeout)
                    awaited.add(name)
            ref, failure = self._try_ref(doc, default_namespace)
            if failure is None:
                try:
                    self._ssa(doc, ref, dry_run=dry_run)
                except DynamicApiError as e:
                    failure = _api_failure(ref, e)
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
        new_crd_types = {_crd_type(d) for d in ordered if _is_crd(d)}
        new_namespaces = {
            ObjectRef.of(d).name
            for d in ordered
            if d.get("kind") == "Namespace" and d.get("apiVersion") == "v1"
        }
        missing_ns = {ns for ns in new_namespaces if self.get(namespace_ref(ns)) is None}
        checked: list[ObjectRef] = []
        deferred: list[ObjectRef] = []
        failures: list[ApplyFailure] = []
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
                try:
                    self._ssa(doc, ref, dry_run=True)
                    checked.append(ref)
                    continue
                except DynamicApiError as e:
                    failure = _api_failure(ref, e)
            failures.append(failure)
        if failures:
            raise ApplyError("preflight", failures)
        return Preflight(checked, deferred)

    def apply_step(
        self,
        docs: Sequence[Mapping[str, Any]],
        *,
        default_namespace: str | None = None,
        crd_timeout: float = 60.0,
    ) -> list[ObjectRef]:
        """Preflight, then apply: a rejected step applies nothing (see module docstring)."""
        pf = self.preflight(docs, default_namespace=default_namespace)
        if not pf.deferred:
            return self.apply(docs, default_namespace=default_namespace, crd_timeout=crd_timeout)
        prereqs = [d for d in docs if _is_prerequisite(d)]
        rest = [d for d in docs if not _is_prerequisite(d)]
        applied = self.apply(prereqs, crd_timeout=crd_timeout)
        for d in prereqs:
            if _is_crd(d):
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
        return applied + self.apply(rest, default_namespace=default_namespace)

    # --- read ----------------------------------------------------------------------------

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        """The object as the server has it, or None if it (or its kind) does not exist."""
        try:
            res = self._resource(ref.api_version, ref.kind)
        except ResourceNotFoundError:
            return None
        try:
            resp = res.get(
                name=ref.name,
                namespace=ref.namespace,
                serialize=False,
                _request_timeout=self.request_timeout,
            )
        except NotFoundError:
            return None
        return _json(resp)

    def list_objects(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        res = self._resource(api_version, kind)
        resp = res.get(
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            serialize=False,
            _request_timeout=self.request_timeout,
        )
        items = _json(resp).get("items") or []
        return [i for i in items if isinstance(i, dict)]

    # --- delete --------------------------------------------------------------------------

    def delete(
        self,
        items: Sequence[Mapping[str, Any] | ObjectRef],
        *,
        wait: bool = True,
        timeout: float = 120.0,
        propagation: Propagation | None = None,
        default_namespace: str | None = None,
    ) -> list[ObjectRef]:
        """Delete in reverse apply order; with `wait`, until each is gone (404).

        Propagation: Foreground when waiting (the object stays until its dependents, e.g. a
        Deployment's pods, are gone, so "deleted" means really gone), Background otherwise;
        Namespaces always Background (the namespace controller empties them either way).
        A missing object counts as deleted. Returns the refs that were requested.
        """
        refs: list[ObjectRef] = []
        for item in items:
            if isinstance(item, ObjectRef):
                refs.append(item)
                continue
            try:
                refs.append(self.ref_for(item, default_namespace))
            except ResourceNotFoundError:
                refs.append(ObjectRef.of(item))  # its kind is not served: nothing to delete
        refs.sort(key=lambda r: apply_rank(r.kind), reverse=True)
        deadline = time.monotonic() + timeout
        for ref in refs:
            policy = propagation or ("Foreground" if wait else "Background")
            if ref.kind == "Namespace" and ref.api_version == "v1":
                policy = propagation or "Background"
            try:
                res = self._resource(ref.api_version, ref.kind)
            except ResourceNotFoundError:
                continue
            try:
                # Deserialized (not serialize=False): reading the answer releases the
                # connection back to the pool instead of leaking its socket.
                res.delete(
                    name=ref.name,
                    namespace=ref.namespace,
                    propagation_policy=policy,
                    _request_timeout=self.request_timeout,
                )
            except NotFoundError:
                pass
            except ConflictError:
                # A Namespace already terminating answers 409 ("The system is ensuring all
                # content is removed from this namespace"): it is being deleted, so wait.
                if ref.kind != "Namespace":
                    raise
        if wait:
            for ref in refs:
                self.wait_deleted(ref, timeout=max(0.0, deadline - time.monotonic()))
        return refs

    # --- waits ---------------------------------------------------------------------------

    def poll_until(
        self,
        what: ObjectRef | str,
        fetch: Callable[[], T],
        done: Callable[[T], bool],
        *,
        want: str,
        timeout: float,
        describe: Callable[[T], str],
        interval: float | None = None,
    ) -> T:
        """Call `fetch` until `done(result)`; progress lines and `WaitTimeout` name `what`
        and show `describe(last result)`. Every `wait_*` here is built on it."""
        step = self.poll_interval if interval is None else interval
        start = time.monotonic()
        next_report = start + self.progress_every
        while True:
            seen = fetch()
            if done(seen):
                return seen
            now = time.monotonic()
            elapsed = now - start
            if elapsed >= timeout:
                raise WaitTimeout(what, want, elapsed, describe(seen))
            if self.progress is not None and now >= next_report:
                self.progress(f"waiting for {what} to be {want}", elapsed)
                next_report = now + self.progress_every
            time.sleep(max(0.0, min(step, timeout - elapsed)))

    def wait_for(
        self,
        ref: ObjectRef,
        predicate: Callable[[dict[str, Any] | None], bool],
        *,
        want: str,
        timeout: float,
        interval: float | None = None,
        describe: Callable[[dict[str, Any] | None], str] = format_conditions,
    ) -> dict[str, Any] | None:
        """Poll `ref` until `predicate(obj or None)` holds; return the last object seen.

        On timeout raise `WaitTimeout` naming the object, `want`, and `describe(last)`
        (by default its status conditions as `type=status reason: message`).
        """
        return self.poll_until(
            ref,
            lambda: self.get(ref),
            predicate,
            want=want,
            timeout=timeout,
            interval=interval,
            describe=describe,
        )

    def wait_pod_ready(self, namespace: str, selector: str, *, timeout: float = 120.0) -> str:
        """Name of the newest Running, Ready pod matching `selector`, once there is one."""
        pods = self.poll_until(
            f"a pod of {namespace} with {selector}",
            lambda: self.pods(namespace, selector),
            lambda found: ready_pod(found) is not None,
            want="Ready",
            timeout=timeout,
            describe=describe_pods,
        )
        name = ready_pod(pods)
        assert name is not None
        return name

    def wait_condition(
        self, ref: ObjectRef, type_: str, status: str = "True", *, timeout: float = 120.0
    ) -> dict[str, Any]:
        obj = self.wait_for(
            ref,
            lambda o: condition_is(o, type_, status),
            want=f"{type_}={status}",
            timeout=timeout,
        )
        assert obj is not None  # a satisfied condition implies the object exists
        return obj

    def wait_deployment_available(
        self, namespace: str, name: str, *, timeout: float = 180.0
    ) -> dict[str, Any]:
        """On timeout the message also says what its pods wait for (ImagePullBackOff, ...):
        the Deployment's own conditions only say "does not have minimum availability"."""

        def describe(obj: dict[str, Any] | None) -> str:
            labels = (((obj or {}).get("spec") or {}).get("selector") or {}).get("matchLabels")
            if not labels:
                return format_conditions(obj)
            pods = self.pods(namespace, ",".join(f"{k}={v}" for k, v in labels.items()))
            return f"{format_conditions(obj)}; pods: {describe_pods(pods)}"

        obj = self.wait_for(
            deployment_ref(namespace, name),
            deployment_available,
            want="Available=True (current generation observed)",
            timeout=timeout,
            describe=describe,
        )
        assert obj is not None
        return obj

    def wait_daemonset_rolled_out(
        self, namespace: str, name: str, *, timeout: float = 180.0
    ) -> dict[str, Any]:
        obj = self.wait_for(
            daemonset_ref(namespace, name),
            daemonset_rolled_out,
            want="rolled out (desired = ready = updated, current generation observed)",
            timeout=timeout,
            describe=describe_daemonset,
        )
        assert obj is not None
        return obj

    def wait_established(self, crd_name: str, *, timeout: float = 60.0) -> dict[str, Any]:
        return self.wait_condition(crd_ref(crd_name), "Established", "True", timeout=timeout)

    def wait_exists(self, ref: ObjectRef, *, timeout: float = 60.0) -> dict[str, Any]:
        obj = self.wait_for(ref, lambda o: o is not None, want="present", timeout=timeout)
        assert obj is not None
        return obj

    def wait_deleted(self, ref: ObjectRef, *, timeout: float = 120.0) -> None:
        def still_there(o: dict[str, Any] | None) -> str:
            if o is None:
                return "gone"
            meta = o.get("metadata") or {}
            ts = meta.get("deletionTimestamp")
            state = f"deleting since {ts}" if ts else "not being deleted"
            fin = meta.get("finalizers")
            return state + (f", finalizers {fin}" if fin else "") + f"; {format_conditions(o)}"

        self.wait_for(
            ref, lambda o: o is None, want="deleted", timeout=timeout, describe=still_there
        )

    # --- namespaces and labels -----------------------------------------------------------

    def ensure_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> ObjectRef:
        """Create or update a Namespace with these labels (server-side apply)."""
        doc: Manifest = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": dict(labels or {})},
        }
        ref = namespace_ref(name)
        try:
            self._ssa(doc, ref, dry_run=False)
        except DynamicApiError as e:
            raise ApplyError("apply", [_api_failure(ref, e)]) from None
        return ref

    def delete_namespace(self, name: str, *, wait: bool = True, timeout: float = 180.0) -> None:
        self.delete([namespace_ref(name)], wait=wait, timeout=timeout)

    def label(self, ref: ObjectRef, labels: Mapping[str, str | None]) -> dict[str, Any]:
        """Set (or, with None, remove) labels on an existing object by JSON merge patch.

        A merge patch, not an apply: a partial apply under the harness's field manager
        would drop every other field the harness applied to that object.
        """
        res = self._resource(ref.api_version, ref.kind)
        try:
            resp = res.patch(
                body={"metadata": {"labels": dict(labels)}},
                name=ref.name,
                namespace=ref.namespace,
                content_type="application/merge-patch+json",
                field_manager=self.field_manager,
                serialize=False,
                _request_timeout=self.request_timeout,
            )
        except DynamicApiError as e:
            raise ApplyError("apply", [_api_failure(ref, e)]) from None
        return _json(resp)

    # --- cluster information and debugging -----------------------------------------------

    def server_version(self) -> str:
        """The API server's gitVersion, e.g. `v1.35.8`."""
        # Raw JSON: the typed VersionInfo model rejects servers that omit optional fields.
        info = _json(
            self.dynamic.request(
                "get", "/version", serialize=False, _request_timeout=self.request_timeout
            )
        )
        return str(info.get("gitVersion", ""))

    def pods(
        self,
        namespace: str | None,
        selector: str | None = None,
        *,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        return self.list_objects(
            "v1", "Pod", namespace, label_selector=selector, field_selector=field_selector
        )

    def pod_logs(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        *,
        tail_lines: int | None = None,
        limit_bytes: int | None = None,
        previous: bool = False,
        request_timeout: float = 30.0,
    ) -> str:
        """Raw log text (undecodable bytes replaced), never parsed as JSON."""
        kwargs: dict[str, Any] = {"_preload_content": False, "_request_timeout": request_timeout}
        if container is not None:
            kwargs["container"] = container
        if tail_lines is not None:
            kwargs["tail_lines"] = tail_lines
        if limit_bytes is not None:
            kwargs["limit_bytes"] = limit_bytes
        if previous:
            kwargs["previous"] = True
        resp = k8s.CoreV1Api(self._api).read_namespaced_pod_log(pod, namespace, **kwargs)
        data = resp.data
        return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)

    def events(self, namespace: str) -> list[dict[str, Any]]:
        """The namespace's events, oldest first."""
        items = self.list_objects("v1", "Event", namespace)
        return sorted(items, key=event_time)


def event_time(ev: Mapping[str, Any]) -> str:
    meta = ev.get("metadata") or {}
    return str(
        ev.get("lastTimestamp")
        or ev.get("eventTime")
        or ev.get("firstTimestamp")
        or meta.get("creationTimestamp")
        or ""
    )


def _is_crd(doc: Mapping[str, Any]) -> bool:
    return doc.get("kind") == "CustomResourceDefinition" and str(
        doc.get("apiVersion", "")
    ).startswith("apiextensions.k8s.io/")


def _crd_type(doc: Mapping[str, Any]) -> tuple[str, str]:
    """(group, kind) a CRD defines."""
    spec = doc.get("spec") or {}
    return str(spec.get("group", "")), str((spec.get("names") or {}).get("kind", ""))


def _is_prerequisite(doc: Mapping[str, Any]) -> bool:
    return _is_crd(doc) or (doc.get("kind") == "Namespace" and doc.get("apiVersion") == "v1")
