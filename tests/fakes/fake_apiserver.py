"""An in-process fake Kubernetes API server, for offline tests of the request contract.

Why our own and not kmock: kmock needs pytest-asyncio at start-up and has no real server-side
apply; the contract we assert on *is* server-side apply (PATCH with
`application/apply-patch+yaml`, `fieldManager`, `force`, `dryRun=All`). This server is a
`ThreadingHTTPServer` on 127.0.0.1 (random port, plain HTTP) that speaks enough of the API
for the official client and its `DynamicClient`:

- discovery: `/version`, `/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>`, built from
  the registered resource types; applying a CustomResourceDefinition registers its type (so a
  CRD applied by the code under test becomes discoverable, like on a real server);
- server-side apply (PATCH, `application/apply-patch+yaml`): requires `fieldManager` (400
  otherwise, as a real server does), checks apiVersion/kind/name/namespace against the path,
  answers 404 for a namespaced object whose Namespace does not exist (`require_namespaces`),
  stores the object unless `dryRun=All`; JSON merge patches (`merge-patch+json`,
  `strategic-merge-patch+json` treated as a plain merge) for existing objects;
- GET / LIST (equality label and field selectors) / DELETE for namespaced and cluster-scoped
  resources; deleting a Namespace removes its objects; `linger_reads` keeps a deleted object
  (with `deletionTimestamp`) for N more reads, to exercise wait-for-deletion; an object with
  `metadata.finalizers` stays (with `deletionTimestamp`) until a merge patch empties them;
  `controllers=False` is an API server without kube-controller-manager: a Foreground delete
  leaves the object with the `foregroundDeletion` finalizer and a Namespace stays
  `Terminating` with `spec.finalizers: [kubernetes]`, forever (with controllers, Foreground
  deletes the objects whose ownerReferences name it first);
- `GET .../pods/<name>/log` with `container`, `tailLines`, `limitBytes`, `previous`; 204 with
  no body for a pod not scheduled on a node (as kube-apiserver answers);
- a request log (`requests`) of every call: method, path, query, content type, parsed body.

Test hooks: `add()` seeds objects; `set_conditions()`; `condition_after()` flips a status
condition after N reads of the object (e.g. a Gateway becomes Programmed on the 3rd poll);
`on_read()` for arbitrary mutations; `fail_dry_run()` / `fail_apply()` answer a chosen error
for a given object (e.g. 422 Invalid to the dry-run preflight); `set_logs()` for pod logs.
CRDs applied through the API become Established after `crd_established_after` reads.

Field ownership (tests/fakes/field_owners.py): each apply records its manager's fields in
`metadata.managedFields` (FieldsV1); fields another manager owns (`add(..., field_manager=)`)
are kept by an apply and, set to another value without `force=true`, answer 409 Conflict
listing them (`details.causes`, reason FieldManagerConflict); with `force=true` the applier
takes them over. `validate()` states a rule the stored (merged) object must satisfy (422).
A field a CRD's schema does not declare answers 500 with no reason (see `_undeclared`).

Simplifications (documented so nobody relies on them): fields nobody owns are dropped by an
apply (it replaces the object except `status`, server-set metadata, other managers' fields
and label keys set by a merge patch); lists are atomic; no admission, no watch, no
resourceVersion conflicts, no version conversion (an object is served under whichever
version is requested).

Usage in a test module (tests/ is on sys.path under pytest's default import mode):

    from fakes.fake_apiserver import FakeApiServer

    @pytest.fixture
    def api() -> Iterator[FakeApiServer]:
        with FakeApiServer() as server:
            yield server

    def test_x(api: FakeApiServer) -> None:
        kube = Kube(api.api_client(), poll_interval=0.01)
        ...
        assert api.patches(dry_run=True)[0].path == "/api/v1/namespaces/ns"
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import yaml
from kubernetes.client import ApiClient, Configuration

from fakes.field_owners import (
    Owner,
    conflict_status,
    conflicts,
    leaves,
    managed_fields,
    merge_foreign,
)

Obj = dict[str, Any]
JsonT = TypeVar("JsonT", Obj, list[Obj])
ReadHook = Callable[[Obj, int], None]

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCHES = ("application/merge-patch+json", "application/strategic-merge-patch+json")


@dataclass(frozen=True)
class ResourceType:
    """One kind the server serves, as discovery describes it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    subresources: tuple[str, ...] = ("status",)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def _t(gv: str, kind: str, plural: str, namespaced: bool, *subs: str) -> ResourceType:
    group, _, version = gv.rpartition("/")
    return ResourceType(group, version, kind, plural, namespaced, subs or ("status",))


