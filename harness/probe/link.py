"""The port through which a scenario's probes reach the mesh: one client identity's agent.

`harness.probe.forwarded.ForwardedAgent` implements it over a kubectl port-forward; the dry
run and the tests have their own (tests/fakes/).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from harness.model.outcome import Outcome


class AgentLink(Protocol):
    """Requests from inside the mesh, through one client identity's agent."""

    def probe(
        self, method: str, url: str, headers: Mapping[str, str], timeout: float
    ) -> Outcome: ...

    def sample(
        self, method: str, url: str, n: int, headers: Mapping[str, str], timeout: float
    ) -> list[Outcome]: ...
