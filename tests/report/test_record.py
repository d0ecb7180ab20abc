"""What a run records of its scenario, and every probe table showing method, headers, identity.

Issue 14: `sidecar-authz-l7` showed three identical rows `productpage → ratings:9080/ratings/1`
(allowed / denied-l7 / denied-l7) because request headers were not shown; and a replay needs
the scenario's words and manifests in the report.
"""

from __future__ import annotations

import io
from pathlib import Path

from helpers import SCENARIOS
from rich.console import Console

from harness.cli.demo_tables import probe_table
from harness.judge.enforcement import scenario_attribution
from harness.model.outcome import Outcome
from harness.model.results import Environment, ProbeResult, RunResult, ScenarioResult
from harness.model.scenario import Scenario, load_scenario
from harness.report.document import load_json_report, write_json_report
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.report.summary import failure_summary
from harness.run.dryrun import DryRunOps, PlanChecker, Printer
from harness.run.events import RunObserver
from harness.run.runner import Runner

PRINCIPAL = "cluster.local/ns/sidecar-authz-l7/sa/bookinfo-productpage"


def recorded(scenario: Scenario) -> ScenarioResult:
    """The scenario through the real Runner, on the dry run's ops (nothing is sent)."""
    printer = Printer(io.StringIO())
    ops = DryRunOps(printer, kubectl=Path("kubectl"))
    return Runner(ops, PlanChecker(printer), RunObserver()).run(scenario)


def test_a_run_records_what_a_replay_needs(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIOS / "sidecar-authz-l7")
    result = recorded(scenario)
    assert result.description == scenario.description
    assert result.references == scenario.references
    step, sr = scenario.steps[0], result.steps[0]
    assert sr.narrative == step.narrative and sr.narrative
    assert sr.manifests == {p: scenario.manifest_path(p).read_text() for p in step.apply}
    assert [p.identity for p in sr.probes][:3] == [PRINCIPAL] * 3
    assert {p.waypoint for p in sr.probes} == {False}
    # ... and the JSON report keeps all of it.
    path = tmp_path / "report.json"
    write_json_report(RunResult(Environment(provider="kind"), [result]), path)
    assert load_json_report(path).scenarios[0] == result


def _failed(result: ScenarioResult) -> ScenarioResult:
    for st in result.steps:
        st.skipped_reason = None
        for p in st.probes:
            p.verdict = "fail"
            p.observations = [Outcome(status=200, served_by="ratings-v1", l7=True)]
    return result


def test_every_probe_table_tells_the_three_productpage_probes_apart() -> None:
    scenario = load_scenario(SCENARIOS / "sidecar-authz-l7")
    result = _failed(recorded(scenario))
    probes: list[ProbeResult] = result.steps[0].probes[:3]
    run = RunResult(Environment(provider="kind"), [result])
    summary, md, page = failure_summary(run), render_markdown(run), render_html(run)
    for header in ("X-Test: istio-is-cool", "X-Test: not-istio"):
        assert f"→ GET http://ratings:9080/ratings/1 [{header}]" in summary
        assert f"productpage → ratings:9080/ratings/1 [{header}] as " in md
        assert f"<br>{header}" in page.replace('<span class="hdrs">', "")
    assert summary.count("as: ns/sidecar-authz-l7/sa/bookinfo-productpage") == 3
    # The failure list and the probe table each tell the three apart by header and identity.
    assert md.count("as ns/sidecar-authz-l7/sa/bookinfo-productpage") == 6
    for header in ("[X-Test: istio-is-cool]", "[X-Test: not-istio]"):
        row = f"| l7-policy | productpage → ratings:9080/ratings/1 {header} as ns/sidecar-authz-l7/"
        assert row in md
    assert page.count("as ns/sidecar-authz-l7/sa/bookinfo-productpage") == 3
    console = Console(file=io.StringIO(), width=400, color_system=None)  # no cell wraps
    console.print(probe_table(probes, lambda p: scenario_attribution(scenario, p)))
    home = Console(file=io.StringIO(), width=400, color_system=None)
    home.print(probe_table(probes, lambda p: scenario_attribution(scenario, p), scenario.name))
    assert home.file.getvalue().count("as bookinfo-productpage") == 3  # type: ignore[attr-defined]
    table = console.file.getvalue()  # type: ignore[attr-defined]
    assert "productpage → ratings:9080/ratings/1 [X-Test: istio-is-cool]" in table
    assert "productpage → ratings:9080/ratings/1 [X-Test: not-istio]" in table
    assert table.count("as sidecar-authz-l7/bookinfo-productpage") == 3  # no home namespace


def test_the_method_is_shown_when_it_is_not_get() -> None:
    scenario = load_scenario(SCENARIOS / "sidecar-authz-l7")
    result = _failed(recorded(scenario))
    p = result.steps[0].probes[0]
    p.method = "POST"
    run = RunResult(Environment(provider="kind"), [result])
    assert "productpage → POST ratings:9080/ratings/1 [X-Test: istio-is-cool]" in (
        render_markdown(run)
    )
    assert "productpage → POST http://ratings:9080/ratings/1" in failure_summary(run)
