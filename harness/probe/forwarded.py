"""An `AgentLink` over a supervised `kubectl port-forward` to the agent's pod."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from harness.host.portforward import PortForward, wait_healthy
from harness.model.outcome import Outcome
from harness.probe.prober import AgentUnreachable, Prober

HEALTH_TIMEOUT_S = 20.0


class ForwardedAgent:
    """An `AgentLink`: a `Prober` on a supervised port-forward, recovering one dropped forward."""

    def __init__(self, forward: PortForward, *, health_timeout_s: float = HEALTH_TIMEOUT_S) -> None:
        self.forward = forward
        self.health_timeout_s = health_timeout_s
        self._lock = threading.Lock()
        self.prober = Prober("127.0.0.1", forward.port)

    def wait_healthy(self) -> None:
        if not wait_healthy(self.prober.healthy, self.health_timeout_s):
            raise AgentUnreachable(
                f"agent {self.forward.namespace}/{self.forward.target} did not answer /healthz "
                f"through the port-forward within {self.health_timeout_s:g}s; kubectl said:\n"
                + self.forward.output()
            )

    def _recover(self, reason: str, broken: Prober) -> None:
        with self._lock:
            if self.prober is not broken:
                return  # another thread already recovered
            port = self.forward.restart(reason)  # raises PortForwardError after the 1st time
            self.prober.close()
            self.prober = Prober("127.0.0.1", port)
            self.wait_healthy()

    def probe(self, method: str, url: str, headers: Mapping[str, str], timeout: float) -> Outcome:
        prober = self.prober
        try:
            return prober.probe(method, url, headers, timeout)
        except AgentUnreachable as exc:
            self._recover(str(exc), prober)
            return self.prober.probe(method, url, headers, timeout)

    def sample(
        self, method: str, url: str, n: int, headers: Mapping[str, str], timeout: float
    ) -> list[Outcome]:
        prober = self.prober
        try:
            return prober.sample(method, url, n, headers, timeout=timeout)
        except AgentUnreachable as exc:
            self._recover(str(exc), prober)
            return self.prober.sample(method, url, n, headers, timeout=timeout)

    def close(self) -> None:
        self.prober.close()
        self.forward.close()
