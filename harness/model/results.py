"""Results of a run: what the runner records and what reports and the demo render.

Plain data classes, independent of how they were produced (a live run, or a test that
constructs them), so rendering is testable without a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from harness.model.outcome import Outcome, redact_header_values
from harness.model.scenario import Expect

Verdict = Literal["pass", "fail", "skipped", "error"]


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
