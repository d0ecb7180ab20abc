"""Terminal summaries of a run: the tally line and the failed probes, expected vs observed."""

from __future__ import annotations

from dataclasses import dataclass

from harness.judge.enforcement import enforcement_point
from harness.model.describe import describe_expect
from harness.model.results import RunResult
from harness.report.words import (
    MODEL_FINDINGS_NOTE,
    SYMBOL,
    describe_headers,
    describe_identity,
    describe_observed,
    describe_predicted,
    describe_target,
    model_findings,
    plural,
)


@dataclass(frozen=True)
class Summary:
    scenarios: int
    passed: int
    failed: int
    skipped: int
    errors: int
    model_findings: int = 0  # beside the verdicts: no verdict counts them


def summarize(run: RunResult) -> Summary:
    verdicts = [s.verdict for s in run.scenarios]
    return Summary(
        scenarios=len(verdicts),
        passed=verdicts.count("pass"),
        failed=verdicts.count("fail"),
        skipped=verdicts.count("skipped"),
        errors=verdicts.count("error"),
        model_findings=run.model_findings,
    )


def summary_line(s: Summary) -> str:
    """The tally; model findings beside it when there are any (they are not a verdict)."""
    line = (
        f"{plural(s.scenarios, 'scenario')}: {s.passed} passed, {s.failed} failed, "
        f"{s.skipped} skipped, {plural(s.errors, 'error')}"
    )
    if s.model_findings:
        line += f"; {plural(s.model_findings, 'model finding')} (no verdict changed)"
    return line


def failure_summary(run: RunResult) -> str:
    """Every scenario that did not pass, with its failed probes' expected vs observed.

    Empty when nothing failed, so callers print it only when there is something to say.
    """
    lines: list[str] = []
    for s in run.scenarios:
        if s.verdict in ("pass", "skipped"):
            continue
        lines.append(f"{SYMBOL[s.verdict]} {s.name} ({s.dataplane}): {s.verdict}")
        if s.error:
            lines.append(f"    error: {s.error}")
        for st in s.steps:
            if st.verdict == "pass":
                continue
            lines.append(f"  step {st.name}: {st.title}")
            if st.error:
                lines.append(f"    error: {st.error}")
            for p in st.probes:
                if p.verdict == "pass":
                    continue
                sent = f" [{describe_headers(p.headers)}]" if p.headers else ""
                lines.append(f"    {SYMBOL[p.verdict]} {p.client} → {p.method} {p.url}{sent}")
                lines.append(f"        as: {describe_identity(p)}")
                lines.append(f"        expected: {describe_expect(p.expect)}")
                if p.predicted is not None:
                    lines.append(f"        predicted: {describe_predicted(p)}")
                lines.append(
                    f"        observed: {describe_observed(p)} "
                    f"({p.attempts} request(s); {enforcement_point(s.dataplane, p, p.waypoint)})"
                )
                lines += [f"        {line}" for line in p.message.splitlines() if line.strip()]
    if not lines:
        return ""
    failed = sum(s.verdict in ("fail", "error") for s in run.scenarios)
    return f"{failed} of {len(run.scenarios)} scenarios did not pass:\n" + "\n".join(lines)


def model_findings_summary(run: RunResult) -> str:
    """Every model finding: expected, predicted, observed and what the model missed.

    Printed whether the run passed or not (a passing probe may disagree with the model);
    empty when there is none.
    """
    found = model_findings(run)
    if not found:
        return ""
    lines = [f"{plural(len(found), 'model finding')}: {MODEL_FINDINGS_NOTE}"]
    for sc, step, p in found:
        lines.append(
            f"  {SYMBOL[p.verdict]} {sc.name} / {step}: {describe_target(p)} ({p.verdict})"
        )
        lines.append(f"        expected: {describe_expect(p.expect)}")
        lines.append(f"        predicted: {describe_predicted(p)}")
        lines.append(f"        observed: {describe_observed(p)}")
        lines.append(f"        {p.model_finding}")
        if p.model is not None:
            lines += [f"          - {d}" for d in p.model.differences]
    return "\n".join(lines)
