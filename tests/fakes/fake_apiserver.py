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

The parts: `apiserver_model` (resource types, recorded requests, Status answers, stored
objects), `apiserver_requests` (how each request is answered), `apiserver_http` (the HTTP
server and handler), `field_owners` (server-side apply's field ownership); this module holds
the server object with its test hooks.

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

import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from fakes.apiserver_http import Handler, HttpServer
from fakes.apiserver_model import (
    CORE_TYPES,
    DEFAULT_TYPES,
    GATEWAY_API_TYPES,
    ApiStatus,
    Key,
    Obj,
    ReadHook,
    RecordedRequest,
    ResourceType,
    Stored,
    clone,
    now,
    types_from_crd,
)
from fakes.apiserver_requests import RequestHandling
from fakes.field_owners import (
    Owner,
    leaves,
    managed_fields,
)

if TYPE_CHECKING:  # the client is imported where a test asks for one (~0.45 s per process)
    from kubernetes.client import ApiClient

__all__ = [
    "CORE_TYPES",
    "DEFAULT_TYPES",
    "GATEWAY_API_TYPES",
    "ApiStatus",
    "FakeApiServer",
    "ResourceType",
]


class FakeApiServer(RequestHandling):
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
        self._store: dict[Key, Stored] = {}
        self._hooks: dict[Key, list[ReadHook]] = {}
        self._failures: list[tuple[str, bool, str | None, str, ApiStatus]] = []
        self._logs: dict[tuple[str, str, str | None, bool], str] = {}
        self._lock = threading.RLock()
        self._rv = 0
        self._httpd: HttpServer | None = None
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

        class BoundHandler(Handler):
            api = server

        self._httpd = HttpServer(("127.0.0.1", 0), BoundHandler)
        if self.tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        # A PromptServer: shutdown() wakes the serve loop, no poll interval to wait out.
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until every request has been answered and its connection closed by the
        client: an event to wait on instead of a guess at how long the answers take."""
        if self._httpd is not None:
            self._httpd.join_handlers(timeout)

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
        from kubernetes.client import ApiClient, Configuration

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
        body = clone(dict(obj))
        rtype = self.find_type(body["apiVersion"], body["kind"])
        meta = body.setdefault("metadata", {})
        with self._lock:
            self._fill_server_meta(meta, None)
            key = self._key(rtype, meta.get("namespace"), meta["name"])
            owners: dict[str, Owner] = {}
            if field_manager is not None:
                paths = set(leaves(body))
                owners[field_manager] = Owner("Update", body["apiVersion"], paths, now())
                meta["managedFields"] = managed_fields(owners)
            self._store[key] = Stored(body, owners=owners)
            if body["kind"] == "CustomResourceDefinition":
                self.register_crd(body)
        return clone(body)

    def _fill_server_meta(self, meta: Obj, old: Obj | None) -> None:
        old_meta = (old or {}).get("metadata") or {}
        meta["uid"] = old_meta.get("uid") or f"uid-{self._rv + 1}"
        meta["creationTimestamp"] = old_meta.get("creationTimestamp") or now()
        meta["resourceVersion"] = self._next_rv()

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        """The stored object (a copy), without counting as a read."""
        with self._lock:
            st = self._store.get(self._key_for(kind, namespace, name))
            return clone(st.obj) if st else None

    def objects(self, kind: str | None = None, namespace: str | None = None) -> list[Obj]:
        with self._lock:
            out = []
            for (_, _, ns, _), st in self._store.items():
                if kind is not None and st.obj.get("kind") != kind:
                    continue
                if namespace is not None and ns != namespace:
                    continue
                out.append(clone(st.obj))
            return out

    def reads(self, kind: str, namespace: str | None, name: str) -> int:
        with self._lock:
            st = self._store.get(self._key_for(kind, namespace, name))
            return st.reads if st else 0

    def set_status(self, kind: str, namespace: str | None, name: str, status: Obj) -> None:
        with self._lock:
            st = self._store[self._key_for(kind, namespace, name)]
            st.obj["status"] = clone(status)

    def set_conditions(
        self, kind: str, namespace: str | None, name: str, conditions: list[Obj]
    ) -> None:
        with self._lock:
            st = self._store[self._key_for(kind, namespace, name)]
            st.obj.setdefault("status", {})["conditions"] = clone(conditions)

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

    def validate(self, kind: str, rule: Callable[[Obj], str | None]) -> None:
        """`rule(object)` returns why the object (as it would be stored, after the merge with
        other managers' fields) is invalid, or None: a 422 Invalid, as a CRD's CEL rule
        (`x-kubernetes-validations`) answers. The fake runs no CEL: tests state the rule."""
        self._validators.setdefault(kind, []).append(rule)
