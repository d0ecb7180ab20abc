"""The connection to one cluster and CRUD on any kind.

Everything goes through `kubernetes.dynamic.DynamicClient`, so any kind (core, Istio,
Gateway API) is handled the same way, with the namespace taken from each manifest's
`metadata.namespace` (never forced, unlike `utils.create_from_yaml`).

The `kubernetes` package is imported where a call needs it, never at module import: it costs
~0.45 s, and `lint`, `plan`, `run --dry-run` and pytest's collection import this module
without talking to a cluster. A `KubeApi` holds an `ApiClient`, so by the time any method
runs, the package is loaded and those imports are look-ups.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

from harness.kube.errors import (
    ApplyError,
    KubeError,
    ManifestError,
    UnverifiedTLSWarning,
    api_failure,
)
from harness.kube.objects import FIELD_MANAGER, ObjectRef
from harness.kube.status import event_time

if TYPE_CHECKING:
    from kubernetes import client as k8s
    from kubernetes.dynamic import DynamicClient

Progress = Callable[[str, float], None]  # (what is awaited, elapsed seconds)
Propagation = Literal["Foreground", "Background", "Orphan"]


def response_json(resp: Any) -> dict[str, Any]:
    data = resp.data
    out = json.loads(data.decode() if isinstance(data, bytes) else data)
    if not isinstance(out, dict):
        raise KubeError(f"unexpected API response: {str(out)[:200]}")
    return out


def _say_once_that_tls_is_unverified(api_client: k8s.ApiClient) -> None:
    """With `insecure-skip-tls-verify`, urllib3 warns on every request (89 lines for one
    set-up): say it once for this client, then silence urllib3's repetitions."""
    cfg = api_client.configuration
    if cfg.verify_ssl or not str(cfg.host).startswith("https:"):
        return
    warnings.warn(
        f"TLS certificate verification is off for the API server {cfg.host} "
        "(insecure-skip-tls-verify): its identity is not checked",
        UnverifiedTLSWarning,
        stacklevel=4,
    )
    from urllib3.exceptions import InsecureRequestWarning

    warnings.filterwarnings("ignore", category=InsecureRequestWarning)


class KubeApi:
    """One cluster, through one `ApiClient`.

    Tests pass an `ApiClient` pointed at a fake server and a tight `poll_interval`;
    `from_kubeconfig` builds one from a kubeconfig file and context. `progress` is called
    about every `progress_every` seconds during a wait with (what, elapsed seconds).
    `kubeconfig`/`context` are remembered for CLI tools (istioctl) run against this cluster.
    `request_timeout` bounds every API call, so a hung API server fails a wait instead of
    blocking it forever (the client's default is no timeout at all). `notice` receives what
    the user must know though nothing failed (fields a forced apply takes over); without
    it, those are Python warnings.
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
        notice: Callable[[str], None] | None = None,
    ) -> None:
        self._api = api_client
        self.notice = notice
        self.field_manager = field_manager
        self.poll_interval = poll_interval
        self.progress = progress
        self.progress_every = progress_every
        self.kubeconfig = kubeconfig
        self.context = context
        self.request_timeout = request_timeout
        # Discovery is cached per client in a private directory: the library's default cache
        # is one file per host in /tmp, shared by users and stale across clusters.
        self._cache_dir = tempfile.mkdtemp(prefix="ambient-harness-discovery-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._cache_dir, True)
        self._dyn: DynamicClient | None = None
        _say_once_that_tls_is_unverified(api_client)

    @classmethod
    def from_kubeconfig(
        cls, kubeconfig: Path | None = None, context: str | None = None, **kwargs: Any
    ) -> Self:
        from kubernetes import config as k8s_config

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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dynamic(self) -> DynamicClient:
        if self._dyn is None:
            from kubernetes.dynamic import DynamicClient

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

    # --- read ----------------------------------------------------------------------------

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        """The object as the server has it, or None if it (or its kind) does not exist."""
        from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

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
        return response_json(resp)

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
        items = response_json(resp).get("items") or []
        return [i for i in items if isinstance(i, dict)]

    def server_version(self) -> str:
        """The API server's gitVersion, e.g. `v1.35.8`."""
        # Raw JSON: the typed VersionInfo model rejects servers that omit optional fields.
        info = response_json(
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
        from kubernetes.client import CoreV1Api

        resp = CoreV1Api(self._api).read_namespaced_pod_log(pod, namespace, **kwargs)
        data = resp.data
        return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)

    def events(self, namespace: str) -> list[dict[str, Any]]:
        """The namespace's events, oldest first."""
        items = self.list_objects("v1", "Event", namespace)
        return sorted(items, key=event_time)

    # --- write ---------------------------------------------------------------------------

    def server_side_apply(
        self, doc: Mapping[str, Any], ref: ObjectRef, *, dry_run: bool, force: bool = True
    ) -> dict[str, Any]:
        """One SSA request for `doc` as `ref` (namespace set or removed per its scope);
        raises the client's `DynamicApiError` on rejection.

        `fieldValidation=Strict`: a duplicate field is an error, not a warning in a header
        nobody reads. (A field the schema does not declare is refused by SSA whatever the
        directive, as a 500 without a reason: docs/architecture.md §7.)
        """
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
            force_conflicts=force,
            dry_run="All" if dry_run else None,
            query_params=[("fieldValidation", "Strict")],
            serialize=False,
            _request_timeout=self.request_timeout,
        )
        return response_json(resp)

    def label(self, ref: ObjectRef, labels: Mapping[str, str | None]) -> dict[str, Any]:
        """Set (or, with None, remove) labels on an existing object by JSON merge patch.

        A merge patch, not an apply: a partial apply under the harness's field manager
        would drop every other field the harness applied to that object.
        """
        from kubernetes.dynamic.exceptions import DynamicApiError

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
            raise ApplyError("apply", [api_failure(ref, e)]) from None
        return response_json(resp)

    def request_delete(self, ref: ObjectRef, propagation: Propagation) -> None:
        """Ask the server to delete `ref` (not awaited). Already gone, or its kind not
        served, counts as deleted; a Namespace already terminating too."""
        from kubernetes.dynamic.exceptions import (
            ConflictError,
            NotFoundError,
            ResourceNotFoundError,
        )

        try:
            res = self._resource(ref.api_version, ref.kind)
        except ResourceNotFoundError:
            return
        try:
            # Deserialized (not serialize=False): reading the answer releases the
            # connection back to the pool instead of leaking its socket.
            res.delete(
                name=ref.name,
                namespace=ref.namespace,
                propagation_policy=propagation,
                _request_timeout=self.request_timeout,
            )
        except NotFoundError:
            pass
        except ConflictError:
            # A Namespace already terminating answers 409 ("The system is ensuring all
            # content is removed from this namespace"): it is being deleted, so wait.
            if ref.kind != "Namespace":
                raise
