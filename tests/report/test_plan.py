"""`ambient-harness plan`: the text and JSON a run would follow, without a cluster."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import REPO, SCENARIOS, run_cli

from harness.cli import main as cli
from harness.model.scenario import load_scenario
from harness.report.plan import plan_dict, plan_text

EXAMPLES = sorted(p.parent.name for p in SCENARIOS.glob("*/scenario.yaml"))
EXPECT_KEYS = {"outcome", "status", "served_by", "split", "l7", "tolerance", "headers",
               "backend_saw", "attempts"}


@pytest.mark.parametrize("name", EXAMPLES)
def test_plan_json_has_the_documented_shape(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # In process (the command line itself is run as a subprocess below): 13 interpreters
    # would cost seconds and test nothing more.
    monkeypatch.chdir(REPO)
    assert cli.main(["plan", f"scenarios/{name}", "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
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


def test_plan_reports_a_broken_scenario_with_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "broken"
    d.mkdir()
    (d / "scenario.yaml").write_text("name: broken\ntitle: t\ndescription: d\ndataplane: both\n")
    assert cli.main(["plan", str(d)]) == 2
    assert f"{d / 'scenario.yaml'}:4: dataplane: expected 'ambient' or 'sidecar', got 'both'" \
        in capsys.readouterr().err


def test_cli_help_explains_commands() -> None:
    # A subprocess, as a user runs it: `python -m harness` itself stays tested (the other
    # commands here run in this process).
    proc = run_cli("--help")
    assert proc.returncode == 0
    # The command list: one `  NAME  help text` line each (a bare `"run" in stdout` would
    # also be satisfied by "running" anywhere in the text).
    listed = dict(re.findall(r"^ {4}([a-z]+) {2,}(\S.*)$", proc.stdout, re.MULTILINE))
    commands = (
        "lint", "schemas", "plan", "explain", "run", "demo", "report", "schema", "agent", "cluster",
        "doctor", "tools",
    )
    assert list(listed) == list(commands)
    assert all(listed.values())


def test_agent_arguments_pass_through_to_the_agent(capsys: pytest.CaptureFixture[str]) -> None:
    # `--help` after `agent` is the agent's own help, not the harness's: argparse exits 0,
    # which `python -m harness` passes on as its exit status.
    with pytest.raises(SystemExit) as helped:
        cli.main(["agent", "proxy", "--help"])
    assert helped.value.code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "usage: ambient-harness agent proxy" in out and "x-probe-timeout" in out
    assert cli.main(["agent", "proxy", "--listen", "10.0.0.1:1"]) == 2
    assert "refusing to listen on '10.0.0.1'" in capsys.readouterr().err
