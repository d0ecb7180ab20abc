"""What the model says one probe will see, and why (the shape `explain -o json` prints).

Keys that do not apply are left out of `as_dict`: no `status` for a reset, no `served_by` when
the request never reaches a backend, no `attempts` when no Envoy counts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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

    def describe(self) -> str:
        """`allowed (200, ratings-v1), l7 false`, `denied-l4`, `status 503`."""
        if self.outcome == ALLOWED:
            inner = [str(self.status or 200)]
            if self.served_by:
                inner.append(self.served_by)
            text = f"allowed ({', '.join(inner)})"
        elif self.outcome == STATUS:
            text = f"status {self.status}"
        else:
            text = self.outcome
        if self.split:
            text += ", split " + " / ".join(f"{k} {v:g}" for k, v in self.split.items())
        if self.l7 is not None:
            text += f", l7 {'true' if self.l7 else 'false'}"
        for k, v in self.headers.items():
            text += f", header {k}: {v}"
        for k, v in self.backend_saw.items():
            text += f", backend saw {k}: {v}"
        if self.attempts is not None and (self.attempts != 1 or self.outcome != ALLOWED):
            text += f", attempts {self.attempts}"
        if self.uncertain:
            text += f" (uncertain: {self.uncertain})"
        return text

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outcome": self.outcome}
        if self.status is not None:
            out["status"] = self.status
        if self.served_by is not None:
            out["served_by"] = self.served_by
        if self.split:
            out["split"] = dict(self.split)
        if self.l7 is not None:
            out["l7"] = self.l7
        if self.attempts is not None:
            out["attempts"] = self.attempts
        if self.headers:
            out["headers"] = dict(self.headers)
        if self.backend_saw:
            out["backend_saw"] = dict(self.backend_saw)
        out["path"] = list(self.path)
        out["enforced_by"] = self.enforced_by
        out["because"] = self.because
        if self.uncertain:
            out["uncertain"] = self.uncertain
        return out
