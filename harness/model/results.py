"""Results of a run: what the runner records and what reports and the demo render.

Plain data classes, independent of how they were produced (a live run, or a test that
constructs them), so rendering is testable without a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from harness.model.outcome import Outcome, redact_header_values
from harness.model.scenario import Expect

Verdict = Literal["pass", "fail", "skipped", "error"]
# The observation against the mesh model's prediction (docs/mental-model.md §8): a finding of
# its own, beside the verdict, never changing it. `uncertain`: the model cannot tell (CUSTOM
# authorizer, a partial fault); `unobserved`: nothing was observed (not run, could not run).
ModelVerdict = Literal["agrees", "disagrees", "uncertain", "unobserved"]


@dataclass(frozen=True)
class PredictedOutcome:
    """What the mesh model (harness.predict) said the probe would see, as a record keeps it:
    the shape of `explain -o json`'s `predicted`, keys absent when they do not apply."""

    outcome: str  # allowed, denied-l4, denied-l7, status, unreachable
    enforced_by: str = ""  # the component whose decision made the outcome
    because: str = ""  # the object and rule that made it decide
    status: int | None = None
    served_by: str | None = None  # `<service>-<version>`
    split: dict[str, float] | None = None  # version -> percent
    l7: bool | None = None
    attempts: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # response headers routes set
    backend_saw: dict[str, str] = field(default_factory=dict)  # request headers routes set
    path: list[str] = field(default_factory=list)  # client -> ... -> backend
    uncertain: str | None = None  # why the model cannot tell; such a prediction claims nothing

    def describe(self) -> str:
        """`denied-l4`, `allowed (200, ratings-v1), l7 false`, `status 503, attempts 4`."""
        if self.outcome == "allowed":
            inner = [str(self.status or 200), *([self.served_by] if self.served_by else [])]
            text = f"allowed ({', '.join(inner)})"
        elif self.outcome == "status":
            text = f"status {self.status}"
        else:
            text = self.outcome
        if self.split:
            text += ", split " + " / ".join(f"{k} {v:g}" for k, v in self.split.items())
        if self.l7 is not None:
            text += f", l7 {'true' if self.l7 else 'false'}"
        text += "".join(f", header {k}: {v}" for k, v in self.headers.items())
        text += "".join(f", backend saw {k}: {v}" for k, v in self.backend_saw.items())
        if self.attempts is not None and (self.attempts != 1 or self.outcome != "allowed"):
            text += f", attempts {self.attempts}"
        return text

    def as_dict(self) -> dict[str, Any]:
        """`explain -o json`'s `predicted`: keys that do not apply are left out."""
        out: dict[str, Any] = {"outcome": self.outcome}
        for key in ("status", "served_by", "split", "l7", "attempts"):
            value = getattr(self, key)
            if value is not None and value != {}:
                out[key] = dict(value) if isinstance(value, dict) else value
        if self.headers:
            out["headers"] = dict(self.headers)
        if self.backend_saw:
            out["backend_saw"] = dict(self.backend_saw)
        out.update(path=list(self.path), enforced_by=self.enforced_by, because=self.because)
        if self.uncertain:
            out["uncertain"] = self.uncertain
        return out


@dataclass(frozen=True)
class ModelCheck:
    """The observation against the prediction: `finding` is set exactly when they disagree.

    A finding never changes the probe's verdict or the exit code: a probe may pass and still
    disagree (a `model_gap` probe), or fail where the model agreed with the scenario.
    """

    verdict: ModelVerdict
    finding: str | None = None  # "model: predicted denied-l4 at ..., observed allowed (...)"
    differences: list[str] = field(default_factory=list)  # each field that differs, judge wording
    model_gap: str | None = None  # the scenario's acknowledged reason to expect otherwise


@dataclass
class ProbeResult:
    """One probe of one step: what was expected, what was seen, and how long it took."""

    client: str
    method: str
    url: str
    expect: Expect  # the scenario's own, carried intact to the comparison and the reports
    verdict: Verdict
    headers: dict[str, str] = field(default_factory=dict)
    observations: list[Outcome] = field(default_factory=list)  # the last few, newest last
    attempts: int = 0  # requests sent for this probe (all samples for a split)
    # Seconds from this probe's own start to the expectation holding (its streak completed).
    time_to_consistency_s: float | None = None
    # The same moment from the end of the step's apply: the propagation latency for the step's
    # first probe, an upper bound for later ones (it includes the earlier probes' time).
    time_to_consistency_from_apply_s: float | None = None
    split_counts: dict[str, int] | None = None  # served_by -> count, for split probes
    message: str = ""  # why it failed, listing the last observations
    note: str | None = None
    identity: str | None = None  # the client's principal, cluster.local/ns/<ns>/sa/<sa>
    # Whether one of the scenario's waypoints serves the destination (None: not known): what
    # the enforcement column infers from, kept so that a report reads as the live run did.
    waypoint: bool | None = None
    # The mesh model's prediction and the observation judged against it (None: not
    # predicted, e.g. a report written before predictions were recorded).
    predicted: PredictedOutcome | None = None
    model: ModelCheck | None = None

    @property
    def model_finding(self) -> str | None:
        return self.model.finding if self.model is not None else None

    def __post_init__(self) -> None:
        # A result is a record: credentials sent or reflected are kept by name only.
        self.headers = redact_header_values(self.headers)
        self.observations = [o.for_record() for o in self.observations]


@dataclass
class StepResult:
    name: str
    title: str
    applied: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    probes: list[ProbeResult] = field(default_factory=list)
    duration_s: float = 0.0
    error: str | None = None
    skipped_reason: str | None = None  # not run, e.g. because an earlier step failed
    narrative: str | None = None  # the scenario's words for the step (the demo reads them out)
    manifests: dict[str, str] = field(default_factory=dict)  # path -> text, applied or deleted

    @property
    def verdict(self) -> Verdict:
        if self.skipped_reason is not None:
            return "skipped"
        if self.error is not None:
            return "error"
        if any(p.verdict in ("fail", "error") for p in self.probes):
            return "fail"
        return "pass"


@dataclass
class ScenarioResult:
    name: str
    title: str
    dataplane: str
    steps: list[StepResult] = field(default_factory=list)
    duration_s: float = 0.0
    error: str | None = None  # set-up failure before or between steps
    skipped_reason: str | None = None
    description: str = ""  # the scenario's description and references, for a replay
    references: list[str] = field(default_factory=list)
    compare_with: str | None = None  # the scenario's declared comparison partner

    @property
    def verdict(self) -> Verdict:
        if self.skipped_reason is not None:
            return "skipped"
        if self.error is not None:
            return "error"
        verdicts = [s.verdict for s in self.steps]
        if "error" in verdicts:
            return "error"
        return "fail" if "fail" in verdicts else "pass"

    @property
    def model_findings(self) -> int:
        return sum(p.model_finding is not None for st in self.steps for p in st.probes)


@dataclass
class Environment:
    """Where a run happened; reports and JUnit properties carry it."""

    provider: str  # "kind" | "existing"
    kubernetes_version: str | None = None
    istio_version: str | None = None
    gateway_api_version: str | None = None
    kind_version: str | None = None
    node_image: str | None = None
    context: str | None = None


@dataclass
class RunResult:
    environment: Environment
    scenarios: list[ScenarioResult] = field(default_factory=list)
    started_at: str = ""  # RFC 3339
    finished_at: str = ""

    @property
    def model_findings(self) -> int:
        return sum(s.model_findings for s in self.scenarios)
