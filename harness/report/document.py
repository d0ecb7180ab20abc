"""Reports of a run: the JSON document, Markdown and HTML renderings, and terminal summaries.

The JSON report is the machine-readable record (`harness/report/report_schema.json` describes it);
Markdown and HTML are rendered from it, so `ambient-harness report run.json` works on any
machine without the cluster that produced it. Everything here is plain Python: the runtime
needs neither jsonschema nor a browser.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from harness.judge.enforcement import NOT_APPLICABLE, enforcement_point
from harness.model.outcome import Outcome, ProbeError
from harness.model.results import (
    Environment,
    ProbeResult,
    RunResult,
    ScenarioResult,
    StepResult,
    Verdict,
)

SCHEMA_VERSION: Final = 1
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
VERDICTS: Final[tuple[Verdict, ...]] = ("pass", "fail", "skipped", "error")
SYMBOL: Final[dict[str, str]] = {"pass": "✔", "fail": "✘", "skipped": "○", "error": "!"}
MATRIX_HEADER: Final = (
    "Scenario",
    "Data plane",
    "Verdict",
    "Steps passed",
    "Time to consistency (max)",
    "Duration",
)
COMPARISON_HEADER: Final = (
    "Step",
    "Client → destination",
    "Sidecar",
    "Enforced by",
    "Ambient",
    "Enforced by",
)
MD_VERDICT: Final[dict[str, str]] = {
    "pass": "✅ pass",
    "fail": "❌ fail",
    "skipped": "⏭️ skipped",
    "error": "⚠️ error",
}


class ReportError(ValueError):
    """A file that is not a readable ambient-harness JSON report."""


# --- JSON ----------------------------------------------------------------------------------------


def _observation_dict(o: Outcome) -> dict[str, Any]:
    return {
        "kind": o.kind.value,
        "status": o.status,
        "probe_error": o.probe_error.value if o.probe_error else None,
        "served_by": o.served_by,
        "l7": o.l7,
        "elapsed_ms": o.elapsed_ms,
        "body_excerpt": o.body_excerpt,
        "attempt": o.attempt,
        "detail": o.detail,
    }


def _probe_dict(p: ProbeResult) -> dict[str, Any]:
    return {
        "client": p.client,
        "method": p.method,
        "url": p.url,
        "headers": dict(p.headers),
        "expect": dict(p.expect),
        "verdict": p.verdict,
        "attempts": p.attempts,
        "time_to_consistency_s": p.time_to_consistency_s,
        "split_counts": dict(p.split_counts) if p.split_counts is not None else None,
        "message": p.message,
        "note": p.note,
        "observations": [_observation_dict(o) for o in p.observations],
    }


def _step_dict(s: StepResult) -> dict[str, Any]:
    return {
        "name": s.name,
        "title": s.title,
        "verdict": s.verdict,
        "duration_s": s.duration_s,
        "applied": list(s.applied),
        "deleted": list(s.deleted),
        "error": s.error,
        "skipped_reason": s.skipped_reason,
        "probes": [_probe_dict(p) for p in s.probes],
    }


def _scenario_dict(s: ScenarioResult) -> dict[str, Any]:
    return {
        "name": s.name,
        "title": s.title,
        "dataplane": s.dataplane,
        "verdict": s.verdict,
        "duration_s": s.duration_s,
        "error": s.error,
        "skipped_reason": s.skipped_reason,
        "steps": [_step_dict(st) for st in s.steps],
    }


@dataclass(frozen=True)
class Summary:
    scenarios: int
    passed: int
    failed: int
    skipped: int
    errors: int


def summarize(run: RunResult) -> Summary:
    verdicts = [s.verdict for s in run.scenarios]
    return Summary(
        scenarios=len(verdicts),
        passed=verdicts.count("pass"),
        failed=verdicts.count("fail"),
        skipped=verdicts.count("skipped"),
        errors=verdicts.count("error"),
    )


def run_to_dict(run: RunResult) -> dict[str, Any]:
    """The JSON report as Python data (shape: harness/report/report_schema.json)."""
    s = summarize(run)
    return {
        "schema_version": SCHEMA_VERSION,
        "environment": {f: getattr(run.environment, f) for f in ENVIRONMENT_FIELDS},
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "summary": {
            "scenarios": s.scenarios,
            "passed": s.passed,
            "failed": s.failed,
            "skipped": s.skipped,
            "errors": s.errors,
        },
        "scenarios": [_scenario_dict(sc) for sc in run.scenarios],
    }


def write_json_report(run: RunResult, path: Path) -> None:
    """Write the report atomically: a reader never sees half a file."""
    _write_atomic(path, json.dumps(run_to_dict(run), indent=2, ensure_ascii=False) + "\n")


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _observation(d: Mapping[str, Any]) -> Outcome:
    # `kind` is derived from the other fields, so it is not read back.
    error = d["probe_error"]
    attempt = d.get("attempt")
    return Outcome(
        status=int(d["status"]),
        probe_error=ProbeError(error) if error is not None else None,
        served_by=d.get("served_by"),
        l7=bool(d["l7"]),
        elapsed_ms=float(d["elapsed_ms"]),
        body_excerpt=str(d.get("body_excerpt", "")),
        attempt=int(attempt) if attempt is not None else None,
        detail=str(d.get("detail", "")),
    )


def _probe(d: Mapping[str, Any]) -> ProbeResult:
    verdict = d["verdict"]
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}")
    ttc = d.get("time_to_consistency_s")
    counts = d.get("split_counts")
    return ProbeResult(
        client=str(d["client"]),
        method=str(d["method"]),
        url=str(d["url"]),
        headers={str(k): str(v) for k, v in d.get("headers", {}).items()},
        expect=dict(d["expect"]),
        verdict=verdict,
        attempts=int(d.get("attempts", 0)),
        time_to_consistency_s=float(ttc) if ttc is not None else None,
        split_counts={str(k): int(v) for k, v in counts.items()} if counts is not None else None,
        message=str(d.get("message", "")),
        note=d.get("note"),
        observations=[_observation(o) for o in d.get("observations", [])],
    )


def _step(d: Mapping[str, Any]) -> StepResult:
    return StepResult(
        name=str(d["name"]),
        title=str(d["title"]),
        applied=[str(x) for x in d.get("applied", [])],
        deleted=[str(x) for x in d.get("deleted", [])],
        probes=[_probe(p) for p in d.get("probes", [])],
        duration_s=float(d.get("duration_s", 0.0)),
        error=d.get("error"),
        skipped_reason=d.get("skipped_reason"),
    )


def _scenario(d: Mapping[str, Any]) -> ScenarioResult:
    return ScenarioResult(
        name=str(d["name"]),
        title=str(d["title"]),
        dataplane=str(d["dataplane"]),
        steps=[_step(s) for s in d.get("steps", [])],
        duration_s=float(d.get("duration_s", 0.0)),
        error=d.get("error"),
        skipped_reason=d.get("skipped_reason"),
    )


def run_from_dict(data: Any) -> RunResult:
    """The inverse of `run_to_dict`; raises ReportError on anything else."""
    if not isinstance(data, dict):
        raise ReportError("a report is a JSON object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ReportError(f"schema_version {version!r} is not supported (expected 1)")
    try:
        env = data["environment"]
        environment = Environment(**{f: env.get(f) for f in ENVIRONMENT_FIELDS})
        if not environment.provider:
            raise ValueError("environment.provider is missing")
        return RunResult(
            environment=environment,
            scenarios=[_scenario(s) for s in data["scenarios"]],
            started_at=str(data.get("started_at", "")),
            finished_at=str(data.get("finished_at", "")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ReportError(f"not an ambient-harness report: {what}") from None


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


# --- words shared by every rendering -------------------------------------------------------------


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe_expected(expect: Mapping[str, Any]) -> str:
    """`{"outcome": "allowed", "l7": False}` -> `allowed, L4 only`."""
    parts: list[str] = []
    if "outcome" in expect:
        parts.append(str(expect["outcome"]))
    if "status" in expect:
        parts.append(f"status {expect['status']}")
    if "served_by" in expect:
        parts.append(f"served by {expect['served_by']}")
    if "split" in expect:
        weights = " / ".join(f"{k} {_num(v)}%" for k, v in expect["split"].items())
        tolerance = expect.get("tolerance")
        parts.append(f"split {weights}" + (f" (±{_num(tolerance)})" if tolerance else ""))
    if "l7" in expect:
        parts.append("L7" if expect["l7"] else "L4 only")
    for key, label in (("headers", "header"), ("backend_saw", "backend saw")):
        for name, value in (expect.get(key) or {}).items():
            parts.append(f"{label} {name}: {value}")
    if "attempts" in expect:
        parts.append(f"{expect['attempts']} attempt(s) at the backend")
    return ", ".join(parts) or "?"


def describe_split(counts: Mapping[str, int]) -> str:
    """`{"reviews-v1": 180, "reviews-v2": 20}` -> `v1 90% / v2 10% (n=200)`."""
    total = sum(counts.values())
    if total == 0:
        return "no samples"
    prefixes = {name.rsplit("-", 1)[0] for name in counts if "-" in name}
    strip = len(prefixes) == 1 and all("-" in name for name in counts)

    def label(name: str) -> str:
        return name.rsplit("-", 1)[1] if strip else name

    shares = " / ".join(f"{label(k)} {100 * v / total:.0f}%" for k, v in sorted(counts.items()))
    return f"{shares} (n={total})"


def describe_observed(p: ProbeResult) -> str:
    """What was seen last, in the outcome vocabulary; a split shows its distribution."""
    if p.split_counts:
        return describe_split(p.split_counts)
    if not p.observations:
        return NOT_APPLICABLE
    obs = p.observations[-1]
    text = obs.describe()
    if "l7" in p.expect and obs.probe_error is None:
        text += ", L7" if obs.l7 else ", L4 only"
    if "attempts" in p.expect and obs.attempt is not None:
        text += f", {obs.attempt} attempt(s)"
    return text


def describe_target(p: ProbeResult) -> str:
    """`productpage → ratings:9080/ratings/1` (the method only when it is not GET)."""
    target = p.url.removeprefix("http://")
    method = "" if p.method == "GET" else f"{p.method} "
    return f"{p.client} → {method}{target}"


def seconds(value: float | None) -> str:
    return NOT_APPLICABLE if value is None else f"{value:.1f} s"


def scenario_duration(s: ScenarioResult) -> str:
    return NOT_APPLICABLE if s.verdict == "skipped" else seconds(s.duration_s)


def _probes(s: ScenarioResult) -> list[ProbeResult]:
    return [p for st in s.steps for p in st.probes]


def max_time_to_consistency(s: ScenarioResult) -> float | None:
    values = [p.time_to_consistency_s for p in _probes(s) if p.time_to_consistency_s is not None]
    return max(values) if values else None


def steps_passed(s: ScenarioResult) -> str:
    if not s.steps:
        return NOT_APPLICABLE
    return f"{sum(st.verdict == 'pass' for st in s.steps)}/{len(s.steps)}"


def environment_line(env: Environment) -> str:
    parts = [f"provider {env.provider}"]
    for label, value in (
        ("Kubernetes", env.kubernetes_version),
        ("Istio", env.istio_version),
        ("Gateway API", env.gateway_api_version),
        ("kind", env.kind_version),
        ("node", env.node_image),
        ("context", env.context),
    ):
        if value:
            parts.append(f"{label} {value}")
    return " · ".join(parts)


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def summary_line(s: Summary) -> str:
    return (
        f"{s.scenarios} scenarios: {s.passed} passed, {s.failed} failed, "
        f"{s.skipped} skipped, {plural(s.errors, 'error')}"
    )


# --- sidecar/ambient pairs -----------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """`sidecar-X` and `ambient-X`: the same policy on both data planes."""

    topic: str
    sidecar: ScenarioResult
    ambient: ScenarioResult


@dataclass(frozen=True)
class ComparisonRow:
    step: str
    target: str
    sidecar: ProbeResult | None
    ambient: ProbeResult | None


def pair_scenarios(scenarios: Sequence[ScenarioResult]) -> list[Pair]:
    """Pairs by name, in the order the sidecar scenarios appear."""
    ambient = {
        s.name.removeprefix("ambient-"): s for s in scenarios if s.name.startswith("ambient-")
    }
    pairs = []
    for s in scenarios:
        topic = s.name.removeprefix("sidecar-")
        if s.name.startswith("sidecar-") and topic in ambient:
            pairs.append(Pair(topic, s, ambient[topic]))
    return pairs


def _probe_key(p: ProbeResult) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    return (p.client, p.method, p.url, tuple(sorted(p.headers.items())))


def _match_probes(
    step: str, left: list[ProbeResult], right: list[ProbeResult]
) -> list[ComparisonRow]:
    rows: list[ComparisonRow] = []
    remaining = list(right)
    for p in left:
        match = next((q for q in remaining if _probe_key(q) == _probe_key(p)), None)
        if match is not None:
            remaining.remove(match)
        rows.append(ComparisonRow(step, describe_target(p), p, match))
    rows += [ComparisonRow(step, describe_target(q), None, q) for q in remaining]
    return rows


def comparison_rows(pair: Pair) -> list[ComparisonRow]:
    """Steps of the same name side by side, probes matched by client and request.

    When the two scenarios share no step name, their last probing steps are compared.
    """
    ambient_steps = {st.name: st for st in pair.ambient.steps}
    rows: list[ComparisonRow] = []
    for st in pair.sidecar.steps:
        if st.name in ambient_steps:
            rows += _match_probes(st.name, st.probes, ambient_steps[st.name].probes)
    if rows:
        return rows
    left = [st for st in pair.sidecar.steps if st.probes]
    right = [st for st in pair.ambient.steps if st.probes]
    if not (left and right):
        return []
    name = (
        left[-1].name if left[-1].name == right[-1].name else f"{left[-1].name} / {right[-1].name}"
    )
    return _match_probes(name, left[-1].probes, right[-1].probes)


@dataclass(frozen=True)
class Cell:
    """One side of a comparison row: what was seen, who decided, and a miss if it failed."""

    observed: str
    enforced_by: str
    miss: str = ""  # "✘ expected denied-l7" when the probe did not pass

    @property
    def text(self) -> str:
        return f"{self.observed} {self.miss}" if self.miss else self.observed


def comparison_cell(p: ProbeResult | None, dataplane: str) -> Cell:
    if p is None:
        return Cell(NOT_APPLICABLE, NOT_APPLICABLE)
    miss = (
        "" if p.verdict == "pass" else f"{SYMBOL[p.verdict]} expected {describe_expected(p.expect)}"
    )
    return Cell(describe_observed(p), enforcement_point(dataplane, p), miss)


# --- terminal ------------------------------------------------------------------------------------


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
                lines.append(f"    {SYMBOL[p.verdict]} {p.client} → {p.method} {p.url}")
                lines.append(f"        expected: {describe_expected(p.expect)}")
                lines.append(
                    f"        observed: {describe_observed(p)} "
                    f"({p.attempts} request(s); {enforcement_point(s.dataplane, p)})"
                )
                lines += [f"        {line}" for line in p.message.splitlines() if line.strip()]
    if not lines:
        return ""
    failed = sum(s.verdict in ("fail", "error") for s in run.scenarios)
    return f"{failed} of {len(run.scenarios)} scenarios did not pass:\n" + "\n".join(lines)


def junit_properties(env: Environment) -> list[tuple[str, str]]:
    """Test-suite properties for JUnit XML: where the run happened (unset fields left out)."""
    return [(f, str(v)) for f in ENVIRONMENT_FIELDS if (v := getattr(env, f)) is not None]


# --- Markdown ------------------------------------------------------------------------------------


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
        f"{plural(s.errors, 'error')} — {s.scenarios} scenarios",
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
                rows.append([r.step, r.target, sc_.text, sc_.enforced_by, am.text, am.enforced_by])
            out += _md_table(
                COMPARISON_HEADER,
                rows,
            )
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
                f"- **{_md(sc.name)}** / {_md(st.name)}: {_md(describe_target(p))}: "
                f"expected *{_md(describe_expected(p.expect))}*, "
                f"observed *{_md(describe_observed(p))}*"
            )
    return "\n".join(out) + "\n"


# --- HTML ----------------------------------------------------------------------------------------

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
"""


