"""The pytest plugin reports model findings: in the terminal summary, the step sections, the
JUnit testcase properties and the JSON report, while the outcome and exit code stay as judged.

Runs pytest in this process (pytester, as tests/pytest_plugin/test_pytest_plugin.py does). The
live path is replaced by a plugin module that answers the real ambient-authz-l4 scenario:
every probe as its expectation says, but with an Envoy in the path (`l7` true) where the
expectation leaves `l7` open, which the model does not predict (no waypoint).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fake_live_hooks import INSTALL_FAKE_SESSION
from helpers import REPO

FAKE_LIVE = """
import harness.pytest_plugin.session
from harness.judge.match import mismatch
from harness.model.outcome import Outcome, ProbeError
from harness.model.results import Environment, ProbeResult, ScenarioResult, StepResult
from harness.run.findings import scenario_predictions, with_model


def answer(probe):
    if probe.expect.outcome == "denied-l4":
        return Outcome(status=502, probe_error=ProbeError.RESET)
    l7 = True if probe.expect.l7 is None else probe.expect.l7
    return Outcome(status=200, served_by="ratings-v1", l7=l7)


class FakeSession:
    setup_error = None
    environment = Environment(provider="kind", istio_version="1.30.3")

    def run(self, scenario):
        predicted = scenario_predictions(scenario)
        steps = []
        for i, step in enumerate(scenario.steps):
            probes = []
            for j, probe in enumerate(step.probes):
                seen = answer(probe)
                verdict = "pass" if mismatch(seen, probe.expect) is None else "fail"
                result = ProbeResult(
                    client=probe.from_, method=probe.method, url=probe.url,
                    expect=probe.expect, verdict=verdict, observations=[seen], attempts=3,
                )
                probes.append(with_model(result, probe, predicted[(i, j)]))
            steps.append(StepResult(step.name, step.title, probes=probes))
        return ScenarioResult(scenario.name, scenario.title, scenario.dataplane, steps=steps)

    def diagnostics(self, name):
        return []

"""
FAKE_LIVE += INSTALL_FAKE_SESSION


def test_a_model_finding_is_reported_and_the_run_still_passes(
    tmp_path: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fake_live.py").write_text(FAKE_LIVE)
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("PYTEST_PLUGINS", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-p", "fake_live", "scenarios/ambient-authz-l4",
        "--cluster=kind", "-rA", f"--junitxml={junit}", f"--report-json={report}",
    )  # fmt: skip
    out = "\n".join(result.outlines)
    assert result.ret == 0, out + "\n".join(result.errlines)  # a finding is not a failure
    assert "1 passed" in out
    assert "ambient-harness: model findings" in out
    assert "ambient-harness: failed probes" not in out
    finding = "model: predicted allowed (200, ratings-v1), l7 false at destination ztunnel ("
    assert "1 model finding: where Istio did not do what the mesh model" in out
    assert "ambient-authz-l4 / l4-policy: productpage → ratings:9080/ratings/1 (pass)" in out
    assert "        predicted: allowed (200, ratings-v1), l7 false at destination ztunnel" in out
    assert finding in out and "observed allowed (200, ratings-v1)" in out
    assert "          - predicted l7 false, saw l7 true" in out
    # the step's report section shows the prediction of every probe, and the finding
    assert "predicted denied-l4 at destination ztunnel" in out
    case = next(ET.parse(junit).getroot().iter("testcase"))
    props = [(p.get("name"), p.get("value") or "") for p in case.iter("property")]
    assert props[0] == ("model_findings", "1"), props
    assert props[1][0] == "model_finding" and props[1][1].startswith(f"l4-policy: {finding}")
    data = json.loads(report.read_text())
    assert data["summary"]["model_findings"] == 1
    assert data["scenarios"][0]["verdict"] == "pass"
