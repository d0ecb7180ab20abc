"""The Markdown rendering of a report (a CI job summary, a pull-request comment)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from harness.model.describe import describe_expect
from harness.model.results import RunResult
from harness.report.comparison import (
    COMPARISON_HEADER,
    comparison_cell,
    comparison_rows,
    pair_scenarios,
)
from harness.report.summary import summarize
from harness.report.words import (
    MATRIX_HEADER,
    MODEL_FINDINGS_NOTE,
    describe_call,
    describe_model,
    describe_observed,
    describe_predicted,
    environment_line,
    max_time_to_consistency,
    model_findings,
    plural,
    scenario_duration,
    seconds,
    steps_passed,
)

MD_VERDICT: Final[dict[str, str]] = {
    "pass": "✅ pass",
    "fail": "❌ fail",
    "skipped": "⏭️ skipped",
    "error": "⚠️ error",
}


def _md(text: object) -> str:
    """A table cell: no line breaks, pipes escaped, no raw HTML."""
    s = str(text).replace("\r", " ").replace("\n", " ")
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace("|", "\\|")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(run: RunResult) -> str:
    s = summarize(run)
    out = [
        "## ambient-harness conformance report",
        "",
        f"**{s.passed} passed** · **{s.failed} failed** · {s.skipped} skipped · "
        f"{plural(s.errors, 'error')} — {s.scenarios} scenarios"
        + (f" · {plural(s.model_findings, 'model finding')}" if s.model_findings else ""),
        "",
        _md(environment_line(run.environment)),
    ]
    if run.started_at or run.finished_at:
        out += ["", f"Started {_md(run.started_at)}, finished {_md(run.finished_at)}."]
    out += ["", "### Conformance matrix", ""]
    out += _md_table(
        MATRIX_HEADER,
        [
            [
                f"{sc.name}: {sc.title}",
                sc.dataplane,
                MD_VERDICT[sc.verdict],
                steps_passed(sc),
                seconds(max_time_to_consistency(sc)),
                scenario_duration(sc),
            ]
            for sc in run.scenarios
        ],
    )
    pairs = pair_scenarios(run.scenarios)
    if pairs:
        out += ["", "### Sidecar vs ambient: same policy, different enforcement point"]
        for pair in pairs:
            out += ["", f"#### {_md(pair.topic)}", ""]
            rows = []
            for r in comparison_rows(pair):
                sc_, am = (
                    comparison_cell(r.sidecar, "sidecar"),
                    comparison_cell(r.ambient, "ambient"),
                )
                rows.append(
                    [
                        r.step,
                        f"{r.target} {r.identity}",
                        sc_.text,
                        sc_.enforced_by,
                        am.text,
                        am.enforced_by,
                    ]
                )
            out += _md_table(
                COMPARISON_HEADER,
                rows,
            )
    out += _md_model(run)
    failures = [
        (sc, st, p)
        for sc in run.scenarios
        for st in sc.steps
        for p in st.probes
        if p.verdict != "pass"
    ]
    errors = [sc for sc in run.scenarios if sc.error] + [
        st for sc in run.scenarios for st in sc.steps if st.error
    ]
    if failures or errors:
        out += ["", "### Failures", ""]
        for item in errors:
            out.append(f"- **{_md(item.name)}**: error: {_md(item.error)}")
        for sc, st, p in failures:
            out.append(
                f"- **{_md(sc.name)}** / {_md(st.name)}: {_md(describe_call(p))}: "
                f"expected *{_md(describe_expect(p.expect))}*, "
                + (f"predicted *{_md(describe_predicted(p))}*, " if p.predicted else "")
                + f"observed *{_md(describe_observed(p))}*"
            )
    return "\n".join(out) + "\n"


PROBE_HEADER: Final = ("Step", "Client → destination", "Expected", "Predicted", "Observed", "Model")


def _md_model(run: RunResult) -> list[str]:
    """The model findings, then every probe: expected, predicted, observed (a run recorded
    before predictions has neither section)."""
    if not any(p.predicted for sc in run.scenarios for st in sc.steps for p in st.probes):
        return []
    out = ["", "### Model findings", "", f"Model findings are {_md(MODEL_FINDINGS_NOTE)}.", ""]
    found = model_findings(run)
    out += [
        f"- **{_md(sc.name)}** / {_md(step)}: {_md(describe_call(p))} "
        f"({MD_VERDICT[p.verdict]}): {_md(p.model_finding)}"
        for sc, step, p in found
    ] or ["None: every observation agrees with the model's prediction."]
    out += ["", "### Probes: expected, predicted, observed"]
    for sc in run.scenarios:
        rows = [
            [st.name, describe_call(p), describe_expect(p.expect), describe_predicted(p),
             f"{describe_observed(p)} {MD_VERDICT[p.verdict]}", describe_model(p)]
            for st in sc.steps
            for p in st.probes
        ]  # fmt: skip
        if rows:
            out += ["", f"#### {_md(sc.name)} ({_md(sc.dataplane)})", ""]
            out += _md_table(PROBE_HEADER, rows)
    return out