CORE_TYPES: tuple[ResourceType, ...] = (
    _t("v1", "Namespace", "namespaces", False, "status", "finalize"),
    _t("v1", "Node", "nodes", False),
    _t("v1", "Pod", "pods", True, "status", "log"),
    _t("v1", "Service", "services", True),
    _t("v1", "ServiceAccount", "serviceaccounts", True),
    _t("v1", "ConfigMap", "configmaps", True),
    _t("v1", "Secret", "secrets", True),
    _t("v1", "Event", "events", True),
    _t("apps/v1", "Deployment", "deployments", True),
    _t("apps/v1", "DaemonSet", "daemonsets", True),
    _t("apps/v1", "StatefulSet", "statefulsets", True),
    _t("apps/v1", "ReplicaSet", "replicasets", True),
    _t("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", False),
    _t(
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        False,
    ),
    _t(
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        False,
    ),
    _t("rbac.authorization.k8s.io/v1", "Role", "roles", True),
    _t("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True),
    _t("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False),
    _t("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False),
)

# The Istio kinds scenarios use (served as if their CRDs were installed).
ISTIO_TYPES: tuple[ResourceType, ...] = tuple(
    _t(f"{group}/{version}", kind, plural, True)
    for group, kinds in (
        (
            "security.istio.io",
            (
                ("AuthorizationPolicy", "authorizationpolicies"),
                ("PeerAuthentication", "peerauthentications"),
                ("RequestAuthentication", "requestauthentications"),
            ),
        ),
        (
            "networking.istio.io",
            (
                ("VirtualService", "virtualservices"),
                ("DestinationRule", "destinationrules"),
                ("ServiceEntry", "serviceentries"),
                ("Sidecar", "sidecars"),
            ),
        ),
    )
    for version in ("v1", "v1beta1")
    for kind, plural in kinds
)

GATEWAY_API_TYPES: tuple[ResourceType, ...] = (
    _t("gateway.networking.k8s.io/v1", "GatewayClass", "gatewayclasses", False),
    _t("gateway.networking.k8s.io/v1", "Gateway", "gateways", True),
    _t("gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes", True),
    _t("gateway.networking.k8s.io/v1", "GRPCRoute", "grpcroutes", True),
    _t("gateway.networking.k8s.io/v1beta1", "ReferenceGrant", "referencegrants", True),
    _t("gateway.networking.k8s.io/v1alpha2", "TCPRoute", "tcproutes", True),
)

DEFAULT_TYPES: tuple[ResourceType, ...] = CORE_TYPES + ISTIO_TYPES + GATEWAY_API_TYPES


def types_from_crd(crd: Mapping[str, Any]) -> list[ResourceType]:
    """The served versions of a CustomResourceDefinition, as resource types."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    namespaced = spec.get("scope") == "Namespaced"
    out = []
    for v in spec.get("versions") or []:
        if not v.get("served", True):
            continue
        subs = ("status",) if (v.get("subresources") or {}).get("status") is not None else ()
        out.append(
            ResourceType(spec["group"], v["name"], names["kind"], names["plural"], namespaced, subs)
        )
    return out


@dataclass
class RecordedRequest:
    """One request as the server saw it (body parsed from JSON/YAML when possible)."""

    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str | None
    body: Any

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    @property
    def dry_run(self) -> bool:
        return self.param("dryRun") == "All"

    @property
    def is_apply(self) -> bool:
        return self.method == "PATCH" and self.content_type == APPLY_PATCH

    def __str__(self) -> str:
        q = "&".join(f"{k}={v}" for k, vs in self.query.items() for v in vs)
        return f"{self.method} {self.path}{'?' + q if q else ''}"


class ApiStatus(Exception):
    """An error answer, rendered as a `Status` object."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def body(self) -> Obj:
        out: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        # The real server omits an empty reason (StatusReasonUnknown) and empty details.
        if self.reason:
            out["reason"] = self.reason
        if self.details:
            out["details"] = self.details
        out["code"] = self.code
        return out


@dataclass
class _Stored:
    obj: Obj
    reads: int = 0
    linger: int | None = None  # reads left before a deleted object disappears
    patched_labels: set[str] = field(default_factory=set)
    owners: dict[str, Owner] = field(default_factory=dict)  # field manager -> its fields


@dataclass(frozen=True)
class _Route:
    rtype: ResourceType
    namespace: str | None  # from the path; None for cluster-scoped or all-namespace lists
    name: str | None
    sub: str | None


Key = tuple[str, str, str, str]  # group, plural, namespace ("" if cluster-scoped), name


def _clone(value: JsonT) -> JsonT:
    """Deep copy of JSON data (several times faster than copy.deepcopy on 1 MB CRDs)."""
    copied: JsonT = json.loads(json.dumps(value))
    return copied


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return _clone(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def undeclared_fields(schema: Mapping[str, Any], value: Any, path: str) -> list[str]:
    """Paths (`.spec.acton`, `.spec.rules[0].to`) of `value` that `schema` does not declare,
    as structured-merge-diff names them; `x-kubernetes-preserve-unknown-fields` allows all."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    out: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if k in props:
                out += undeclared_fields(props[k], v, f"{path}.{k}")
            elif isinstance(extra, dict):
                out += undeclared_fields(extra, v, f"{path}.{k}")
            elif extra is not True:
                out.append(f"{path}.{k}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            out += undeclared_fields(schema["items"], v, f"{path}[{i}]")
    return out


def _dig(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _label_match(labels: Mapping[str, str], selector: str) -> bool:
    """Equality-based label selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-joined."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = re.split(r"==?", term, maxsplit=1)
            if labels.get(k) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _field_match(obj: Obj, selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        negate = "!=" in term
        k, v = re.split(r"!=|==?", term, maxsplit=1)
        actual = _dig(obj, k)
        actual_s = "" if actual is None else str(actual)
        if (actual_s == v) == negate:
            return False
    return True


class FakeApiServer:
    """See the module docstring. Thread-safe; use as a context manager."""

    def __init__(
        self,
        types: Iterable[ResourceType] = DEFAULT_TYPES,
        *,
        git_version: str = "v1.35.8",
        require_namespaces: bool = True,
        crd_established_after: int = 0,
        linger_reads: int = 0,
        controllers: bool = True,
        tls: tuple[str, str] | None = None,
    ) -> None:
        self.git_version = git_version
        self.controllers = controllers
        self.tls = tls  # (certfile, keyfile): serve HTTPS
        self.require_namespaces = require_namespaces
        self.crd_established_after = crd_established_after
        self.linger_reads = linger_reads
        self.requests: list[RecordedRequest] = []
        self._types: list[ResourceType] = []
        self._schemas: dict[tuple[str, str], Obj] = {}  # (apiVersion, kind) -> openAPIV3Schema
        self._validators: dict[str, list[Callable[[Obj], str | None]]] = {}
        self._store: dict[Key, _Stored] = {}
        self._hooks: dict[Key, list[ReadHook]] = {}
        self._failures: list[tuple[str, bool, str | None, str, ApiStatus]] = []
        self._logs: dict[tuple[str, str, str | None, bool], str] = {}
        self._lock = threading.RLock()
        self._rv = 0
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._clients: list[ApiClient] = []
        # Tracebacks of requests the fake itself failed to handle (answered 500): a bug in the
        # fake or a request it does not model. The `api` fixture fails a test that has any.
        self.server_errors: list[str] = []
        for t in types:
            self.register(t)

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> FakeApiServer:
        server = self

        class Handler(_Handler):
            api = server

        self._httpd = _HttpServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        # A short poll interval: shutdown() waits for the serve loop to notice.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        for c in self._clients:
            c.close()
        self._clients.clear()
        if self._httpd is not None:
            self._httpd.shutdown()
            # Handler threads are daemons that server_close() does not wait for: end their
            # connections and join them, so none outlives the test (and writes into another).
            self._httpd.end_connections(timeout=5.0)
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host!s}:{port}"

    def api_client(self, *, verify_ssl: bool = True) -> ApiClient:
        """A kubernetes `ApiClient` pointed at this server (closed by `stop()`)."""
        cfg = Configuration(host=self.url)
        cfg.verify_ssl = verify_ssl
        client = ApiClient(configuration=cfg)
        self._clients.append(client)
        return client

    # --- types --------------------------------------------------------------------------

    def register(self, rtype: ResourceType) -> None:
        with self._lock:
            if rtype not in self._types:
                self._types.append(rtype)

    def register_crd(self, crd: Mapping[str, Any]) -> None:
        spec = crd.get("spec") or {}
        for t in types_from_crd(crd):
            self.register(t)
        for v in spec.get("versions") or []:
            schema = (v.get("schema") or {}).get("openAPIV3Schema")
            if isinstance(schema, dict):
                gv = f"{spec.get('group')}/{v.get('name')}"
                self._schemas[(gv, str((spec.get("names") or {}).get("kind")))] = schema

    def find_type(self, api_version: str, kind: str) -> ResourceType:
        with self._lock:
            for t in self._types:
                if t.group_version == api_version and t.kind == kind:
                    return t
        raise KeyError(f"{api_version} {kind} not registered")

    def _type_by_plural(self, group: str, version: str, plural: str) -> ResourceType | None:
        for t in self._types:
            if t.group == group and t.version == version and t.plural == plural:
                return t
        return None

    # --- state: seeding and inspection --------------------------------------------------

    def _key(self, rtype: ResourceType, namespace: str | None, name: str) -> Key:
        return (rtype.group, rtype.plural, (namespace or "") if rtype.namespaced else "", name)

    def _key_for(self, kind: str, namespace: str | None, name: str) -> Key:
        with self._lock:
            for t in self._types:
                if t.kind == kind:
                    return self._key(t, namespace, name)
        raise KeyError(f"kind {kind} not registered")

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def add(self, obj: Mapping[str, Any], *, field_manager: str | None = None) -> Obj:
        """Store an object as-is (plus server metadata). CRDs register their type.

        With `field_manager`, that manager owns every field of it (as after a create or
        update by, say, `kubectl-edit`): a later apply by another manager conflicts with it.
        """
        body = _clone(dict(obj))
        rtype = self.find_type(body["apiVersion"], body["kind"])
        meta = body.setdefault("metadata", {})
        with self._lock:
            self._fill_server_meta(meta, None)
            key = self._key(rtype, meta.get("namespace"), meta["name"])
            owners: dict[str, Owner] = {}
            if field_manager is not None:
                paths = set(leaves(body))
                owners[field_manager] = Owner("Update", body["apiVersion"], paths, _now())
                meta["managedFields"] = managed_fields(owners)
            self._store[key] = _Stored(body, owners=owners)
            if body["kind"] == "CustomResourceDefinition":
                self.register_crd(body)
        return _clone(body)

    def _fill_server_meta(self, meta: Obj, old: Obj | None) -> None:
        old_meta = (old or {}).get("metadata") or {}
        meta["uid"] = old_meta.get("uid") or f"uid-{self._rv + 1}"
        meta["creationTimestamp"] = old_meta.get("creationTimestamp") or _now()
        meta["resourceVersion"] = self._next_rv()

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        """The stored object (a copy), without counting as a read."""
        with self._lock:
            st = self._store.get(self._key_for(kind, namespace, name))
            return _clone(st.obj) if st else None

    def objects(self, kind: str | None = None, namespace: str | None = None) -> list[Obj]:
        with self._lock:
            out = []
            for (_, _, ns, _), st in self._store.items():
                if kind is not None and st.obj.get("kind") != kind:
                    continue
                if namespace is not None and ns != namespace:
                    continue
                out.append(_clone(st.obj))
            return out

    def reads(self, kind: str, namespace: str | None, name: str) -> int:
        with self._lock:
            st = self._store.get(self._key_for(kind, namespace, name))
            return st.reads if st else 0

    def set_status(self, kind: str, namespace: str | None, name: str, status: Obj) -> None:
        with self._lock:
            st = self._store[self._key_for(kind, namespace, name)]
            st.obj["status"] = _clone(status)

    def set_conditions(
        self, kind: str, namespace: str | None, name: str, conditions: list[Obj]
    ) -> None:
        with self._lock:
            st = self._store[self._key_for(kind, namespace, name)]
            st.obj.setdefault("status", {})["conditions"] = _clone(conditions)

    def on_read(self, kind: str, namespace: str | None, name: str, hook: ReadHook) -> None:
        """`hook(obj, n)` runs on the n-th read (1-based) of the object, before it is served.

        The object need not exist yet (hooks are keyed by kind/namespace/name).
        """
        with self._lock:
            self._hooks.setdefault(self._key_for(kind, namespace, name), []).append(hook)

    def condition_after(
        self,
        kind: str,
        namespace: str | None,
        name: str,
        type_: str,
        status: str = "True",
        *,
        reads: int,
        reason: str = "",
        message: str = "",
    ) -> None:
        """From the `reads`-th read on, the object carries condition `type_=status`."""

        def hook(obj: Obj, n: int) -> None:
            if n >= reads:
                conds = obj.setdefault("status", {}).setdefault("conditions", [])
                conds[:] = [c for c in conds if c.get("type") != type_]
                conds.append(
                    {"type": type_, "status": status, "reason": reason, "message": message}
                )

        self.on_read(kind, namespace, name, hook)

    def fail_dry_run(
        self,
        kind: str,
        name: str,
        message: str,
        *,
        code: int = 422,
        reason: str = "Invalid",
        namespace: str | None = None,
    ) -> None:
        """Answer `code` to a `dryRun=All` apply of this object (the preflight)."""
        self._failures.append((kind, True, namespace, name, ApiStatus(code, reason, message)))

    def fail_apply(
        self,
        kind: str,
        name: str,
        message: str,
        *,
        code: int = 422,
        reason: str = "Invalid",
        namespace: str | None = None,
    ) -> None:
        """Answer `code` to a real (not dry-run) apply of this object."""
        self._failures.append((kind, False, namespace, name, ApiStatus(code, reason, message)))

    def set_logs(
        self,
        namespace: str,
        pod: str,
        text: str,
        *,
        container: str | None = None,
        previous: bool = False,
    ) -> None:
        """Log text of a pod's container (container=None: any container)."""
        self._logs[(namespace, pod, container, previous)] = text

    # --- request log --------------------------------------------------------------------

    def record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def patches(self, *, dry_run: bool | None = None) -> list[RecordedRequest]:
        """Server-side-apply requests, optionally only (non-)dry-run ones."""
        with self._lock:
            return [
                r for r in self.requests if r.is_apply and (dry_run is None or r.dry_run == dry_run)
            ]

    def calls(self, method: str, path_prefix: str = "") -> list[RecordedRequest]:
        with self._lock:
            return [
                r for r in self.requests if r.method == method and r.path.startswith(path_prefix)
            ]

    # --- request handling (called from handler threads) ----------------------------------

    def discovery(self, path: str) -> Obj | None:
        if path == "/version":
            major, minor = self.git_version.lstrip("v").split(".")[:2]
            return {
                "major": major,
                "minor": minor,
                "gitVersion": self.git_version,
                "platform": "linux/amd64",
            }
        with self._lock:
            types = list(self._types)
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            groups: dict[str, list[str]] = {}
            for t in types:
                if t.group and t.version not in groups.setdefault(t.group, []):
                    groups[t.group].append(t.version)
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                        "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
                    }
                    for g, vs in groups.items()
                ],
            }
        m = re.fullmatch(r"/api/(v1)|/apis/([^/]+)/([^/]+)", path)
        if not m:
            return None
        group, version = ("", "v1") if m.group(1) else (m.group(2), m.group(3))
        selected = [t for t in types if t.group == group and t.version == version]
        if not selected:
            return None
        resources: list[Obj] = []
        for t in selected:
            verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
            resources.append(
                {
                    "name": t.plural,
                    "singularName": t.kind.lower(),
                    "namespaced": t.namespaced,
                    "kind": t.kind,
                    "verbs": verbs,
                }
            )
            resources += [
                {
                    "name": f"{t.plural}/{s}",
                    "singularName": "",
                    "namespaced": t.namespaced,
                    "kind": "Pod" if s == "log" else t.kind,
                    "verbs": ["get"],
                }
                for s in t.subresources
            ]
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    def route(self, path: str) -> _Route | None:
        m = re.fullmatch(r"/api/v1/(.+)|/apis/([^/]+)/([^/]+)/(.+)", path)
        if not m:
            return None
        if m.group(1) is not None:
            group, version, rest = "", "v1", m.group(1)
        else:
            group, version, rest = m.group(2), m.group(3), m.group(4)
        segs = rest.split("/")
        with self._lock:
            if len(segs) >= 3 and segs[0] == "namespaces":
                t = self._type_by_plural(group, version, segs[2])
                if t is not None and t.namespaced:
                    name = segs[3] if len(segs) > 3 else None
                    sub = "/".join(segs[4:]) or None
                    return _Route(t, segs[1], name, sub)
            t = self._type_by_plural(group, version, segs[0])
        if t is None:
            return None
        name = segs[1] if len(segs) > 1 else None
        return _Route(t, None, name, "/".join(segs[2:]) or None)

    def _read(self, key: Key) -> Obj | None:
        """One read of one object: hooks run, lingering deletions count down."""
        st = self._store.get(key)
        if st is None:
            return None
        st.reads += 1
        for hook in self._hooks.get(key, []):
            hook(st.obj, st.reads)
        if st.linger is not None:
            if st.linger <= 0:
                self._remove(key)
                return None
            st.linger -= 1
        return _clone(st.obj)

    def _remove(self, key: Key) -> None:
        self._store.pop(key, None)
        group, plural, _, name = key
        if group == "" and plural == "namespaces":
            for k in [k for k in self._store if k[2] == name]:
                self._store.pop(k, None)

    def handle_get(self, r: _Route, query: Mapping[str, list[str]]) -> tuple[int, Any, str]:
        q = {k: v[-1] for k, v in query.items()}
        with self._lock:
            if r.name is not None:
                key = self._key(r.rtype, r.namespace, r.name)
                if r.sub == "log":
                    return self._logs_for(r, q)
                obj = self._read(key)
                if obj is None:
                    raise self._not_found(r.rtype, r.name)
                obj["apiVersion"] = r.rtype.group_version
                return 200, obj, "application/json"
            items = []
            for key in sorted(self._store):
                group, plural, ns, _ = key
                if (group, plural) != (r.rtype.group, r.rtype.plural):
                    continue
                if r.namespace is not None and ns != r.namespace:
                    continue
                obj = self._read(key)
                if obj is None:
                    continue
                if "labelSelector" in q and not _label_match(
                    (obj.get("metadata") or {}).get("labels") or {}, q["labelSelector"]
                ):
                    continue
                if "fieldSelector" in q and not _field_match(obj, q["fieldSelector"]):
                    continue
                obj["apiVersion"] = r.rtype.group_version
                items.append(obj)
            return (
                200,
                {
                    "kind": f"{r.rtype.kind}List",
                    "apiVersion": r.rtype.group_version,
                    "metadata": {"resourceVersion": str(self._rv)},
                    "items": items,
                },
                "application/json",
            )

    def _logs_for(self, r: _Route, q: Mapping[str, str]) -> tuple[int, Any, str]:
        assert r.name is not None
        pod = self._store.get(self._key(r.rtype, r.namespace, r.name))
        if pod is None:
            raise self._not_found(r.rtype, r.name)
        containers = [c["name"] for c in (pod.obj.get("spec") or {}).get("containers") or []]
        container = q.get("container")
        if container is None and len(containers) > 1:
            raise ApiStatus(
                400,
                "BadRequest",
                f"a container name must be specified for pod {r.name}, "
                f"choose one of: [{' '.join(containers)}]",
            )
        if container is not None and containers and container not in containers:
            raise ApiStatus(
                400, "BadRequest", f"container {container} is not valid for pod {r.name}"
            )
        if not (pod.obj.get("spec") or {}).get("nodeName"):
            # kube-apiserver: no node assigned, no kubelet to ask: 204 No Content, no body.
            return 204, b"", "text/plain"
        previous = q.get("previous") in ("true", "True", "1")
        ns = r.namespace or ""
        text = self._logs.get((ns, r.name, container, previous))
        if text is None:
            text = self._logs.get((ns, r.name, None, previous))
        if text is None:
            if previous:
                raise ApiStatus(
                    400, "BadRequest", f"previous terminated container not found for pod {r.name}"
                )
            text = ""
        if "tailLines" in q:
            n = int(q["tailLines"])
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-n:]) if n > 0 else ""
        data = text.encode()
        if "limitBytes" in q:
            data = data[: int(q["limitBytes"])]
        return 200, data, "text/plain"

    def _not_found(self, rtype: ResourceType, name: str) -> ApiStatus:
        what = f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural
        return ApiStatus(
            404,
            "NotFound",
            f'{what} "{name}" not found',
            {"name": name, "group": rtype.group, "kind": rtype.plural},
        )

    def _check_failures(self, r: _Route, namespace: str | None, dry_run: bool) -> None:
        for kind, on_dry, ns, name, err in self._failures:
            if (kind, name, on_dry) == (r.rtype.kind, r.name, dry_run) and ns in (None, namespace):
                raise err

    def _check_namespace(self, r: _Route) -> None:
        if not (self.require_namespaces and r.rtype.namespaced):
            return
        ns = self._store.get(("", "namespaces", "", r.namespace or ""))
        if ns is None:
            raise ApiStatus(
                404,
                "NotFound",
                f'namespaces "{r.namespace}" not found',
                {"name": r.namespace, "kind": "namespaces"},
            )
        if (ns.obj.get("metadata") or {}).get("deletionTimestamp"):
            raise ApiStatus(
                403,
                "Forbidden",
                f"unable to create new content in namespace {r.namespace} "
                "because it is being terminated",
            )

    def handle_patch(
        self, r: _Route, query: Mapping[str, list[str]], content_type: str | None, body: Any
    ) -> tuple[int, Any, str]:
        if r.name is None or r.sub is not None:
            raise ApiStatus(405, "MethodNotAllowed", "PATCH needs an object path")
        q = {k: v[-1] for k, v in query.items()}
        dry_run = q.get("dryRun") == "All"
        if not isinstance(body, dict):
            raise ApiStatus(400, "BadRequest", "the body of the request was not an object")
        with self._lock:
            key = self._key(r.rtype, r.namespace, r.name)
            existing = self._store.get(key)
            if content_type == APPLY_PATCH:
                return self._apply(r, key, existing, q, body, dry_run)
            if content_type in MERGE_PATCHES:
                if existing is None:
                    raise self._not_found(r.rtype, r.name)
                new = merge_patch(existing.obj, body)
                patched = set((body.get("metadata") or {}).get("labels") or {})
                self._fill_server_meta(new.setdefault("metadata", {}), existing.obj)
                if not dry_run:
                    existing.obj = new
                    existing.patched_labels |= patched
                    meta = new.get("metadata") or {}
                    if meta.get("deletionTimestamp") and not meta.get("finalizers"):
                        self._remove(key)  # the last finalizer is gone: so is the object
                return 200, _clone(new), "application/json"
        raise ApiStatus(415, "UnsupportedMediaType", f"unsupported patch type {content_type}")

    def _apply(
        self,
        r: _Route,
        key: Key,
        existing: _Stored | None,
        q: Mapping[str, str],
        body: Obj,
        dry_run: bool,
    ) -> tuple[int, Any, str]:
        assert r.name is not None
        if not q.get("fieldManager"):
            raise ApiStatus(
                400,
                "BadRequest",
                'PatchOptions.meta.k8s.io "" is invalid: '
                "fieldManager: Required value: is required for apply patch",
            )
        meta = body.get("metadata")
        if not body.get("apiVersion") or not body.get("kind") or not isinstance(meta, dict):
            raise ApiStatus(400, "BadRequest", "apiVersion, kind and metadata must be set")
        if body["kind"] != r.rtype.kind or body["apiVersion"] != r.rtype.group_version:
            raise ApiStatus(
                400,
                "BadRequest",
                f"the body is {body['apiVersion']} {body['kind']}, the path is "
                f"{r.rtype.group_version} {r.rtype.kind}",
            )
        if meta.get("name") != r.name:
            raise ApiStatus(400, "BadRequest", "the name of the object does not match the path")
        if r.rtype.namespaced:
            if meta.get("namespace") not in (None, r.namespace):
                raise ApiStatus(
                    400,
                    "BadRequest",
                    "the namespace of the provided object "
                    "does not match the namespace sent on the request",
                )
        elif meta.get("namespace"):
            raise ApiStatus(400, "BadRequest", "a cluster-scoped object must not set a namespace")
        undeclared = self._undeclared(r, body)
        if undeclared:
            # What kube-apiserver does (v1.36): the typed conversion of the apply patch fails
            # with a plain error, answered 500 with no reason, whatever fieldValidation says.
            where = f"{r.namespace}/{r.name}" if r.namespace else r.name
            raise ApiStatus(
                500,
                "",
                f"failed to create typed patch object ({where}; {r.rtype.group}/{r.rtype.version}, "
                f"Kind={r.rtype.kind}): "
                + "\n".join(f"{p}: field not declared in schema" for p in undeclared),
            )
        self._check_failures(r, r.namespace, dry_run)
        if existing is None:
            self._check_namespace(r)
        manager = q["fieldManager"]
        live = existing.obj if existing else {}
        owners = {
            n: Owner(o.operation, o.api_version, set(o.paths), o.time)
            for n, o in (existing.owners if existing else {}).items()
        }
        found = conflicts(owners, manager, live, body)
        if found and q.get("force") not in ("true", "True", "1"):
            message, causes = conflict_status(found)
            raise ApiStatus(409, "Conflict", message, {"causes": causes})
        for c in found:  # force: the applier takes these fields over
            owners[c.manager].paths.discard(c.path)
        new = _clone(body)
        merge_foreign(owners, manager, live, new)
        owners[manager] = Owner("Apply", body["apiVersion"], set(leaves(body)), _now())
        self._validate(r, new)
        new_meta = new["metadata"]
        if r.rtype.namespaced:
            new_meta["namespace"] = r.namespace
        old = existing.obj if existing else None
        if existing is not None:
            old_labels = (old or {}).get("metadata", {}).get("labels") or {}
            kept = {k: v for k, v in old_labels.items() if k in existing.patched_labels}
            new_meta["labels"] = {**kept, **(new_meta.get("labels") or {})}
            if old is not None and "status" in old:
                new["status"] = old["status"]
            gen = (old or {}).get("metadata", {}).get("generation", 1)
            changed = (old or {}).get("spec") != new.get("spec")
            new_meta["generation"] = gen + 1 if changed else gen
        else:
            new_meta["generation"] = 1
        self._fill_server_meta(new_meta, old)
        new_meta["managedFields"] = managed_fields(owners)
        if not dry_run:
            if existing is None:
                self._store[key] = _Stored(new, owners=owners)
            else:
                existing.obj = new
                existing.owners = owners
            if new["kind"] == "CustomResourceDefinition":
                self._on_crd(key, new)
        return (200 if existing else 201), _clone(new), "application/json"

    def validate(self, kind: str, rule: Callable[[Obj], str | None]) -> None:
        """`rule(object)` returns why the object (as it would be stored, after the merge with
        other managers' fields) is invalid, or None: a 422 Invalid, as a CRD's CEL rule
        (`x-kubernetes-validations`) answers. The fake runs no CEL: tests state the rule."""
        self._validators.setdefault(kind, []).append(rule)

    def _validate(self, r: _Route, obj: Obj) -> None:
        for rule in self._validators.get(r.rtype.kind, []):
            why = rule(obj)
            if why:
                what = f"{r.rtype.kind}.{r.rtype.group}" if r.rtype.group else r.rtype.kind
                raise ApiStatus(
                    422,
                    "Invalid",
                    f'{what} "{r.name}" is invalid: {why}',
                    {"name": r.name, "group": r.rtype.group, "kind": r.rtype.kind},
                )

    def _undeclared(self, r: _Route, body: Obj) -> list[str]:
        """Fields of an apply body that the kind's schema (from its CRD) does not declare."""
        schema = self._schemas.get((r.rtype.group_version, r.rtype.kind))
        if schema is None:
            return []  # built-in kinds: no schema in the fake
        top = {k: v for k, v in body.items() if k not in ("apiVersion", "kind", "metadata")}
        return undeclared_fields(schema, top, "")

    def _on_crd(self, key: Key, crd: Obj) -> None:
        self.register_crd(crd)
        after = self.crd_established_after
        conds = [{"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"}]
        st = self._store[key]
        est = {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}
        if after <= 0:
            st.obj["status"] = {"conditions": [*conds, est]}
            return
        st.obj["status"] = {
            "conditions": [*conds, {**est, "status": "False", "reason": "Installing"}]
        }

        def hook(obj: Obj, n: int) -> None:
            if n >= after:
                obj["status"] = {"conditions": [*conds, est]}

        self._hooks.setdefault(key, []).append(hook)

    def handle_delete(self, r: _Route, query: Mapping[str, list[str]]) -> tuple[int, Any, str]:
        if r.name is None:
            raise ApiStatus(405, "MethodNotAllowed", "collection delete is not supported")
        with self._lock:
            key = self._key(r.rtype, r.namespace, r.name)
            st = self._store.get(key)
            if st is None or (st.linger is not None and st.linger <= 0):
                raise self._not_found(r.rtype, r.name)
            if query.get("dryRun", [""])[-1] == "All":
                return 200, _clone(st.obj), "application/json"
            policy = query.get("propagationPolicy", ["Background"])[-1]
            meta = st.obj.setdefault("metadata", {})
            if self._held(r.rtype, st.obj, policy):
                # Marked, not removed: the controllers (or a test hook) finish it, or nothing.
                meta.setdefault("deletionTimestamp", _now())
                if policy == "Foreground" and r.rtype.kind != "Namespace":
                    fin = meta.setdefault("finalizers", [])
                    if "foregroundDeletion" not in fin:
                        fin.append("foregroundDeletion")
                if r.rtype.kind == "Namespace":
                    st.obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
                    st.obj.setdefault("status", {})["phase"] = "Terminating"
                return 200, _clone(st.obj), "application/json"
            if self.linger_reads > 0:
                if st.linger is None:
                    st.linger = self.linger_reads
                    meta["deletionTimestamp"] = _now()
                    if r.rtype.kind == "Namespace":
                        st.obj.setdefault("status", {})["phase"] = "Terminating"
                return 200, _clone(st.obj), "application/json"
            if policy == "Foreground":
                self._remove_dependents(str(meta.get("uid", "")))
            self._remove(key)
            return (
                200,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {"name": r.name},
                },
                "application/json",
            )

    def _held(self, rtype: ResourceType, obj: Obj, policy: str) -> bool:
        """Whether a delete leaves the object in place, marked with a deletionTimestamp.

        As kube-apiserver: an object with finalizers stays until they are removed. Foreground
        adds `foregroundDeletion`, which only the garbage collector removes, and a Namespace
        keeps `spec.finalizers: [kubernetes]` until the namespace controller has emptied it:
        both run in kube-controller-manager, so without it (`controllers=False`) such
        deletions never complete. With controllers the fake does their work at once.
        """
        if (obj.get("metadata") or {}).get("finalizers"):
            return True
        if self.controllers:
            return False
        return policy == "Foreground" or rtype.kind == "Namespace"

    def _remove_dependents(self, uid: str) -> None:
        """The garbage collector's part of a Foreground deletion: dependents first."""
        if not uid:
            return
        for k, st in list(self._store.items()):
            owners = (st.obj.get("metadata") or {}).get("ownerReferences") or []
            if any(o.get("uid") == uid for o in owners):
                self._remove_dependents(str((st.obj.get("metadata") or {}).get("uid", "")))
                self._store.pop(k, None)


