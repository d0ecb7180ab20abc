"""The HTML rendering of a report: one self-contained page (inline CSS, no scripts)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Final

from harness.judge.enforcement import enforcement_point
from harness.model.describe import describe_expect
from harness.model.outcome import Outcome
from harness.model.results import ProbeResult, RunResult, ScenarioResult
from harness.report.comparison import (
    COMPARISON_HEADER,
    Cell,
    comparison_cell,
    comparison_rows,
    pair_scenarios,
)
from harness.report.summary import summarize
from harness.report.words import (
    MATRIX_HEADER,
    MODEL_FINDINGS_NOTE,
    SYMBOL,
    describe_call,
    describe_identity,
    describe_model,
    describe_observed,
    describe_predicted,
    describe_target,
    environment_line,
    max_time_to_consistency,
    model_findings,
    scenario_duration,
    seconds,
    steps_passed,
)

_CSS: Final = """
:root { --pass: #1a7f37; --fail: #cf222e; --skipped: #6e7781; --error: #bc4c00;
  --line: #d0d7de; --soft: #f6f8fa; --ink: #1f2328; --muted: #59636e; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); margin: 0; background: #fff; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 12px; padding-bottom: 6px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; }
h4 { font-size: 14px; margin: 18px 0 6px; }
.muted { color: var(--muted); }
.env { color: var(--muted); margin: 0 0 16px; }
.badges { display: flex; gap: 10px; flex-wrap: wrap; margin: 16px 0; }
.badge { border-radius: 8px; padding: 8px 16px; min-width: 110px; color: #fff; }
.badge b { display: block; font-size: 24px; line-height: 1.1; }
.badge.total { background: #24292f; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); }
.badge.skipped { background: var(--skipped); } .badge.error { background: var(--error); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 6px 9px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num { text-align: right; white-space: nowrap; }
.pill { display: inline-block; border-radius: 999px; padding: 1px 10px; font-size: 12px;
  font-weight: 600; color: #fff; white-space: nowrap; }
.pill.pass { background: var(--pass); } .pill.fail { background: var(--fail); }
.pill.skipped { background: var(--skipped); } .pill.error { background: var(--error); }
.plane { font-size: 12px; border: 1px solid var(--line); border-radius: 4px; padding: 0 6px; }
.by { color: #0550ae; }
tr.failed td { background: #fff5f5; }
details { border: 1px solid var(--line); border-radius: 8px; margin: 10px 0; padding: 0 14px; }
details[open] { padding-bottom: 10px; }
summary { cursor: pointer; padding: 10px 0; font-weight: 600; }
summary .muted { font-weight: 400; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
  padding: 8px 10px; white-space: pre-wrap; word-break: break-word; margin: 4px 0;
  font-size: 12.5px; }
code { font-size: 13px; }
.expected { color: var(--pass); } .observed { color: var(--fail); }
table.fixed { table-layout: fixed; }
td.miss { background: #fff5f5; }
.hdrs { font-size: 12px; color: var(--muted); }
.badge.model { background: #8250df; }
.finding { color: #8250df; }
.model { font-size: 12px; white-space: nowrap; }
.label { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 6px 12px;
  margin: 0 0 14px; font-weight: 600; }
"""


def _h(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pill(verdict: str) -> str:
    return f'<span class="pill {_h(verdict)}">{_h(SYMBOL[verdict])} {_h(verdict)}</span>'


def _anchor(name: str) -> str:
    return "scenario-" + "".join(c if c.isalnum() or c == "-" else "_" for c in name)


# Column widths in per cent, so that the tables of different steps and pairs line up.
_CMP_WIDTHS: Final = (10, 22, 17, 17, 17, 17)
_PROBE_WIDTHS: Final = (20, 13, 17, 15, 8, 13, 6, 8)
PROBE_HEADER: Final = (
    "Client → destination",
    "Expected",
    "Predicted",
    "Observed",
    "Verdict",
    "Enforced by",
    "Requests",
    "Consistent after",
)


def _html_table(
    header: Sequence[str],
    rows: Sequence[str],
    *,
    css_class: str = "",
    widths: Sequence[int] = (),
) -> str:
    head = "".join(f"<th>{_h(h)}</th>" for h in header)
    cols = "".join(f'<col style="width:{w}%">' for w in widths)
    colgroup = f"<colgroup>{cols}</colgroup>" if cols else ""
    cls = f' class="{_h(css_class)}"' if css_class else ""
    return (
        f"<table{cls}>{colgroup}<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _html_matrix(run: RunResult) -> str:
    rows = []
    for sc in run.scenarios:
        rows.append(
            "<tr>"
            f'<td><a href="#{_anchor(sc.name)}"><code>{_h(sc.name)}</code></a><br>'
            f'<span class="muted">{_h(sc.title)}</span></td>'
            f'<td><span class="plane">{_h(sc.dataplane)}</span></td>'
            f"<td>{_pill(sc.verdict)}</td>"
            f'<td class="num">{_h(steps_passed(sc))}</td>'
            f'<td class="num">{_h(seconds(max_time_to_consistency(sc)))}</td>'
            f'<td class="num">{_h(scenario_duration(sc))}</td>'
            "</tr>"
        )
    return _html_table(
        MATRIX_HEADER,
        rows,
    )


def _html_comparison(run: RunResult) -> str:
    pairs = pair_scenarios(run.scenarios)
    if not pairs:
        return '<p class="muted">No sidecar/ambient pairs in this run.</p>'
    parts = []
    for pair in pairs:
        rows = []
        for r in comparison_rows(pair):
            cells = "".join(
                _html_cell(comparison_cell(probe, plane))
                for probe, plane in ((r.sidecar, "sidecar"), (r.ambient, "ambient"))
            )
            rows.append(
                f"<tr><td>{_h(r.step)}</td><td>{_h(r.target)}"
                f'<br><span class="hdrs">{_h(r.identity)}</span></td>{cells}</tr>'
            )
        parts.append(
            f"<h3>{_h(pair.topic)} "
            f'<span class="muted">(<code>{_h(pair.sidecar.name)}</code> vs '
            f"<code>{_h(pair.ambient.name)}</code>)</span></h3>"
            + _html_table(COMPARISON_HEADER, rows, css_class="fixed", widths=_CMP_WIDTHS)
        )
    return "".join(parts)


def _html_cell(cell: Cell) -> str:
    if not cell.miss:
        return f'<td>{_h(cell.observed)}</td><td class="by">{_h(cell.enforced_by)}</td>'
    return (
        f'<td class="miss">{_h(cell.observed)}<br><span class="observed">{_h(cell.miss)}</span>'
        f'</td><td class="by miss">{_h(cell.enforced_by)}</td>'
    )


def _html_probe_rows(sc: ScenarioResult, p: ProbeResult) -> str:
    failed = p.verdict != "pass"
    finding = p.model_finding
    mark = "model finding" if finding else "model"
    row = (
        f'<tr class="{"failed" if failed else ""}">'
        f"<td>{_h(describe_target(p, headers=False))}{_html_headers(p.headers)}"
        f'<br><span class="hdrs">as {_h(describe_identity(p))}</span></td>'
        f"<td>{_h(describe_expect(p.expect))}</td>"
        f"<td>{_h(describe_predicted(p))}"
        f'<br><span class="{mark}">{_h(describe_model(p))}</span></td>'
        f"<td>{_h(describe_observed(p))}</td>"
        f"<td>{_pill(p.verdict)}</td>"
        f'<td class="by">{_h(enforcement_point(sc.dataplane, p, p.waypoint))}</td>'
        f'<td class="num">{_h(p.attempts)}</td>'
        f'<td class="num">{_consistency(p)}</td>'
        "</tr>"
    )
    extra = []
    if p.note:
        extra.append(f'<p class="muted">Note: {_h(p.note)}</p>')
    if finding is not None and p.model is not None:
        items = "".join(f"<li>{_h(d)}</li>" for d in p.model.differences)
        extra.append(f'<p class="finding"><b>Model finding</b>: {_h(finding)}</p><ul>{items}</ul>')
    if failed:
        extra.append(
            f'<p><b>Expected</b> <span class="expected">{_h(describe_expect(p.expect))}</span>'
            f' — <b>observed</b> <span class="observed">{_h(describe_observed(p))}</span></p>'
        )
        if p.message:
            extra.append(f"<pre>{_h(p.message)}</pre>")
        if p.observations:
            seen = "".join(f"<li>{_h(_observation_line(o))}</li>" for o in p.observations)
            extra.append(f"<p>Last observations, newest last:</p><ol>{seen}</ol>")
    if extra:
        row += (
            f'<tr class="{"failed" if failed else ""}"><td colspan="8">{"".join(extra)}</td></tr>'
        )
    return row


def _consistency(p: ProbeResult) -> str:
    """From the probe's own start; from the step's apply beneath, when it says more."""
    own, applied = p.time_to_consistency_s, p.time_to_consistency_from_apply_s
    text = _h(seconds(own))
    if applied is not None and (own is None or applied - own >= 0.05):
        text += f'<br><span class="hdrs">{_h(seconds(applied))} after the apply</span>'
    return text


def _label(text: str | None) -> str:
    return "" if text is None else f'<p class="label">{_h(text)}</p>'


def _html_headers(headers: Mapping[str, str]) -> str:
    if not headers:
        return ""
    lines = "<br>".join(f"{_h(k)}: {_h(v)}" for k, v in headers.items())
    return f'<br><span class="hdrs">{lines}</span>'


def _observation_line(o: Outcome) -> str:
    parts = [o.describe(), f"{o.elapsed_ms:.0f} ms", "L7" if o.l7 else "L4"]
    if o.detail:
        parts.append(o.detail)
    return " · ".join(parts)


def _html_scenario(sc: ScenarioResult) -> str:
    open_attr = " open" if sc.verdict in ("fail", "error") else ""
    body = []
    if sc.skipped_reason:
        body.append(f'<p class="muted">Skipped: {_h(sc.skipped_reason)}</p>')
    if sc.error:
        body.append(f"<p><b>Error</b></p><pre>{_h(sc.error)}</pre>")
    for st in sc.steps:
        files = [f"apply <code>{_h(a)}</code>" for a in st.applied]
        files += [f"delete <code>{_h(d)}</code>" for d in st.deleted]
        body.append(
            f"<h4>{_pill(st.verdict)} {_h(st.title)} "
            f'<span class="muted">({_h(st.name)}, {_h(seconds(st.duration_s))})</span></h4>'
        )
        if files:
            body.append(f'<p class="muted">{", ".join(files)}</p>')
        if st.error:
            body.append(f"<pre>{_h(st.error)}</pre>")
        if st.probes:
            body.append(
                _html_table(
                    PROBE_HEADER,
                    [_html_probe_rows(sc, p) for p in st.probes],
                    css_class="fixed",
                    widths=_PROBE_WIDTHS,
                )
            )
    return (
        f'<details id="{_anchor(sc.name)}"{open_attr}><summary>{_pill(sc.verdict)} '
        f"<code>{_h(sc.name)}</code> {_h(sc.title)} "
        f'<span class="muted">· {_h(sc.dataplane)} · {_h(scenario_duration(sc))}</span>'
        f"</summary>{''.join(body)}</details>"
    )


def _html_model_findings(run: RunResult) -> str:
    """The findings, each linked to its scenario (nothing for a run recorded without
    predictions)."""
    if not any(p.predicted for sc in run.scenarios for st in sc.steps for p in st.probes):
        return ""
    items = "".join(
        f'<li><a href="#{_anchor(sc.name)}"><code>{_h(sc.name)}</code></a> / {_h(step)}: '
        f"{_h(describe_call(p))} {_pill(p.verdict)}<br>"
        f'<span class="finding">{_h(p.model_finding)}</span></li>'
        for sc, step, p in model_findings(run)
    )
    body = (
        f"<ul>{items}</ul>"
        if items
        else ('<p class="muted">None: every observation agrees with the model\'s prediction.</p>')
    )
    return (
        f'<h2>Model findings</h2><p class="muted">Model findings are {_h(MODEL_FINDINGS_NOTE)}.'
        f"</p>{body}"
    )


def render_html(run: RunResult, *, label: str | None = None) -> str:
    """One self-contained page: inline CSS, no scripts, no external resources.

    `label`: a banner above everything, e.g. that the page shows fixture data.
    """
    s = summarize(run)
    badges = "".join(
        f'<div class="badge {cls}"><b>{n}</b>{label}</div>'
        for cls, n, label in (
            ("total", s.scenarios, "scenarios"),
            ("pass", s.passed, "passed"),
            ("fail", s.failed, "failed"),
            ("skipped", s.skipped, "skipped"),
            ("error", s.errors, "errors"),
            *((("model", s.model_findings, "model findings"),) if s.model_findings else ()),
        )
    )
    when = ""
    if run.started_at or run.finished_at:
        when = f"<br>started {_h(run.started_at)} · finished {_h(run.finished_at)}"
    scenarios = "".join(_html_scenario(sc) for sc in run.scenarios)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>ambient-harness report</title>"
        f"<style>{_CSS}</style></head><body><main>"
        f"{_label(label)}"
        "<h1>ambient-harness conformance report</h1>"
        f'<p class="env">{_h(environment_line(run.environment))}{when}</p>'
        f'<div class="badges">{badges}</div>'
        "<h2>Conformance matrix</h2>"
        f"{_html_matrix(run)}"
        f"{_html_model_findings(run)}"
        "<h2>Sidecar vs ambient: same policy, different enforcement point</h2>"
        f"{_html_comparison(run)}"
        "<h2>Scenarios</h2>"
        f"{scenarios or '<p class=muted>No scenarios ran.</p>'}"
        "</main></body></html>\n"
    )
