"""The pytest plugin: scenarios as items, markers, the no-cluster skip, reports, failures.

Runs pytest in a subprocess on the repository's real scenarios. The live path is replaced by a
plugin module written here that answers with recorded results, so the plugin's own behaviour
(sections, failure text, JUnit properties, JSON report) is checked without a cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
from helpers import REPO

from harness.model.scenario import load_scenario
from harness.pytest_plugin import NO_CLUSTER

FAKE_LIVE = """
import harness.pytest_plugin.session
from harness.model.outcome import Outcome, ProbeError
from harness.model.results import Environment, ProbeResult, ScenarioResult, StepResult
from harness.model.outcome import Kind
from harness.model.scenario import Expect


class FakeSession:
    environment = Environment(provider="kind", kubernetes_version="v1.35.8",
                              istio_version="1.30.3", gateway_api_version="v1.5.1")

    def run(self, scenario):
        failing = scenario.name == "ambient-authz-l4"
        seen = Outcome(status=200, served_by="ratings-v1") if failing else \\
            Outcome(status=502, probe_error=ProbeError.RESET)
        probe = ProbeResult(
            client="reviews", method="GET", url="http://ratings:9080/ratings/1",
            expect=Expect(outcome=Kind.DENIED_L4), verdict="fail" if failing else "pass",
            observations=[seen], attempts=300,
            message="expected denied-l4, saw allowed (200, ratings-v1) ×300" if failing else "",
        )
        step = StepResult("l4-policy", "Allow only productpage", applied=["m.yaml"],
                          probes=[probe])
        return ScenarioResult(scenario.name, scenario.title, scenario.dataplane, steps=[step])

    def diagnostics(self, name):
        return []


def pytest_configure(config):
    harness.pytest_plugin.session.live_session = lambda config: FakeSession()
"""


def pytest_run(*args: str, fake_live: Path | None = None) -> subprocess.CompletedProcess[str]:
    # The parent's PYTEST_ADDOPTS / PYTEST_PLUGINS (a user's -x, -n 4, ...) must not change
    # what the inner run does.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    if fake_live is not None:
        env["PYTHONPATH"] = f"{fake_live}{os.pathsep}{env.get('PYTHONPATH', '')}"
        cmd[3:3] = ["-p", "fake_live"]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=120)


def test_every_scenario_is_an_item_that_skips_without_a_cluster_and_is_reported(
    tmp_path: Path,
) -> None:
    report = tmp_path / "report.json"
    proc = pytest_run("scenarios", "-q", "-rs", f"--report-json={report}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = sorted(p.parent.name for p in (REPO / "scenarios").glob("*/scenario.yaml"))
    assert f"SKIPPED [{len(names)}]" in proc.stdout
    assert f"{len(names)} skipped" in proc.stdout.splitlines()[-1]
    assert NO_CLUSTER in proc.stdout
    data = json.loads(report.read_text())
    schema = json.loads((REPO / "harness" / "report" / "report_schema.json").read_text())
    jsonschema.validate(data, schema)
    assert sorted(s["name"] for s in data["scenarios"]) == names
    assert {s["verdict"] for s in data["scenarios"]} == {"skipped"}
    assert {s["skipped_reason"] for s in data["scenarios"]} == {NO_CLUSTER}


def collected(*selection: str) -> list[str]:
    """The scenario items `pytest --co` selects, by name."""
    proc = pytest_run("scenarios", "-q", "--co", *selection)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return sorted(line.rsplit("::", 1)[1] for line in proc.stdout.splitlines() if "::" in line)


def test_markers_and_keywords_select_scenarios() -> None:
    # The data plane marker comes from each scenario file, so compare with what they declare.
    by_plane: dict[str, list[str]] = {"ambient": [], "sidecar": []}
    for path in sorted((REPO / "scenarios").glob("*/scenario.yaml")):
        by_plane[load_scenario(path).dataplane].append(path.parent.name)
    assert by_plane["ambient"] and by_plane["sidecar"]
    assert collected("-m", "sidecar") == by_plane["sidecar"]
    assert collected("-m", "ambient") == by_plane["ambient"]
    assert collected("-k", "traffic-shift") == ["ambient-traffic-shift", "sidecar-traffic-shift"]


def test_live_results_become_failures_sections_and_reports(tmp_path: Path) -> None:
    (tmp_path / "fake_live.py").write_text(FAKE_LIVE)
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    proc = pytest_run(
        "scenarios/ambient-authz-l4",
        "scenarios/sidecar-authz-l4",
        "--cluster=kind",
        f"--junitxml={junit}",
        f"--report-json={report}",
        "-rA",
        fake_live=tmp_path,
    )
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "1 failed, 1 passed" in out
    # the failure explains itself: scenario, step, probe, expected vs observed
    assert "scenario ambient-authz-l4: fail" in out
    assert "step l4-policy: reviews -> GET http://ratings:9080/ratings/1" in out
    assert "expected denied-l4, saw allowed (200, ratings-v1) ×300" in out
    # steps are report sections of the item
    assert "step l4-policy" in out and "saw denied-l4 (reset)" in out
    assert "ambient-harness: failed probes" in out
    props = {p.get("name"): p.get("value") for p in ET.parse(junit).getroot().iter("property")}
    assert props.get("istio_version") == "1.30.3", props
    data = json.loads(report.read_text())
    assert data["environment"]["istio_version"] == "1.30.3"
    assert {s["name"]: s["verdict"] for s in data["scenarios"]} == {
        "ambient-authz-l4": "fail",
        "sidecar-authz-l4": "pass",
    }
