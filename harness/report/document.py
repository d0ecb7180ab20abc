"""The JSON report: a versioned type, written by `--report-json`, read by `ambient-harness report`.

`ReportDocument` (pydantic) *is* the format, as Gateway API's `ConformanceReport` is a Go type:
the writer serializes it, the reader validates against it, and `report_schema.json` is generated
from it, never edited by hand. After changing a model below, regenerate the shipped schema with

    python -m harness.report.document

(tests/report/test_report.py fails while the shipped file differs from the generated one). A
change of shape bumps `SCHEMA_VERSION`.

The run's results (`harness.model.results`) stay plain dataclasses; `to_document` and
`from_document` convert between the two.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer

from harness.errors import HarnessError
from harness.model.outcome import Kind, Outcome, ProbeError
from harness.model.results import (
    Environment,
    ProbeResult,
    RunResult,
    ScenarioResult,
    StepResult,
    Verdict,
)
from harness.model.scenario import Dataplane, Expect
from harness.report.model_doc import (
    ModelDoc,
    ObservedDoc,
    PredictedDoc,
    model_check,
    model_doc,
    observed_doc,
    predicted_doc,
    predicted_outcome,
)
from harness.report.summary import summarize
from harness.report.versions import migrate

SCHEMA_VERSION: Final = 3
# Versions `run_from_dict` still reads, each migrated to the current shape on load
# (harness.report.versions). Version 3 added the mesh model's prediction per probe.
READABLE_VERSIONS: Final = (1, 2, 3)
SCHEMA_ID: Final = f"urn:ambient-harness:report:{SCHEMA_VERSION}"
SCHEMA_FILE: Final = Path(__file__).with_name("report_schema.json")
ENVIRONMENT_FIELDS: Final = (
    "provider",
    "kubernetes_version",
    "istio_version",
    "gateway_api_version",
    "kind_version",
    "node_image",
    "context",
)
REPORT_FILE_MODE: Final = 0o644  # like junit.xml: readable by the CI user that uploads it


class ReportError(HarnessError, ValueError):
    """A file that is not a readable ambient-harness JSON report."""


class _Doc(BaseModel):
    # Every field is required: the writer always writes all of them, so a missing one means
    # the file is not a report of this version. Validators are built on first use, not at
    # import: most processes that import the report (each pytest worker) never write or read
    # one (~40 ms of CPU each).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class EnvironmentDoc(_Doc):
    """Where the run happened."""

    provider: str = Field(min_length=1)
    kubernetes_version: str | None
    istio_version: str | None
    gateway_api_version: str | None
    kind_version: str | None
    node_image: str | None
    context: str | None


class SummaryDoc(_Doc):
    """Scenario verdicts counted (derived from `scenarios`; not read back)."""

    scenarios: int = Field(ge=0)
    passed: int = Field(ge=0)
    failed: int = Field(ge=0)
    skipped: int = Field(ge=0)
    errors: int = Field(ge=0)
    model_findings: int = Field(
        ge=0,
        description="probes where Istio did not do what the mesh model predicts; a finding "
        "changes no verdict and not the exit code",
    )


class ObservationDoc(_Doc):
    """One observation; `kind` is derived from the other fields and not read back."""

    kind: Kind
    status: int = Field(ge=0, le=599)
    probe_error: ProbeError | None
    served_by: str | None
    l7: bool
    elapsed_ms: float = Field(ge=0)
    body_excerpt: str
    attempt: int | None = Field(ge=0)
    detail: str


class ProbeDoc(_Doc):
    """One probe of one step: the request, the scenario's expectation, what was seen."""

    client: str = Field(min_length=1)
    method: str = Field(min_length=1)
    url: str = Field(min_length=1)
    headers: dict[str, str]
    expect: Expect = Field(description="Expect.summary(): only the fields the scenario set.")
    verdict: Verdict
    attempts: int = Field(ge=0)
    time_to_consistency_s: float | None = Field(
        ge=0, description="seconds from the probe's own start to the expectation holding"
    )
    time_to_consistency_from_apply_s: float | None = Field(
        ge=0, description="the same moment, from the end of the step's apply"
    )
    split_counts: dict[str, int] | None
    message: str
    note: str | None
    identity: str | None = Field(description="the client's principal")
    waypoint: bool | None = Field(
        description="a waypoint of the scenario serves the destination (null: not known)"
    )
    observations: list[ObservationDoc]
    predicted: PredictedDoc | None = Field(
        description="the mesh model's prediction, as `explain -o json` (null: not predicted)"
    )
    observed: ObservedDoc | None = Field(
        description="the newest observation, in the prediction's terms (derived, not read back)"
    )
    model: ModelDoc | None = Field(
        description="the observation against the prediction (null: not predicted)"
    )

    @field_serializer("expect")
    def _expect_as_written(self, expect: Expect) -> dict[str, Any]:
        return expect.summary()


