"""Waiting: poll an object (or a list) until a predicate holds, with progress lines and a
`WaitTimeout` that says what was last seen; and deletes that wait until the object is gone."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from harness.kube.api import KubeApi, Propagation

# `kubernetes` is imported in the methods that catch its errors (why: harness/kube/api.py).
from harness.kube.errors import WaitTimeout, api_error_text
from harness.kube.objects import (
    OWNER_KINDS,
    ObjectRef,
    apply_rank,
    crd_ref,
    daemonset_ref,
    deployment_ref,
    namespace_ref,
)
from harness.kube.status import (
    condition_is,
    daemonset_rolled_out,
    deployment_rolled_out,
    describe_daemonset,
    describe_deletion,
    describe_deployment,
    describe_pods,
    event_time,
    format_conditions,
    format_event,
    ready_pod,
)

T = TypeVar("T")


class KubeWaits(KubeApi):
    """The waits of `Kube` (see harness.kube.client)."""

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

    def recent_warnings(
        self, namespace: str, about: Callable[[str], bool], *, limit: int = 3
    ) -> list[dict[str, Any]]:
        """The latest `limit` Warning events of `namespace` whose object's name passes `about`,
        oldest first (FailedScheduling, FailedCreate: exceeded quota, BackOff, ...)."""
        events = self.list_objects("v1", "Event", namespace, field_selector="type=Warning")
        mine = [
            e
            for e in events
            if about(str((e.get("involvedObject") or e.get("regarding") or {}).get("name", "")))
        ]
        return sorted(mine, key=event_time)[-limit:]

    def _with_warnings(self, text: str, namespace: str, about: Callable[[str], bool]) -> str:
        from kubernetes.dynamic.exceptions import DynamicApiError

        try:
            warnings = self.recent_warnings(namespace, about)
        except DynamicApiError as e:  # the wait's own verdict must not be lost to this
            return f"{text}; (events unavailable: {api_error_text(e)})"
        if not warnings:
            return text
        return f"{text}; latest warnings: " + " | ".join(format_event(e) for e in warnings)

    def wait_pod_ready(self, namespace: str, selector: str, *, timeout: float = 120.0) -> str:
        """Name of the newest Running, Ready pod matching `selector`, once there is one.
        A timeout names the pods' failing conditions and their latest Warning events."""

        def describe(found: list[dict[str, Any]]) -> str:
            names = {str((p.get("metadata") or {}).get("name")) for p in found}
            return self._with_warnings(describe_pods(found), namespace, names.__contains__)

        pods = self.poll_until(
            f"a pod of {namespace} with {selector}",
            lambda: self.pods(namespace, selector),
            lambda found: ready_pod(found) is not None,
            want="Ready",
            timeout=timeout,
            describe=describe,
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
        """Until the Deployment is rolled out and every replica ready (`deployment_rolled_out`).

        On timeout the message also says what its pods wait for (ImagePullBackOff,
        Unschedulable, ...): the Deployment's own conditions only say "does not have minimum
        availability"."""

        def describe(obj: dict[str, Any] | None) -> str:
            labels = (((obj or {}).get("spec") or {}).get("selector") or {}).get("matchLabels")
            if not labels:
                return describe_deployment(obj)
            pods = self.pods(namespace, ",".join(f"{k}={v}" for k, v in labels.items()))
            text = f"{describe_deployment(obj)}; pods: {describe_pods(pods)}"
            # Its ReplicaSets (FailedCreate: exceeded quota) and pods (FailedScheduling) are
            # named `<deployment>-<hash>[-<suffix>]`.
            return self._with_warnings(text, namespace, lambda n: n.startswith(f"{name}-"))

        obj = self.wait_for(
            deployment_ref(namespace, name),
            deployment_rolled_out,
            want="rolled out (updated = ready = available = spec.replicas, current generation)",
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
        """Until `ref` answers 404; a timeout says what the deletion is waiting for."""
        self.wait_for(
            ref, lambda o: o is None, want="deleted", timeout=timeout, describe=describe_deletion
        )

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

        Propagation (unless `propagation` says): Foreground only for an awaited delete of a
        kind that owns dependents (`OWNER_KINDS`: a Deployment's ReplicaSets and pods, a
        waypoint Gateway's Deployment), so that "deleted" means they are gone too; Background
        for everything else, which owns nothing: Foreground needs the garbage collector (in
        kube-controller-manager), which may be absent or slow to learn a kind whose CRD is
        new. Namespaces: Background (the namespace controller empties them either way).
        A missing object counts as deleted. Returns the refs that were requested.
        """
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

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
            owns = wait and ref.kind in OWNER_KINDS
            self.request_delete(ref, propagation or ("Foreground" if owns else "Background"))
        if wait:
            for ref in refs:
                self.wait_deleted(ref, timeout=max(0.0, deadline - time.monotonic()))
        return refs

    def delete_namespace(self, name: str, *, wait: bool = True, timeout: float = 180.0) -> None:
        self.delete([namespace_ref(name)], wait=wait, timeout=timeout)
