"""`ambient-harness plan`: the text and JSON a run would follow, without a cluster."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness.plan import plan_dict, plan_text
from harness.scenario import load_scenario
from tests.conftest import REPO, SCENARIOS

EXAMPLES = sorted(p.parent.name for p in SCENARIOS.glob("*/scenario.yaml"))
EXPECT_KEYS = {"outcome", "status", "served_by", "split", "l7", "tolerance", "headers",
               "backend_saw", "attempts"}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], cwd=REPO, capture_output=True, text=True,
        timeout=60,
    )


@pytest.mark.parametrize("name", EXAMPLES)
def test_plan_json_has_the_documented_shape(name: str) -> None:
    proc = run_cli("plan", f"scenarios/{name}", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["name"] == name
    assert plan["dataplane"] in ("ambient", "sidecar")
    assert plan["namespaces"] and all(ns["name"].startswith(name) for ns in plan["namespaces"])
    assert plan["steps"]
    for step in plan["steps"]:
        assert set(step) >= {"name", "apply", "delete", "probes"}
        for path in step["apply"] + step["delete"]:
            assert (SCENARIOS / name / path).is_file()
        for probe in step["probes"]:
            assert set(probe) >= {"from", "method", "url", "headers", "expect"}
            assert probe["expect"] and set(probe["expect"]) <= EXPECT_KEYS


def test_plan_ambient_l4_expectations() -> None:
    plan = plan_dict(load_scenario(SCENARIOS / "ambient-authz-l4"))
    assert plan["namespaces"][0]["labels"] == {"istio.io/dataplane-mode": "ambient"}
    policy = next(s for s in plan["steps"] if s["apply"])
    by_client = {p["from"]: p["expect"] for p in policy["probes"]}
    assert by_client["productpage"]["outcome"] == "allowed"
    assert by_client["reviews"]["outcome"] == "denied-l4"


def test_plan_text_lists_steps_and_probes() -> None:
    text = plan_text(load_scenario(SCENARIOS / "sidecar-authz-l4"))
    assert "istio-injection=enabled" in text
    assert "cluster.local/ns/sidecar-authz-l4/sa/bookinfo-productpage" in text
    assert "apply  manifests/ratings-allow-productpage.yaml" in text
    assert "reviews -> GET http://ratings:9080/ratings/1  expect denied-l7" in text


def test_plan_reports_a_broken_scenario_with_location(tmp_path) -> None:
    d = tmp_path / "broken"
    d.mkdir()
    (d / "scenario.yaml").write_text("name: broken\ntitle: t\ndescription: d\ndataplane: both\n")
    proc = run_cli("plan", str(d))
    assert proc.returncode == 2
    assert f"{d / 'scenario.yaml'}:4: dataplane: expected 'ambient' or 'sidecar', got 'both'" \
        in proc.stderr


def test_cli_help_explains_commands() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    for cmd in ("lint", "plan", "run", "demo", "report", "agent", "cluster", "tools", "schemas"):
        assert cmd in proc.stdout