class StepDoc(_Doc):
    name: str
    title: str
    verdict: Verdict
    duration_s: float = Field(ge=0)
    applied: list[str]
    deleted: list[str]
    error: str | None
    skipped_reason: str | None
    narrative: str | None
    manifests: dict[str, str] = Field(description="path -> text, as applied or deleted")
    probes: list[ProbeDoc]


class ScenarioDoc(_Doc):
    name: str = Field(min_length=1)
    title: str
    dataplane: Dataplane
    verdict: Verdict
    duration_s: float = Field(ge=0)
    error: str | None
    skipped_reason: str | None
    description: str
    references: list[str]
    compare_with: str | None = Field(
        default=None, description="the scenario it is compared with (its compare_with)"
    )
    steps: list[StepDoc]


class ReportDocument(_Doc):
    """ambient-harness run report."""

    schema_version: Literal[3]
    environment: EnvironmentDoc
    started_at: str = Field(description="RFC 3339, or empty when unknown")
    finished_at: str = Field(description="RFC 3339, or empty when unknown")
    summary: SummaryDoc
    scenarios: list[ScenarioDoc]


# --- results -> document -------------------------------------------------------------------------


def _observation_doc(o: Outcome) -> ObservationDoc:
    return ObservationDoc(
        kind=o.kind,
        status=o.status,
        probe_error=o.probe_error,
        served_by=o.served_by,
        l7=o.l7,
        elapsed_ms=o.elapsed_ms,
        body_excerpt=o.body_excerpt,
        attempt=o.attempt,
        detail=o.detail,
    )


def _probe_doc(p: ProbeResult) -> ProbeDoc:
    return ProbeDoc(
        client=p.client,
        method=p.method,
        url=p.url,
        headers=dict(p.headers),
        expect=p.expect,
        verdict=p.verdict,
        attempts=p.attempts,
        time_to_consistency_s=p.time_to_consistency_s,
        time_to_consistency_from_apply_s=p.time_to_consistency_from_apply_s,
        split_counts=dict(p.split_counts) if p.split_counts is not None else None,
        message=p.message,
        note=p.note,
        identity=p.identity,
        waypoint=p.waypoint,
        observations=[_observation_doc(o) for o in p.observations],
        predicted=predicted_doc(p.predicted),
        observed=observed_doc(p),
        model=model_doc(p.model),
    )


def _step_doc(s: StepResult) -> StepDoc:
    return StepDoc(
        name=s.name,
        title=s.title,
        verdict=s.verdict,
        duration_s=s.duration_s,
        applied=list(s.applied),
        deleted=list(s.deleted),
        error=s.error,
        skipped_reason=s.skipped_reason,
        narrative=s.narrative,
        manifests=dict(s.manifests),
        probes=[_probe_doc(p) for p in s.probes],
    )


def _scenario_doc(s: ScenarioResult) -> ScenarioDoc:
    return ScenarioDoc.model_validate(
        {
            "name": s.name,
            "title": s.title,
            "dataplane": s.dataplane,
            "verdict": s.verdict,
            "duration_s": s.duration_s,
            "error": s.error,
            "skipped_reason": s.skipped_reason,
            "description": s.description,
            "references": list(s.references),
            "compare_with": s.compare_with,
            "steps": [_step_doc(st) for st in s.steps],
        }
    )


def to_document(run: RunResult) -> ReportDocument:
    s = summarize(run)
    return ReportDocument(
        schema_version=SCHEMA_VERSION,
        environment=EnvironmentDoc(**{f: getattr(run.environment, f) for f in ENVIRONMENT_FIELDS}),
        started_at=run.started_at,
        finished_at=run.finished_at,
        summary=SummaryDoc(
            scenarios=s.scenarios,
            passed=s.passed,
            failed=s.failed,
            skipped=s.skipped,
            errors=s.errors,
            model_findings=s.model_findings,
        ),
        scenarios=[_scenario_doc(sc) for sc in run.scenarios],
    )


def run_to_dict(run: RunResult) -> dict[str, Any]:
    """The JSON report as Python data (shape: `ReportDocument`)."""
    return to_document(run).model_dump(mode="json")


# --- document -> results -------------------------------------------------------------------------


def _outcome(d: ObservationDoc) -> Outcome:
    return Outcome(
        status=d.status,
        probe_error=d.probe_error,
        served_by=d.served_by,
        l7=d.l7,
        elapsed_ms=d.elapsed_ms,
        body_excerpt=d.body_excerpt,
        attempt=d.attempt,
        detail=d.detail,
    )


