"""Model findings: each probe's observation against the mesh model's prediction, judged by the
real runner on scripted outcomes (tests/fakes/scripted_cluster.py), beside pass/fail."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Mapping
from html import escape as html_escape
from pathlib import Path

import pytest
from fakes.scripted_cluster import ALLOWED, RESET, FakeClock, Recorder, Script, ScriptedOps

from harness.judge.split import SplitCheck, run_split
from harness.model.outcome import RBAC_DENIED_BODY, Outcome, ProbeError
from harness.model.results import (
    Environment,
    PredictedOutcome,
    ProbeResult,
    RunResult,
    ScenarioResult,
)
from harness.model.scenario import Probe, Scenario, load_scenario
from harness.report.document import load_json_report, run_to_dict
from harness.run.checker import EventuallyChecker
from harness.run.findings import ProbePrediction, as_expectation, model_check
from harness.run.runner import Runner

POLICY = """\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ratings-allow-a
  namespace: mf
spec:
  selector:
    matchLabels:
      app: ratings
  action: ALLOW
  rules:
    - from:
        - source:
            principals: [cluster.local/ns/mf/sa/bookinfo-a]
"""

SCENARIO = """\
name: mf
title: model findings
description: d
dataplane: ambient
namespaces:
  - name: mf
backends:
  - service: ratings
clients:
  - name: a
  - name: b
steps:
  - name: policy
    title: only a may call ratings
    apply: [manifests/policy.yaml]
    probes:
      - from: a
        url: http://ratings:9080/ratings/1
        expect: allowed
      - from: b
        url: http://ratings:9080/ratings/1
        expect: {expect_b}
        timing: {{budget: 2}}
{gap}  - name: later
    title: later
    probes:
      - from: a
        url: http://ratings:9080/ratings/1
        expect: allowed
