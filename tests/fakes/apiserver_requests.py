"""How the fake API server answers: discovery, GET/LIST, logs, patches and server-side apply
(with field ownership), and DELETE with finalizers and propagation. A mixin of
`FakeApiServer`, whose `__init__` sets the state used here."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from fakes.apiserver_model import (
    APPLY_PATCH,
    MERGE_PATCHES,
    ApiStatus,
    Key,
    Obj,
    ReadHook,
    ResourceType,
    Route,
    Stored,
    clone,
    discovery_document,
    field_match,
    label_match,
    merge_patch,
    now,
    undeclared_fields,
)
from fakes.field_owners import (
    Owner,
    conflict_status,
    conflicts,
    leaves,
    managed_fields,
    merge_foreign,
)


class RequestHandling:
    """Request handling (called from handler threads, under `_lock`)."""

    _types: list[ResourceType]
    _store: dict[Key, Stored]
    _hooks: dict[Key, list[ReadHook]]
    _schemas: dict[tuple[str, str], Obj]
    _validators: dict[str, list[Callable[[Obj], str | None]]]
    _failures: list[tuple[str, bool, str | None, str, ApiStatus]]
    _logs: dict[tuple[str, str, str | None, bool], str]
    _lock: threading.RLock
    git_version: str
    require_namespaces: bool
    crd_established_after: int
    linger_reads: int
    controllers: bool

    def discovery(self, path: str) -> Obj | None:
        with self._lock:
            types = list(self._types)
        return discovery_document(path, self.git_version, types)

    def route(self, path: str) -> Route | None:
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
                    return Route(t, segs[1], name, sub)
            t = self._type_by_plural(group, version, segs[0])
        if t is None:
            return None
        name = segs[1] if len(segs) > 1 else None
        return Route(t, None, name, "/".join(segs[2:]) or None)

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
        return clone(st.obj)

    def _remove(self, key: Key) -> None:
        self._store.pop(key, None)
        group, plural, _, name = key
        if group == "" and plural == "namespaces":
            for k in [k for k in self._store if k[2] == name]:
                self._store.pop(k, None)

    def handle_get(self, r: Route, query: Mapping[str, list[str]]) -> tuple[int, Any, str]:
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
                if "labelSelector" in q and not label_match(
                    (obj.get("metadata") or {}).get("labels") or {}, q["labelSelector"]
                ):
                    continue
                if "fieldSelector" in q and not field_match(obj, q["fieldSelector"]):
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

    def _logs_for(self, r: Route, q: Mapping[str, str]) -> tuple[int, Any, str]:
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

    def _check_failures(self, r: Route, namespace: str | None, dry_run: bool) -> None:
        for kind, on_dry, ns, name, err in self._failures:
            if (kind, name, on_dry) == (r.rtype.kind, r.name, dry_run) and ns in (None, namespace):
                raise err

    def _check_namespace(self, r: Route) -> None:
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
        self, r: Route, query: Mapping[str, list[str]], content_type: str | None, body: Any
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
                return 200, clone(new), "application/json"
        raise ApiStatus(415, "UnsupportedMediaType", f"unsupported patch type {content_type}")

    def _apply(
        self,
        r: Route,
        key: Key,
        existing: Stored | None,
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
        new = clone(body)
        merge_foreign(owners, manager, live, new)
        owners[manager] = Owner("Apply", body["apiVersion"], set(leaves(body)), now())
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
                self._store[key] = Stored(new, owners=owners)
            else:
                existing.obj = new
                existing.owners = owners
            if new["kind"] == "CustomResourceDefinition":
                self._on_crd(key, new)
        return (200 if existing else 201), clone(new), "application/json"

    def _validate(self, r: Route, obj: Obj) -> None:
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

    def _undeclared(self, r: Route, body: Obj) -> list[str]:
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

    def handle_delete(self, r: Route, query: Mapping[str, list[str]]) -> tuple[int, Any, str]:
        if r.name is None:
            raise ApiStatus(405, "MethodNotAllowed", "collection delete is not supported")
        with self._lock:
            key = self._key(r.rtype, r.namespace, r.name)
            st = self._store.get(key)
            if st is None or (st.linger is not None and st.linger <= 0):
                raise self._not_found(r.rtype, r.name)
            if query.get("dryRun", [""])[-1] == "All":
                return 200, clone(st.obj), "application/json"
            policy = query.get("propagationPolicy", ["Background"])[-1]
            meta = st.obj.setdefault("metadata", {})
            if self._held(r.rtype, st.obj, policy):
                # Marked, not removed: the controllers (or a test hook) finish it, or nothing.
                meta.setdefault("deletionTimestamp", now())
                if policy == "Foreground" and r.rtype.kind != "Namespace":
                    fin = meta.setdefault("finalizers", [])
                    if "foregroundDeletion" not in fin:
                        fin.append("foregroundDeletion")
                if r.rtype.kind == "Namespace":
                    st.obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
                    st.obj.setdefault("status", {})["phase"] = "Terminating"
                return 200, clone(st.obj), "application/json"
            if self.linger_reads > 0:
                if st.linger is None:
                    st.linger = self.linger_reads
                    meta["deletionTimestamp"] = now()
                    if r.rtype.kind == "Namespace":
                        st.obj.setdefault("status", {})["phase"] = "Terminating"
                return 200, clone(st.obj), "application/json"
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
