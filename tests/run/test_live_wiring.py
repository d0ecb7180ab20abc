"""The live path wired to the pieces built beside it: `LiveOps.connect` through
`ForwardedAgent.open` (waits for a Ready agent pod, knows the backends), the checker polling
through a backend restart, and the scenario's topology reaching the checkers."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from fakes.envoy_fixture import agent_args, echo_args, running
from fakes.fake_apiserver import FakeApiServer
from fakes.kubectl_launcher import write_kubectl
from fakes.pods import running_pod, set_ready
from fakes.scripted_cluster import FakeClock, Recorder, ScriptedOps

from harness.cli.main import main
from harness.judge.derived import timing_for
from harness.kube.client import Kube
from harness.model.outcome import Outcome
from harness.model.scenario import load_scenario
from harness.model.topology import AgentPlan, topology
from harness.probe.backends import BackendRestarting
from harness.probe.forwarded import ForwardedAgent
from harness.report.plan import plan_text
from harness.run.checker import EventuallyChecker
from harness.run.live import LiveOps
from harness.run.runner import Runner

NS = "wired"
REPO = Path(__file__).resolve().parents[2]


def pod(name: str, app: str, *, ready: bool = True) -> dict[str, Any]:
    return running_pod(name, app, NS, ready=ready, container="c")


@pytest.fixture
def kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = write_kubectl(tmp_path)
    monkeypatch.delenv("FAKE_KUBECTL_UPSTREAM", raising=False)
    monkeypatch.delenv("FAKE_KUBECTL_ROUTES_FILE", raising=False)
    return script


def test_connect_waits_for_a_ready_agent_pod_and_knows_the_backends(
    api: FakeApiServer, kube: Kube, kubectl: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A just-created agent pod becomes Ready a moment later (the old path gave up at once),
    and the link judges a denied-l4 against the probed Service's backends."""
    api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    api.add(pod("agent-a-5d8f9-x1", "agent-a", ready=False))
    api.on_read("Pod", NS, "agent-a-5d8f9-x1", lambda obj, n: set_ready(obj, n >= 3))
    api.add(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "ratings", "namespace": NS},
            "spec": {"selector": {"app": "ratings"}},
        }
    )
    api.add(pod("ratings-v1-1", "ratings", ready=False))
    with running(agent_args()) as agent, running(echo_args("ratings", "v1")) as echo:
        monkeypatch.setenv("FAKE_KUBECTL_ROUTES", json.dumps({"pod/agent-a-5d8f9-x1": agent.port}))
        ops = LiveOps(kube, kubectl, None, None)
        link = ops.connect(AgentPlan("a", NS, "bookinfo-a"))
        try:
            assert isinstance(link, ForwardedAgent)
            assert link.forward.target == "pod/agent-a-5d8f9-x1"
            assert link.probe("GET", f"{echo.url}/x", {}, 2).served_by == "ratings-v1"
            assert link.backends is not None
            assert (
                link.backends.not_ready("http://ratings:9080/")
                == "ratings-v1-1 Running (not Ready)"
            )
        finally:
            ops.disconnect()


class RestartingBackend:
    """An `AgentLink` whose first `restarting` probes meet a backend being replaced."""

    def __init__(self, restarting: int, outcome: Outcome) -> None:
        self.left = restarting
        self.outcome = outcome
        self.calls = 0

    def probe(self, method: str, url: str, headers: Mapping[str, str], timeout: float) -> Outcome:
        self.calls += 1
        if self.left > 0:
            self.left -= 1
            raise BackendRestarting("denied-l4 (eof) while a backend was not Ready")
        return self.outcome

    def sample(
        self, method: str, url: str, n: int, headers: Mapping[str, str], timeout: float
    ) -> list[Outcome]:
        return [self.outcome for _ in range(n)]


SCENARIO = """\
name: wired
title: wired
description: d
dataplane: ambient
namespaces: [{name: wired}]
backends: [{service: reviews, versions: [v1, v2, v3]}]
clients: [{name: a}]
steps:
  - name: s
    title: s
    probes:
      - {from: a, url: "http://reviews:9080/", expect: allowed}
      - {from: a, url: "http://reviews:9080/", expect: {served_by: v1}}
      - {from: a, url: "http://reviews:9080/", expect: {split: {v1: 50, v2: 50}},
         gate: allowed}
"""


def scenario(tmp_path: Path) -> Any:
    d = tmp_path / "wired"
    d.mkdir()
    (d / "scenario.yaml").write_text(SCENARIO)
    return load_scenario(d)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


def test_a_backend_restart_is_polled_through_not_the_end_of_the_probe(tmp_path: Path) -> None:
    s = scenario(tmp_path)
    clock = Clock()
    checker = EventuallyChecker(clock=clock, sleep=clock.sleep)
    plain = s.steps[0].probes[0]
    link = RestartingBackend(2, Outcome(status=200, served_by="reviews-v1"))
    r = checker.check(link, plain, 0.0)
    assert r.verdict == "pass", r.message
    assert link.calls == 2 + plain.timing.streak
    # The gate of a split is polled the same way.
    split = s.steps[0].probes[2]
    link = RestartingBackend(2, Outcome(status=200, served_by="reviews-v1"))
    r = checker.check(link, split, 0.0)
    assert "the gate never held" not in r.message
    assert r.attempts > 2


def derived_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if "in a row" in line and "chance" in line]


def test_plan_and_dry_run_derive_the_same_streak_for_three_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The catalogue's header routing, with a third version of reviews behind the same route.
    d = tmp_path / "ambient-routing-header"
    shutil.copytree(REPO / "scenarios" / "ambient-routing-header", d)
    text = (d / "scenario.yaml").read_text()
    (d / "scenario.yaml").write_text(text.replace("versions: [v1, v2]", "versions: [v1, v2, v3]"))
    s = load_scenario(d)
    assert len(topology(s).echoes) == 3
    planned = derived_lines(plan_text(s))
    assert planned, plan_text(s)
    assert main(["run", str(s.directory), "--dry-run"]) == 0
    dry = derived_lines(capsys.readouterr().out)
    assert dry == planned


def test_the_live_runner_uses_the_scenarios_topology_for_the_streak(tmp_path: Path) -> None:
    s = scenario(tmp_path)
    probe = s.steps[0].probes[1]  # served_by: v1 behind three versions
    with_three = timing_for(probe, topology(s)).streak
    assert with_three != timing_for(probe, None).streak  # the worst case (2) differs
    clock = FakeClock()
    ops = ScriptedOps(
        clock, lambda client, headers, since: Outcome(status=200, served_by="reviews-v1")
    )
    checker = EventuallyChecker(clock=clock, sleep=clock.sleep)
    result = Runner(ops, checker, Recorder(), clock=clock).run(s)
    served = result.steps[0].probes[1]
    assert served.verdict == "pass", served.message
    assert served.attempts == with_three
