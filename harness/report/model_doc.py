"""The report's per-probe triple beside `expect`: `predicted` (the mesh model, the shape of
`explain -o json`), `observed` (the newest observation, in the same vocabulary) and `model`
(the observation against the prediction: a finding of its own, never a verdict).

Part of the versioned JSON report (harness.report.document); keys of `predicted` and
`observed` that do not apply are left out, as in `explain -o json`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from harness.model.outcome import Kind
from harness.model.results import ModelCheck, ModelVerdict, PredictedOutcome, ProbeResult


class _Sparse(BaseModel):
    """A part whose keys are absent when they do not apply (written without nulls)."""

    # Built on first use, as the report's models (document.py).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    @model_serializer(mode="wrap")
    def _without_nulls(self, handler: Any) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if v is not None}


class PredictedDoc(_Sparse):
    """What the mesh model predicted (as `explain -o json` prints it)."""

    outcome: str = Field(description="allowed, denied-l4, denied-l7, status or unreachable")
    status: int | None = None
    served_by: str | None = None
    split: dict[str, float] | None = Field(default=None, description="version -> percent")
    l7: bool | None = None
    attempts: int | None = Field(default=None, description="how often the backend sees it")
    headers: dict[str, str] | None = Field(default=None, description="response headers set")
    backend_saw: dict[str, str] | None = Field(default=None, description="request headers set")
    path: list[str] = Field(description="client -> ... -> backend")
    enforced_by: str = Field(description="the component whose decision made the outcome")
    because: str = Field(description="the object and rule that made it decide")
    uncertain: str | None = Field(default=None, description="why the model cannot tell")


class ObservedDoc(_Sparse):
    """The newest observation (a split: its shares too); derived, not read back."""

    outcome: Kind
    status: int | None = None
    served_by: str | None = None
    split: dict[str, float] | None = Field(default=None, description="backend -> percent seen")
    samples: int | None = Field(default=None, description="the split's samples")
    l7: bool | None = None
    attempts: int | None = Field(default=None, description="the backend's count of it")


class ModelDoc(BaseModel):
    """The observation against the prediction. A finding never changes the verdict or the
    exit code: it says where Istio did not do what the model says."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    verdict: ModelVerdict = Field(
        description="agrees, disagrees (a finding), uncertain (the model cannot tell) or "
        "unobserved (nothing was observed: no finding)"
    )
    finding: str | None = Field(description="set exactly when the verdict is disagrees")
    differences: list[str] = Field(description="each predicted field the observation missed")
    model_gap: str | None = Field(description="the scenario's acknowledged reason, if any")


def predicted_doc(p: PredictedOutcome | None) -> PredictedDoc | None:
    return None if p is None else PredictedDoc.model_validate(p.as_dict())


def predicted_outcome(d: PredictedDoc | None) -> PredictedOutcome | None:
    if d is None:
        return None
    return PredictedOutcome(
        outcome=d.outcome,
        enforced_by=d.enforced_by,
        because=d.because,
        status=d.status,
        served_by=d.served_by,
        split=dict(d.split) if d.split else None,
        l7=d.l7,
        attempts=d.attempts,
        headers=dict(d.headers or {}),
        backend_saw=dict(d.backend_saw or {}),
        path=list(d.path),
        uncertain=d.uncertain,
    )


def observed_doc(p: ProbeResult) -> ObservedDoc | None:
    """The newest observation's fields (no status for a reset, no l7 without a response);
    a split has its shares and sample count instead of one `served_by`. None: nothing was
    observed."""
    out: dict[str, Any] = {}
    if p.observations:
        o = p.observations[-1]
        out["outcome"] = o.kind
        if o.probe_error is None:
            out.update(status=o.status, served_by=o.served_by, l7=o.l7, attempts=o.attempt)
    total = sum((p.split_counts or {}).values())
    if p.split_counts and total:
        out.setdefault("outcome", Kind.ALLOWED)
        out.pop("served_by", None)  # the shares say who answered, not the newest sample
        out["split"] = {k: round(100 * v / total, 2) for k, v in p.split_counts.items()}
        out["samples"] = total
    return ObservedDoc.model_validate(out) if out else None


def model_doc(m: ModelCheck | None) -> ModelDoc | None:
    if m is None:
        return None
    return ModelDoc(
        verdict=m.verdict, finding=m.finding, differences=list(m.differences), model_gap=m.model_gap
    )


def model_check(d: ModelDoc | None) -> ModelCheck | None:
    if d is None:
        return None
    return ModelCheck(d.verdict, d.finding, list(d.differences), d.model_gap)