"""

DENIED_L7 = Outcome(status=403, body_excerpt=RBAC_DENIED_BODY, l7=True)


def scenario(root: Path, expect_b: str = "denied-l4", gap: str | None = None) -> Scenario:
    d = root / "mf"
    (d / "manifests").mkdir(parents=True)
    (d / "manifests" / "policy.yaml").write_text(POLICY)
    gap_line = f"        model_gap: {json.dumps(gap)}\n" if gap else ""
    (d / "scenario.yaml").write_text(SCENARIO.format(expect_b=expect_b, gap=gap_line))
    return load_scenario(d)


def b_sees(outcome: Outcome) -> Script:
    def script(client: str, headers: Mapping[str, str], since: float | None) -> Outcome:
        return outcome if client == "b" else ALLOWED

    return script


def run(s: Scenario, script: Script) -> ScenarioResult:
    clock = FakeClock()
    checker = EventuallyChecker(clock=clock, sleep=clock.sleep)
    return Runner(ScriptedOps(clock, script), checker, Recorder(), clock=clock).run(s)


def test_agreement_is_no_finding(tmp_path: Path) -> None:
    result = run(scenario(tmp_path), b_sees(RESET))
    assert result.verdict == "pass"
    b = result.steps[0].probes[1]
    assert b.predicted is not None and b.predicted.outcome == "denied-l4"
    assert b.predicted.enforced_by == "destination ztunnel"
    assert "AuthorizationPolicy mf/ratings-allow-a" in b.predicted.because
    assert [p.model.verdict for st in result.steps for p in st.probes if p.model] == ["agrees"] * 3
    assert result.model_findings == 0


def test_istio_doing_what_neither_expected_is_a_finding_and_the_fail_stays(tmp_path: Path) -> None:
    # The policy is ignored: b is allowed. The scenario and the model both said denied-l4.
    result = run(scenario(tmp_path), b_sees(ALLOWED))
    b = result.steps[0].probes[1]
    assert b.verdict == "fail" and result.verdict == "fail"  # as judged, nothing more
    assert b.model is not None and b.model.verdict == "disagrees"
    assert b.model.finding is not None
    assert b.model.finding.startswith(
        "model: predicted denied-l4 at destination ztunnel (AuthorizationPolicy mf/ratings-allow-a"
    )
    assert b.model.finding.endswith(
        "observed allowed (200, ratings-v1); neither the scenario nor the model expected this"
    )
    assert b.model.differences == ["predicted denied-l4, saw allowed (200, ratings-v1)"]
    assert result.model_findings == 1
    # The step after the failed one did not run: predicted, but nothing observed, no finding.
    later = result.steps[1].probes[0]
    assert later.verdict == "skipped" and later.predicted is not None
    assert later.model is not None and later.model.verdict == "unobserved"


def test_a_model_gap_probe_that_passes_is_a_finding(tmp_path: Path) -> None:
    reason = "checking whether a future ztunnel answers L4 denials with an HTTP 403"
    result = run(scenario(tmp_path, "denied-l7", reason), b_sees(DENIED_L7))
    b = result.steps[0].probes[1]
    assert b.verdict == "pass" and result.verdict == "pass"
    assert b.model is not None and b.model.verdict == "disagrees"
    assert b.model.model_gap == reason
    assert b.model.finding == (
        "model: predicted denied-l4 at destination ztunnel "
        f"({b.predicted.because if b.predicted else ''}), observed denied-l7 (403 "
        f"{RBAC_DENIED_BODY}); the scenario acknowledges this gap: {reason}"
    )
    assert result.model_findings == 1


def test_an_agent_error_is_no_observation_of_istio(tmp_path: Path) -> None:
    broken = Outcome(status=502, probe_error=ProbeError.ERROR, detail="agent: bad request")
    result = run(scenario(tmp_path), b_sees(broken))
    b = result.steps[0].probes[1]
    assert b.verdict == "fail"
    assert b.model is not None and b.model.verdict == "unobserved" and b.model.finding is None


def test_a_probe_that_could_not_run_has_no_finding(tmp_path: Path) -> None:
    s = scenario(tmp_path)
    clock = FakeClock()
    ops = ScriptedOps(clock, b_sees(RESET))
    ops.unreachable.add("b")
    checker = EventuallyChecker(clock=clock, sleep=clock.sleep)
    result = Runner(ops, checker, Recorder(), clock=clock).run(s)
    b = result.steps[0].probes[1]
    assert b.verdict == "error"
    assert b.model is not None and b.model.verdict == "unobserved"


def test_the_json_report_carries_expect_predicted_observed_and_model(tmp_path: Path) -> None:
    result = run(scenario(tmp_path), b_sees(ALLOWED))
    data = run_to_dict(RunResult(Environment("kind"), [result]))
    assert data["summary"]["model_findings"] == 1
    b = data["scenarios"][0]["steps"][0]["probes"][1]
    assert b["expect"] == {"outcome": "denied-l4"}
    assert set(b["predicted"]) == {"outcome", "path", "enforced_by", "because"}  # no nulls
    assert b["predicted"]["outcome"] == "denied-l4"
    assert b["observed"] == {
        "outcome": "allowed", "status": 200, "served_by": "ratings-v1", "l7": False
    }  # fmt: skip
    assert b["model"]["verdict"] == "disagrees"
    assert b["model"]["finding"].startswith("model: predicted denied-l4 at destination ztunnel")
    a = data["scenarios"][0]["steps"][0]["probes"][0]
    assert a["predicted"] == {
        "outcome": "allowed",
        "status": 200,
        "served_by": "ratings-v1",
        "l7": False,
        "path": a["predicted"]["path"],
        "enforced_by": "destination ztunnel",
        "because": a["predicted"]["because"],
    }
    assert a["model"] == {
        "verdict": "agrees",
        "finding": None,
        "differences": [],
        "model_gap": None,
    }
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    back = load_json_report(path)
    assert back.scenarios[0].steps[0].probes == result.steps[0].probes
    assert back.model_findings == 1


def test_a_report_without_predictions_still_loads() -> None:
    old = Path(__file__).resolve().parents[1] / "fixtures" / "report-v2.json"
    assert json.loads(old.read_text())["schema_version"] == 2
    run_ = load_json_report(old)
    probes = [p for sc in run_.scenarios for st in sc.steps for p in st.probes]
    assert probes and all(p.predicted is None and p.model is None for p in probes)
    assert run_.model_findings == 0
    assert run_to_dict(run_)["summary"]["model_findings"] == 0


# --- the comparison, field by field ---------------------------------------------------------


def _probe(expect: object) -> Probe:
    return Probe.model_validate({"from": "a", "url": "http://reviews:9080/", "expect": expect})


def _check(predicted: PredictedOutcome, result: ProbeResult, probe: Probe) -> list[str]:
    return model_check(result, probe, ProbePrediction(predicted, True, None)).differences


def _result(probe: Probe, obs: list[Outcome], counts: dict[str, int] | None = None) -> ProbeResult:
    return ProbeResult(
        client="a", method="GET", url=probe.url, expect=probe.expect, verdict="pass",
        observations=obs, split_counts=counts,
    )  # fmt: skip


def test_every_predicted_field_is_compared_in_the_judge_s_words() -> None:
    p = PredictedOutcome(
        "status", "backend ratings-v1", "retries", status=503, served_by="ratings-v1", l7=True,
        attempts=4, headers={"x-route": "r"},
    )  # fmt: skip
    expect = as_expectation(p)
    assert (expect.outcome, expect.status, expect.attempts) == (None, 503, 4)
    probe = _probe({"status": 503})
    seen = Outcome(503, served_by="ratings-v1", l7=True, attempt=1, headers={"x-route": "r"})
    assert _check(p, _result(probe, [seen]), probe) == ["predicted attempts 4, saw 1"]
    right = Outcome(503, served_by="ratings-v1", l7=True, attempt=4, headers={"x-route": "r"})
    assert _check(p, _result(probe, [seen, right]), probe) == []  # the newest observation


def test_an_uncertain_prediction_claims_nothing() -> None:
    p = PredictedOutcome("allowed", "waypoint", "CUSTOM", uncertain="a CUSTOM authorizer decides")
    probe = _probe("allowed")
    check = model_check(_result(probe, [RESET]), probe, ProbePrediction(p, True, None))
    assert check.verdict == "uncertain" and check.finding is None


SPLIT = {"v1": 90.0, "v2": 10.0}


def test_a_split_is_judged_against_the_predicted_weights() -> None:
    probe = _probe({"split": SPLIT})
    sample = [Outcome(200, served_by="reviews-v1", l7=True)]
    as_declared = PredictedOutcome("allowed", "waypoint", "route", split=SPLIT, l7=True)
    counts = {"reviews-v1": 181, "reviews-v2": 19}
    assert _check(as_declared, _result(probe, sample, counts), probe) == []
    even = PredictedOutcome("allowed", "waypoint", "route", split={"v1": 50.0, "v2": 50.0})
    (difference,) = _check(even, _result(probe, sample, counts), probe)
    assert difference.startswith("predicted split v1 50 / v2 50 ±5, saw v1 90% / v2 10% (n=200)")
    only_v1 = PredictedOutcome("allowed", "waypoint", "route", served_by="reviews-v1")
    (difference,) = _check(only_v1, _result(probe, sample, counts), probe)
    assert difference == (
        "predicted split reviews-v1 100 ±5, saw v1 90% / v2 10% (n=200): "
        "unexpected backend reviews-v2 served 19 request(s)"
    )
    denied = PredictedOutcome("denied-l7", "waypoint", "ALLOW: no rule matches", status=403)
    assert _check(denied, _result(probe, sample, counts), probe)[0] == (
        "predicted denied-l7, saw 200 of 200 samples served (v1 90% / v2 10% (n=200))"
    )
    with_denials = {"reviews-v1": 170, "reviews-v2": 20, "denied-l4 (reset)": 10}
    (difference,) = _check(as_declared, _result(probe, sample, with_denials), probe)
    assert "a sample was not served by a backend: denied-l4 (reset)" in difference
    no_l7 = [Outcome(200, served_by="reviews-v1", l7=False)] * 3
    assert _check(as_declared, _result(probe, no_l7, counts), probe) == [
        "3 of the 3 kept samples: predicted l7 true, saw l7 false"
    ]


def _sampled(
    truth: dict[str, float],
    declared: dict[str, float],
    predicted: dict[str, float],
    rng: random.Random,
) -> bool:
    """One split probe sampled as the checker does (until the declared check decides), then
    judged against the model: is there a finding?"""
    # The draws of rng.choices(names, weights), cheaper per sample: the cumulative weights
    # it would build each time, and one (immutable) Outcome per backend.
    outcomes = [Outcome(200, served_by=f"reviews-{name}") for name in truth]
    cum_weights = list(itertools.accumulate(truth.values()))
    check = SplitCheck(declared, 0.05)

    def sample() -> Outcome:
        return rng.choices(outcomes, cum_weights=cum_weights)[0]

    run_split(sample, check)
    probe = _probe({"split": declared})
    model = PredictedOutcome("allowed", "waypoint", "route", split=predicted)
    counts = {f"reviews-{k}": v for k, v in check.counts.items()}
    return bool(_check(model, _result(probe, [], counts), probe))


NINETY_TEN = {"v1": 90.0, "v2": 10.0}


@pytest.mark.parametrize(
    "declared", [NINETY_TEN, {"v1": 80.0, "v2": 20.0}, {"v1": 50.0, "v2": 50.0}]
)
def test_a_false_split_finding_is_rare_when_istio_follows_the_model(
    declared: dict[str, float],
) -> None:
    # Seeded simulation: Istio splits exactly as the model predicts (90/10); the scenario
    # declares `declared`, so sampling stops where the declared check decides. The false
    # finding rate is bounded by alpha = 0.1 % (Ville's inequality holds at any stopping
    # time): more than 1 in 100 runs would happen with probability < 0.5 % at that rate.
    rng = random.Random(13)
    assert sum(_sampled(NINETY_TEN, declared, NINETY_TEN, rng) for _ in range(100)) <= 1


def test_a_split_far_from_the_model_is_found() -> None:
    # Istio splits 90/10 as the scenario says; the model predicted 50/50: found every time.
    rng = random.Random(7)
    even = {"v1": 50.0, "v2": 50.0}
    assert all(_sampled(NINETY_TEN, NINETY_TEN, even, rng) for _ in range(100))


# --- every rendering shows it, beside the verdict ---------------------------------------------


def _gap_and_miss(tmp_path: Path) -> RunResult:
    """Two scenarios: a model_gap probe that passes (a finding) and a policy Istio ignored
    (a fail, and a finding: neither expected it)."""
    gap = run(scenario(tmp_path / "gap", "denied-l7", "a future ztunnel answering 403"),
              b_sees(DENIED_L7))  # fmt: skip
    miss = run(scenario(tmp_path / "miss"), b_sees(ALLOWED))
    miss.name = "mf-ignored"
    return RunResult(Environment("kind"), [gap, miss])


def test_markdown_html_and_the_terminal_show_each_finding_and_keep_the_verdicts(
    tmp_path: Path,
) -> None:
    from harness.report.html import render_html
    from harness.report.markdown import render_markdown
    from harness.report.summary import (
        failure_summary,
        model_findings_summary,
        summarize,
        summary_line,
    )

    r = _gap_and_miss(tmp_path)
    assert [s.verdict for s in r.scenarios] == ["pass", "fail"]
    gap_finding = r.scenarios[0].steps[0].probes[1].model_finding
    miss_finding = r.scenarios[1].steps[0].probes[1].model_finding
    assert gap_finding is not None and miss_finding is not None

    md = render_markdown(r)
    assert (
        "**1 passed** · **1 failed** · 0 skipped · 0 errors — 2 scenarios · 2 model findings" in md
    )
    assert "it changes no verdict and not the exit code" in md
    b_call = "b → ratings:9080/ratings/1 as ns/mf/sa/bookinfo-b"
    assert f"- **mf** / policy: {b_call} (✅ pass): {gap_finding}" in md
    assert f"- **mf-ignored** / policy: {b_call} (❌ fail): {miss_finding}" in md
    assert (
        f"| policy | {b_call} | denied-l7 | denied-l4 at destination ztunnel "
        "| denied-l7 (403 RBAC: access denied) ✅ pass | ≠ model |" in md
    )
    assert (
        "| policy | a → ratings:9080/ratings/1 as ns/mf/sa/bookinfo-a "
        "| allowed | allowed (200, ratings-v1), l7 false "
        in md
    )
    assert "expected *denied-l4*, predicted *denied-l4 at destination ztunnel*, observed" in md

    page = render_html(r)
    assert '<div class="badge model"><b>2</b>model findings</div>' in page
    assert '<div class="badge pass"><b>1</b>passed</div>' in page
    assert "<h2>Model findings</h2>" in page
    assert f"<b>Model finding</b>: {html_escape(gap_finding)}</p>" in page
    assert '<span class="model finding">≠ model</span>' in page
    assert '<span class="model">= model</span>' in page

    terminal = model_findings_summary(r)
    assert terminal.startswith("2 model findings: where Istio did not do what the mesh model")
    assert "  ✔ mf / policy: b → ratings:9080/ratings/1 (pass)" in terminal
    assert f"        {gap_finding}" in terminal
    assert "          - predicted denied-l4, saw denied-l7 (403 RBAC: access denied)" in terminal
    assert "        predicted: denied-l4 at destination ztunnel" in failure_summary(r)
    assert summary_line(summarize(r)).endswith(
        "1 passed, 1 failed, 0 skipped, 0 errors; 2 model findings (no verdict changed)"
    )


def test_ambient_harness_run_prints_the_findings_and_exits_as_judged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import harness.cli.run as cli_run
    from harness.run.options import SessionOptions

    gap = scenario(tmp_path, "denied-l7", "a future ztunnel answering 403")

    def run_scenarios(scenarios: object, options: object, observer: object, *, into: RunResult
                      ) -> None:  # fmt: skip
        into.scenarios.append(run(gap, b_sees(DENIED_L7)))

    monkeypatch.setattr(cli_run, "run_scenarios", run_scenarios)
    report = tmp_path / "report.json"
    assert cli_run.run_live([gap], SessionOptions(cluster="kind"), report) == 0  # passed
    out = capsys.readouterr().out
    assert "1 model finding: where Istio did not do what the mesh model" in out
    assert "the scenario acknowledges this gap: a future ztunnel answering 403" in out
    assert out.rstrip().endswith("1 model finding (no verdict changed)")
    assert json.loads(report.read_text())["summary"]["model_findings"] == 1


def test_the_run_command_s_progress_names_a_finding_as_it_happens(tmp_path: Path) -> None:
    import io

    from harness.cli.run import PrintObserver

    s = scenario(tmp_path)
    out = io.StringIO()
    clock = FakeClock()
    checker = EventuallyChecker(clock=clock, sleep=clock.sleep)
    Runner(ScriptedOps(clock, b_sees(ALLOWED)), checker, PrintObserver(out), clock=clock).run(s)
    lines = [line for line in out.getvalue().splitlines() if "model:" in line]
    assert len(lines) == 1
    assert lines[0].startswith("  mf / policy: model: predicted denied-l4 at destination ztunnel")


def test_the_simulations_draws_are_those_of_rng_choices_with_the_weights() -> None:
    # _sampled passes cumulative weights and Outcomes (cheaper per sample): the same draws.
    for truth in (NINETY_TEN, {"v1": 50.0, "v2": 30.0, "v3": 20.0}):
        plain, cheap = random.Random(13), random.Random(13)
        names, cum = list(truth), list(itertools.accumulate(truth.values()))
        for _ in range(2000):
            assert (
                cheap.choices(names, cum_weights=cum)[0]
                == plain.choices(names, list(truth.values()))[0]
            )