def _h(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pill(verdict: str) -> str:
    return f'<span class="pill {_h(verdict)}">{_h(SYMBOL[verdict])} {_h(verdict)}</span>'


def _anchor(name: str) -> str:
    return "scenario-" + "".join(c if c.isalnum() or c == "-" else "_" for c in name)


# Column widths in per cent, so that the tables of different steps and pairs line up.
_CMP_WIDTHS: Final = (10, 22, 17, 17, 17, 17)
_PROBE_WIDTHS: Final = (24, 14, 18, 8, 18, 8, 10)
PROBE_HEADER: Final = (
    "Client → destination",
    "Expected",
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
            rows.append(f"<tr><td>{_h(r.step)}</td><td>{_h(r.target)}</td>{cells}</tr>")
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
    row = (
        f'<tr class="{"failed" if failed else ""}">'
        f"<td>{_h(describe_target(p))}{_html_headers(p.headers)}</td>"
        f"<td>{_h(describe_expected(p.expect))}</td>"
        f"<td>{_h(describe_observed(p))}</td>"
        f"<td>{_pill(p.verdict)}</td>"
        f'<td class="by">{_h(enforcement_point(sc.dataplane, p))}</td>'
        f'<td class="num">{_h(p.attempts)}</td>'
        f'<td class="num">{_h(seconds(p.time_to_consistency_s))}</td>'
        "</tr>"
    )
    extra = []
    if p.note:
        extra.append(f'<p class="muted">Note: {_h(p.note)}</p>')
    if failed:
        extra.append(
            f'<p><b>Expected</b> <span class="expected">{_h(describe_expected(p.expect))}</span>'
            f' — <b>observed</b> <span class="observed">{_h(describe_observed(p))}</span></p>'
        )
        if p.message:
            extra.append(f"<pre>{_h(p.message)}</pre>")
        if p.observations:
            seen = "".join(f"<li>{_h(_observation_line(o))}</li>" for o in p.observations)
            extra.append(f"<p>Last observations, newest last:</p><ol>{seen}</ol>")
    if extra:
        row += (
            f'<tr class="{"failed" if failed else ""}"><td colspan="7">{"".join(extra)}</td></tr>'
        )
    return row


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


def render_html(run: RunResult) -> str:
    """One self-contained page: inline CSS, no scripts, no external resources."""
    s = summarize(run)
    badges = "".join(
        f'<div class="badge {cls}"><b>{n}</b>{label}</div>'
        for cls, n, label in (
            ("total", s.scenarios, "scenarios"),
            ("pass", s.passed, "passed"),
            ("fail", s.failed, "failed"),
            ("skipped", s.skipped, "skipped"),
            ("error", s.errors, "errors"),
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
        "<h1>ambient-harness conformance report</h1>"
        f'<p class="env">{_h(environment_line(run.environment))}{when}</p>'
        f'<div class="badges">{badges}</div>'
        "<h2>Conformance matrix</h2>"
        f"{_html_matrix(run)}"
        "<h2>Sidecar vs ambient: same policy, different enforcement point</h2>"
        f"{_html_comparison(run)}"
        "<h2>Scenarios</h2>"
        f"{scenarios or '<p class=muted>No scenarios ran.</p>'}"
        "</main></body></html>\n"
    )


# --- CLI -----------------------------------------------------------------------------------------


def report_command(args: argparse.Namespace) -> int:
    """`ambient-harness report PATH [--format markdown|html] [-o FILE]`."""
    try:
        run = load_json_report(Path(args.path))
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = render_html(run) if args.format == "html" else render_markdown(run)
    if args.output is None:
        sys.stdout.write(text)
    else:
        _write_atomic(Path(args.output), text)
    return 0
