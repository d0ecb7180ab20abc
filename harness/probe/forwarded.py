"""An `AgentLink` over a supervised `kubectl port-forward` to the agent's pod.

Recovery follows what real clusters do (docs/architecture.md §3):
- a replaced pod (deleted, evicted, rolled) has a new name, and its replacement becomes Ready
  seconds later: wait for a Ready pod of the agent's Deployment, then aim the forward at it;
- real `kubectl port-forward` exits on the first connection the pod refuses, so reconnecting
  to a container that is not listening yet kills the new forward: wait for Ready first, and
  stop waiting for /healthz as soon as the forward has died;
- a restart counts against the forward's budget only once the agent answered through it,
  and once the restarted forward has carried a probe the next drop may be restarted too
  (pods are replaced more than once in a run), up to the forward's budget for the run;
- the agent answers within the probe timeout whatever the upstream does, so an answer that is
  merely late (`AgentLate`) while the agent still answers /healthz is reported, never a
  reason to restart the forward.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from harness.host.portforward import PortForward, PortForwardError, wait_healthy
from harness.kube.client import Kube
from harness.kube.errors import WaitTimeout
from harness.model.outcome import Outcome
from harness.probe.backends import BackendReadiness, check_backends
from harness.probe.prober import AgentLate, AgentUnreachable, Prober

HEALTH_TIMEOUT_S = 20.0
HEALTH_INTERVAL_S = 0.1  # between /healthz polls through the forward
READY_TIMEOUT_S = 120.0  # a replacement pod: scheduling, image present, agent listening

T = TypeVar("T")


class ForwardedAgent:
    """An `AgentLink`: a `Prober` on a supervised port-forward that survives a replaced pod.

    With `kube` and `selector` (see `open`), recovery waits for a Ready pod matching
    `selector` and retargets the forward to it; without them it restarts the forward on the
    same target (or `forward.resolve`'s). With `backends`, a denied-l4 while a backend of the
    probed Service is not Ready raises `BackendRestarting` instead of reading as a denial.
    """

    def __init__(
        self,
        forward: PortForward,
        *,
        health_timeout_s: float = HEALTH_TIMEOUT_S,
        kube: Kube | None = None,
        selector: str | None = None,
        ready_timeout_s: float = READY_TIMEOUT_S,
        backends: BackendReadiness | None = None,
        health_interval_s: float = HEALTH_INTERVAL_S,
    ) -> None:
        self.forward = forward
        self.health_timeout_s = health_timeout_s
        self.health_interval_s = health_interval_s
        self.kube = kube
        self.selector = selector
        self.ready_timeout_s = ready_timeout_s
        self.backends = backends
        self._lock = threading.Lock()
        self.prober = Prober("127.0.0.1", forward.port)

    @classmethod
    def open(
        cls,
        kube: Kube,
        kubectl: Path,
        namespace: str,
        selector: str,
        remote_port: int,
        *,
        health_timeout_s: float = HEALTH_TIMEOUT_S,
        ready_timeout_s: float = READY_TIMEOUT_S,
        backends: BackendReadiness | None = None,
        health_interval_s: float = HEALTH_INTERVAL_S,
    ) -> ForwardedAgent:
        """Wait for a Ready pod matching `selector`, forward to it, wait for /healthz."""
        forward = PortForward(
            kubectl,
            namespace,
            f"pod/{_ready_pod(kube, namespace, selector, ready_timeout_s)}",
            remote_port,
            kubeconfig=kube.kubeconfig,
            context=kube.context,
        )
        forward.start()
        link = cls(
            forward,
            health_timeout_s=health_timeout_s,
            kube=kube,
            selector=selector,
            ready_timeout_s=ready_timeout_s,
            backends=backends,
            health_interval_s=health_interval_s,
        )
        try:
            link.wait_healthy()
        except BaseException:
            link.close()  # the forward and the prober's connections
            raise
        return link

    def _healthy_within(self, budget: float) -> bool:
        return wait_healthy(
            self.prober.healthy, budget, self.health_interval_s, alive=self.forward.alive
        )

    def wait_healthy(self) -> None:
        if not self._healthy_within(self.health_timeout_s):
            why = (
                "the port-forward exited"
                if not self.forward.alive()
                else f"no answer to /healthz within {self.health_timeout_s:g}s"
            )
            raise AgentUnreachable(
                f"agent {self.forward.namespace}/{self.forward.target}: {why}; kubectl said:\n"
                + self.forward.output()
            )

    # --- recovery -------------------------------------------------------------------------

    def _recover(self, reason: str, broken: Prober) -> None:
        with self._lock:
            if self.prober is not broken:
                return  # another thread already recovered
            self.forward.check_budget(reason)  # PortForwardError once the budget is spent
            if self.kube is None or self.selector is None:
                port = self.forward.reconnect(
                    self.forward.resolve() if self.forward.resolve is not None else None
                )
                self._use(port)
                self.wait_healthy()
                self.forward.count_restart()
                return
            self._reconnect_to_ready_pod(reason)

    def _reconnect_to_ready_pod(self, reason: str) -> None:
        assert self.kube is not None and self.selector is not None
        namespace = self.forward.namespace
        deadline = time.monotonic() + self.ready_timeout_s
        last = reason
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AgentUnreachable(
                    f"agent {namespace} ({self.selector}) could not be reached again within "
                    f"{self.ready_timeout_s:g}s; last: {last}"
                )
            pod = _ready_pod(self.kube, namespace, self.selector, left)
            try:
                port = self.forward.reconnect(f"pod/{pod}")
            except PortForwardError as exc:  # e.g. the pod stopped running in between
                last = str(exc)
                self._pause(deadline)
                continue
            self._use(port)
            budget = min(self.health_timeout_s, max(0.0, deadline - time.monotonic()))
            if self._healthy_within(budget):
                self.forward.count_restart()
                return
            # The forward died on a refused connection, or the agent did not answer: the
            # pod's readiness may not have caught up yet; wait for it again.
            last = f"pod/{pod}: forward {'alive' if self.forward.alive() else 'exited'}:\n"
            last += self.forward.output()
            self._pause(deadline)

    def _pause(self, deadline: float) -> None:
        """One poll interval of the kube client before trying again (kubelet catching up)."""
        assert self.kube is not None
        time.sleep(max(0.0, min(self.kube.poll_interval, deadline - time.monotonic())))

    def _use(self, port: int) -> None:
        self.prober.close()
        self.prober = Prober("127.0.0.1", port)

    def _call(self, send: Callable[[Prober], T]) -> T:
        prober = self.prober
        try:
            result = send(prober)
        except AgentLate:
            if prober.healthy():
                raise  # the agent is there and answering: a stall to report, not a restart
            self._recover("the agent stopped answering through the port-forward", prober)
        except AgentUnreachable as exc:
            self._recover(str(exc), prober)
        else:
            return result
        result = send(self.prober)
        # The restarted forward carried a probe: a later replacement (a second eviction, a
        # rollout) may be recovered too, within the forward's budget for the run.
        self.forward.carried()
        return result

    # --- AgentLink ------------------------------------------------------------------------

    def probe(self, method: str, url: str, headers: Mapping[str, str], timeout: float) -> Outcome:
        outcome = self._call(lambda p: p.probe(method, url, headers, timeout))
        check_backends(self.backends, url, [outcome])
        return outcome

    def sample(
        self, method: str, url: str, n: int, headers: Mapping[str, str], timeout: float
    ) -> list[Outcome]:
        outcomes = self._call(lambda p: p.sample(method, url, n, headers, timeout=timeout))
        check_backends(self.backends, url, outcomes)
        return outcomes

    def close(self) -> None:
        self.prober.close()
        self.forward.close()


def _ready_pod(kube: Kube, namespace: str, selector: str, timeout: float) -> str:
    try:
        return kube.wait_pod_ready(namespace, selector, timeout=timeout)
    except WaitTimeout as exc:
        # Not counted as a restart: no forward was re-established.
        raise AgentUnreachable(f"no Ready agent pod to forward to: {exc}") from exc
