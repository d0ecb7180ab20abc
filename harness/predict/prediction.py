"""What the model says one probe will see, and why (the shape `explain -o json` prints).

Keys that do not apply are left out of `as_dict`: no `status` for a reset, no `served_by` when
the request never reaches a backend, no `attempts` when no Envoy counts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.model.results import PredictedOutcome

ALLOWED = "allowed"
DENIED_L4 = "denied-l4"
DENIED_L7 = "denied-l7"
STATUS = "status"
UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Decision:
    """One component's verdict on the way: who, what it decided, and which object made it."""

    component: str  # "destination ztunnel", "ratings waypoint", "server sidecar (ratings)"
    verdict: str  # "allow", "deny", "route", "fault", "status", "pass"
    because: str  # "AuthorizationPolicy ns/name rules[0]: source.principal matches"
    obj: str | None = None  # the object that made it decide; None for a default


@dataclass
class Prediction:
    outcome: str
    status: int | None = None
    served_by: str | None = None  # `<service>-<version>`, echo's x-served-by
    split: dict[str, float] | None = None  # version -> percent, when several can answer
    l7: bool | None = None  # the backend sees an Envoy's x-request-id
    attempts: int | None = None  # how often the backend sees this request
    headers: dict[str, str] = field(default_factory=dict)  # response headers routes set
    backend_saw: dict[str, str] = field(default_factory=dict)  # request headers routes set
    path: list[str] = field(default_factory=list)  # client -> ... -> backend
    decisions: list[Decision] = field(default_factory=list)
    deciding: Decision | None = None  # the decision that made the outcome
    uncertain: str | None = None  # set when the model cannot tell (CUSTOM, partial faults)

    @property
    def enforced_by(self) -> str:
        return self.deciding.component if self.deciding else ""

    @property
    def because(self) -> str:
        return self.deciding.because if self.deciding else ""

    def versions(self) -> set[str]:
        """Every version that can answer (the support of the split, or served_by)."""
        if self.split:
            return set(self.split)
        if self.served_by:
            return {self.served_by.rsplit("-", 1)[-1]}
        return set()

    def record(self) -> PredictedOutcome:
        """The prediction as a result records it (and reports and explain word it)."""
        return PredictedOutcome(
            outcome=self.outcome,
            enforced_by=self.enforced_by,
            because=self.because,
            status=self.status,
            served_by=self.served_by,
            split=dict(self.split) if self.split else None,
            l7=self.l7,
            attempts=self.attempts,
            headers=dict(self.headers),
            backend_saw=dict(self.backend_saw),
            path=list(self.path),
            uncertain=self.uncertain,
        )

    def describe(self) -> str:
        """`allowed (200, ratings-v1), l7 false`, `denied-l4`, `status 503`."""
        text = self.record().describe()
        return f"{text} (uncertain: {self.uncertain})" if self.uncertain else text

    def as_dict(self) -> dict[str, Any]:
        return self.record().as_dict()