def _probe_result(d: ProbeDoc) -> ProbeResult:
    return ProbeResult(
        client=d.client,
        method=d.method,
        url=d.url,
        headers=dict(d.headers),
        expect=d.expect,
        verdict=d.verdict,
        attempts=d.attempts,
        time_to_consistency_s=d.time_to_consistency_s,
        time_to_consistency_from_apply_s=d.time_to_consistency_from_apply_s,
        split_counts=dict(d.split_counts) if d.split_counts is not None else None,
        message=d.message,
        note=d.note,
        identity=d.identity,
        waypoint=d.waypoint,
        observations=[_outcome(o) for o in d.observations],
        predicted=predicted_outcome(d.predicted),
        model=model_check(d.model),
    )


def from_document(doc: ReportDocument) -> RunResult:
    return RunResult(
        environment=Environment(**doc.environment.model_dump()),
        scenarios=[
            ScenarioResult(
                name=sc.name,
                title=sc.title,
                dataplane=sc.dataplane,
                steps=[
                    StepResult(
                        name=st.name,
                        title=st.title,
                        applied=list(st.applied),
                        deleted=list(st.deleted),
                        probes=[_probe_result(p) for p in st.probes],
                        duration_s=st.duration_s,
                        error=st.error,
                        skipped_reason=st.skipped_reason,
                        narrative=st.narrative,
                        manifests=dict(st.manifests),
                    )
                    for st in sc.steps
                ],
                duration_s=sc.duration_s,
                error=sc.error,
                skipped_reason=sc.skipped_reason,
                description=sc.description,
                references=list(sc.references),
                compare_with=sc.compare_with,
            )
            for sc in doc.scenarios
        ],
        started_at=doc.started_at,
        finished_at=doc.finished_at,
    )


def _first_problem(err: ValidationError) -> str:
    """The outermost problem (a missing section before a field inside it), and how many more."""
    errors = sorted(err.errors(), key=lambda e: len(e["loc"]))
    e = errors[0]
    where = ".".join(str(p) for p in e["loc"])
    if e["type"] == "missing":
        text = f"missing field {e['loc'][-1]!r}" + (f" at {where}" if len(e["loc"]) > 1 else "")
    else:
        text = f"{where}: {e['msg']}"
    more = len(errors) - 1
    return text + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def run_from_dict(data: Any) -> RunResult:
    """The inverse of `run_to_dict`; raises ReportError on anything else."""
    if not isinstance(data, dict):
        raise ReportError("a report is a JSON object")
    version = data.get("schema_version")
    if version not in READABLE_VERSIONS:
        *older, newest = (str(v) for v in READABLE_VERSIONS)
        readable = f"{', '.join(older)} or {newest}" if older else newest
        raise ReportError(f"schema_version {version!r} is not supported (expected {readable})")
    data = migrate(data, version, SCHEMA_VERSION)
    try:
        doc = ReportDocument.model_validate(data)
    except ValidationError as err:
        raise ReportError(f"not an ambient-harness report: {_first_problem(err)}") from None
    return from_document(doc)


def load_json_report(path: Path) -> RunResult:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    try:
        return run_from_dict(data)
    except ReportError as exc:
        raise ReportError(f"{path}: {exc}") from None


# --- files ---------------------------------------------------------------------------------------


def write_atomic(path: Path, text: str, *, make_parents: bool = True) -> None:
    """Write `text` to `path` atomically (a reader never sees half a file), mode 0644.

    `make_parents=False`: a missing directory is an error that says so, not created.
    """
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise ReportError(f"cannot write {path}: directory {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file 0600; a report is for others to read (CI uploads it).
        os.fchmod(fd, REPORT_FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_report(run: RunResult, path: Path) -> None:
    write_atomic(path, json.dumps(run_to_dict(run), indent=2, ensure_ascii=False) + "\n")


def junit_properties(env: Environment) -> list[tuple[str, str]]:
    """Test-suite properties for JUnit XML: where the run happened (unset fields left out)."""
    return [(f, str(v)) for f in ENVIRONMENT_FIELDS if (v := getattr(env, f)) is not None]


# --- the schema ----------------------------------------------------------------------------------


def json_schema() -> dict[str, Any]:
    """The JSON Schema of `ReportDocument` (what `report_schema.json` must contain)."""
    generated = ReportDocument.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **generated,
        "description": "Written by `--report-json` (pytest or `ambient-harness run`); "
        "rendered by `ambient-harness report`. Generated from "
        "harness.report.document.ReportDocument.",
    }


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    # `python -m harness.report.document`: regenerate the shipped schema.
    write_atomic(SCHEMA_FILE, schema_text())
    print(SCHEMA_FILE, file=sys.stderr)