class _HttpServer(ThreadingHTTPServer):
    """Tracks its connections and handler threads so that `end_connections` can end them."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._guard = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._handlers: list[threading.Thread] = []

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        with self._guard:
            self._connections.add(request)
            self._handlers = [h for h in self._handlers if h.is_alive()]
            self._handlers.append(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._guard:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that closed or reset its keep-alive connection is routine for a server;
        # anything else is printed (inside the test that caused it, see end_connections).
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def end_connections(self, timeout: float) -> None:
        with self._guard:
            connections, handlers = list(self._connections), list(self._handlers)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for handler in handlers:
            handler.join(timeout)


class _Handler(BaseHTTPRequestHandler):
    api: FakeApiServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    # Headers and body are separate writes: without TCP_NODELAY, Nagle + delayed ACK add
    # ~40 ms to every response.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _body(self) -> tuple[str | None, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type")
        ctype = ctype.split(";")[0].strip() if ctype else None
        if not raw:
            return ctype, None
        text = raw.decode()
        try:
            return ctype, json.loads(text)
        except ValueError:
            try:
                return ctype, yaml.safe_load(text)
            except yaml.YAMLError:
                return ctype, text

    def _send(self, code: int, payload: Any, ctype: str = "application/json") -> None:
        if isinstance(payload, bytes | bytearray):
            data = bytes(payload)
        else:
            data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if code != 204:  # a 204 has no body and no length (RFC 9110 §8.6)
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        ctype, body = self._body()
        self.api.record(RecordedRequest(method, parts.path, query, ctype, body))
        try:
            if method == "GET":
                found = self.api.discovery(parts.path)
                if found is not None:
                    self._send(200, found)
                    return
            r = self.api.route(parts.path)
            if r is None:
                raise ApiStatus(
                    404,
                    "NotFound",
                    f"the server could not find the requested resource ({method} {parts.path})",
                )
            handlers: dict[str, Callable[[], tuple[int, Any, str]]] = {
                "GET": lambda: self.api.handle_get(r, query),
                "PATCH": lambda: self.api.handle_patch(r, query, ctype, body),
                "DELETE": lambda: self.api.handle_delete(r, query),
            }
            if method not in handlers:
                raise ApiStatus(405, "MethodNotAllowed", f"{method} is not supported")
            code, payload, out_type = handlers[method]()
            self._send(code, payload, out_type)
        except ApiStatus as e:
            self._send(e.code, e.body())
        except (ConnectionError, TimeoutError):
            raise  # the client went away mid-answer: handle_error ignores it
        except Exception:
            # A bug in the fake must not look like a flaky connection to the client under
            # test: answer 500 and keep the traceback for the fixture to report.
            self.api.server_errors.append(traceback.format_exc())
            self._send(500, ApiStatus(500, "InternalError", "fake API server error").body())

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")
