"""The runner: order of actions, probe judging, timings, failures, clean-up.

Two layers:
- a scripted `ClusterOps` (records every call; outcomes depend on fake time since the step's
  apply) with the real `EventuallyChecker` on a fake clock: deterministic and instant;
- `LiveOps` against the fake API server, with real agent/echo processes on loopback reached
  through a fake `kubectl port-forward`: the live plumbing, minus a mesh.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import struct
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from fakes.clocks import SkewedClock
from fakes.envoy_fixture import Program, agent_args, echo_args, running
from fakes.fake_apiserver import FakeApiServer
from fakes.fake_kubectl import pump
from fakes.kubectl_launcher import write_kubectl
from fakes.scripted_cluster import (
    FakeClock,
    Recorder,
    Script,
    ScriptedOps,
    enforced_after,
)

from harness.host.cluster import ClusterError
from harness.host.kind import KindProvider
from harness.host.portforward import PortForward
from harness.kube.client import Kube
from harness.kube.errors import ApplyError, ApplyFailure, WaitTimeout
from harness.kube.objects import ObjectRef
from harness.kube.status import ready_pod
from harness.model.outcome import Outcome, ProbeError
from harness.model.scenario import Scenario, load_scenario
from harness.probe.forwarded import ForwardedAgent
from harness.pytest_plugin.session import SharedSetup, live_session
from harness.run.checker import EventuallyChecker
from harness.run.events import RunObserver
from harness.run.live import LiveOps
from harness.run.options import SessionOptions
from harness.run.runner import Runner
from harness.run.session import LiveSession

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "harness" / "inpod" / "agent.py"

POLICY = """\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ratings-allow-a
  namespace: rt
spec:
  selector:
    matchLabels:
      app: ratings
  action: ALLOW
  rules:
    - from:
        - source:
            principals: [cluster.local/ns/rt/sa/bookinfo-a]
"""

SCENARIO = """\
name: rt
title: runner test
description: d
dataplane: ambient
namespaces:
  - name: rt
backends:
  - service: ratings
clients:
  - name: a
  - name: b
steps:
  - name: baseline
    title: baseline
    probes:
      - from: a
        url: {url}
        expect: allowed
      - from: b
        url: {url}
        expect: allowed
  - name: policy
    title: policy
    apply: [manifests/policy.yaml]
    probes:
      - from: b
        url: {url}
        expect: denied-l4
        timing: {{hold: 1, budget: {budget}}}
      - from: a
        url: {url}
        expect: allowed
  - name: later
    title: later
    probes:
      - from: a
        url: {url}
        expect: allowed
"""


def write_scenario(
    root: Path, *, url: str = "http://ratings:9080/ratings/1", budget: float = 30
) -> Scenario:
    d = root / "rt"
    (d / "manifests").mkdir(parents=True)
    (d / "manifests" / "policy.yaml").write_text(POLICY)
    (d / "scenario.yaml").write_text(SCENARIO.format(url=url, budget=budget))
    return load_scenario(d)


# --- scripted ops -----------------------------------------------------------------------------


def make_runner(
    tmp_path: Path, script: Script, *, keep: bool = False, budget: float = 30
) -> tuple[Runner, ScriptedOps, Recorder, Scenario, FakeClock]:
    clock = FakeClock()
    ops = ScriptedOps(clock, script)
    rec = Recorder()
    runner = Runner(
        ops, EventuallyChecker(clock=clock, sleep=clock.sleep), rec, keep=keep, clock=clock
    )
    return runner, ops, rec, write_scenario(tmp_path, budget=budget), clock


def names(ops: ScriptedOps) -> list[str]:
    return [c[0] for c in ops.calls]


# --- tests: scripted ------------------------------------------------------------------------


def test_a_passing_scenario_runs_every_action_in_order(tmp_path: Path) -> None:
    runner, ops, _rec, scenario, _ = make_runner(tmp_path, enforced_after(1.5))
    result = runner.run(scenario)

    assert result.verdict == "pass", result
    assert names(ops) == [
        "create_namespace",
        "apply_workloads",
        "wait_available",
        "check_enrollment",
        "connect",
        "connect",
        "apply_step",
        "delete_namespaces",
        "disconnect",
    ]
    # The namespace is labelled for ambient before any workload exists.
    assert ops.calls[0] == ("create_namespace", "rt", {"istio.io/dataplane-mode": "ambient"})
    assert ops.calls[1][1][:2] == ("ServiceAccount/bookinfo-a", "ServiceAccount/bookinfo-b")
    assert ops.calls[2] == (
        "wait_available",
        (("rt", "ratings-v1"), ("rt", "agent-a"), ("rt", "agent-b")),
    )
    assert ops.calls[6] == ("apply_step", ("ratings-allow-a",), "rt")
    assert ops.calls[7] == ("delete_namespaces", ("rt",), True)
    assert [s.name for s in result.steps] == ["baseline", "policy", "later"]
    assert result.steps[1].applied == ["manifests/policy.yaml"]


def test_time_to_consistency_is_measured_from_the_apply(tmp_path: Path) -> None:
    runner, _ops, _, scenario, _ = make_runner(tmp_path, enforced_after(1.5))
    result = runner.run(scenario)
    denied = result.steps[1].probes[0]
    assert denied.client == "b" and denied.verdict == "pass"
    # Enforcement starts 1.5 s after the apply; polling every 100 ms (+10 ms per request)
    # then three resets in a row: consistency within ~0.15 s of it.
    assert denied.time_to_consistency_s is not None
    assert 1.5 <= denied.time_to_consistency_s <= 1.7
    assert denied.attempts > 10  # the misses before enforcement plus the streak and the hold
    assert denied.observations[-1].probe_error is ProbeError.RESET
    # The baseline step applied nothing: its probes are measured from the step's start.
    assert result.steps[0].probes[0].time_to_consistency_s == pytest.approx(0.03)


def test_observer_hooks_in_order(tmp_path: Path) -> None:
    runner, _, rec, scenario, _ = make_runner(tmp_path, enforced_after(0.0))
    runner.run(scenario)
    events = [e for e in rec.events if e[0] not in ("phase", "phase_done")]
    assert events == [
        ("scenario_started", "rt"),
        ("step_started", "baseline"),
        ("probe_finished", "baseline", "a", "pass"),
        ("probe_finished", "baseline", "b", "pass"),
        ("step_finished", "baseline", "pass"),
        ("step_started", "policy", "manifests/policy.yaml"),
        ("probe_finished", "policy", "b", "pass"),
        ("probe_finished", "policy", "a", "pass"),
        ("step_finished", "policy", "pass"),
        ("step_started", "later"),
        ("probe_finished", "later", "a", "pass"),
        ("step_finished", "later", "pass"),
        ("scenario_finished", "rt", "pass"),
    ]
    phases = [e for e in rec.events if e[0] in ("phase", "phase_done")]
    # Every phase that starts also finishes, in pairs.
    assert [e[0] for e in phases] == ["phase", "phase_done"] * (len(phases) // 2)
    assert phases[0] == ("phase", "rt: namespaces")


def test_a_failing_probe_reports_what_was_seen_and_stops_the_scenario(tmp_path: Path) -> None:
    runner, ops, rec, scenario, _ = make_runner(tmp_path, enforced_after(1e9), budget=1)
    result = runner.run(scenario)

    assert result.verdict == "fail"
    policy = result.steps[1]
    assert policy.verdict == "fail"
    denied, allowed = policy.probes
    assert denied.verdict == "fail"
    assert denied.message.startswith("expected denied-l4, saw allowed (200, ratings-v1)")
    assert "needed 3 in a row within 1s" in denied.message
    assert "diagnostics: artifacts/rt/policy" in denied.message
    assert denied.time_to_consistency_s is None
    assert len(denied.observations) == 5
    # The failing probe did not stop the next probe of the same step.
    assert allowed.verdict == "pass"
    assert "diagnostics" not in allowed.message
    # The step after the failed one is recorded, not run.
    later = result.steps[2]
    assert [p.verdict for p in later.probes] == ["skipped"]
    assert later.probes[0].message == "not run: step 'policy' failed"
    assert ("step_started", "later") not in rec.events
    assert ops.diagnosed == [("policy", ["manifests/policy.yaml"])]
    assert names(ops)[-2:] == ["delete_namespaces", "disconnect"]


def test_set_up_failure_collects_diagnostics_and_cleans_up(tmp_path: Path) -> None:
    runner, ops, rec, scenario, _ = make_runner(tmp_path, enforced_after(0))
    ops.fail["wait_available"] = WaitTimeout(
        ObjectRef("apps/v1", "Deployment", "rt", "agent-a"),
        "Available=True",
        180.0,
        "Available=False MinimumReplicasUnavailable",
    )
    result = runner.run(scenario)
    assert result.verdict == "error"
    assert result.error is not None
    assert result.error.startswith(
        "set-up failed: WaitTimeout: timed out after 180.0s waiting for "
        "Deployment rt/agent-a to be Available=True"
    )
    assert result.error.endswith("diagnostics: artifacts/rt/set-up")
    assert result.steps == []
    assert names(ops) == [
        "create_namespace",
        "apply_workloads",
        "wait_available",
        "diagnostics",
        "delete_namespaces",
        "disconnect",
    ]
    assert rec.events[-1] == ("scenario_finished", "rt", "error")


def test_a_half_created_namespace_is_still_deleted(tmp_path: Path) -> None:
    runner, ops, _, scenario, _ = make_runner(tmp_path, enforced_after(0))
    ops.fail["create_namespace"] = RuntimeError("API server said no")
    result = runner.run(scenario)
    assert result.error is not None and "API server said no" in result.error
    assert ("delete_namespaces", ("rt",), True) in ops.calls


def test_ctrl_c_cleans_up_then_propagates(tmp_path: Path) -> None:
    runner, ops, rec, scenario, _ = make_runner(tmp_path, enforced_after(0))
    ops.interrupt_on_request = 4  # during the second step
    with pytest.raises(KeyboardInterrupt):
        runner.run(scenario)
    # Deletion is requested without waiting, then port-forwards are closed.
    assert names(ops)[-2:] == ["delete_namespaces", "disconnect"]
    assert ops.calls[-2] == ("delete_namespaces", ("rt",), False)
    assert rec.events[-1] == ("scenario_finished", "rt", "error")


def test_keep_leaves_the_namespaces(tmp_path: Path) -> None:
    runner, ops, _, scenario, _ = make_runner(tmp_path, enforced_after(0), keep=True)
    assert runner.run(scenario).verdict == "pass"
    assert "delete_namespaces" not in names(ops)
    assert names(ops)[-1] == "disconnect"


def test_a_rejected_step_runs_no_probe(tmp_path: Path) -> None:
    runner, ops, _, scenario, _ = make_runner(tmp_path, enforced_after(0))
    ref = ObjectRef("security.istio.io/v1", "AuthorizationPolicy", "rt", "ratings-allow-a")
    ops.fail["apply_step"] = ApplyError(
        "preflight", [ApplyFailure(ref, "spec.action: Unsupported value", 422, "Invalid")]
    )
    result = runner.run(scenario)
    step = result.steps[1]
    assert step.verdict == "error"
    assert step.probes == []
    assert step.error is not None
    assert step.error.startswith(
        "apply failed: ApplyError: server-side dry run (preflight) rejected 1 object"
    )
    assert "AuthorizationPolicy rt/ratings-allow-a: spec.action: Unsupported value" in step.error
    assert step.error.endswith("diagnostics: artifacts/rt/policy")
    assert step.applied == []
    assert result.verdict == "error"


def test_an_unreachable_agent_is_an_error_and_other_probes_still_run(tmp_path: Path) -> None:
    runner, ops, _, scenario, _ = make_runner(tmp_path, enforced_after(0))
    ops.unreachable.add("a")
    result = runner.run(scenario)
    a, b = result.steps[0].probes
    assert a.verdict == "error"
    assert a.message.startswith(
        "probe could not run: AgentUnreachable: agent a: connection refused"
    )
    assert b.verdict == "pass"
    assert result.verdict == "fail"


SPLIT_SCENARIO = """\
name: sp
title: split
description: d
dataplane: ambient
namespaces: [{name: sp}]
backends: [{service: reviews, versions: [v1, v2]}]
clients: [{name: a}]
waypoints: [{services: [reviews]}]
steps:
  - name: shift
    title: shift
    apply: [manifests/route.yaml]
    probes:
      - from: a
        url: http://reviews:9080/
        expect: {split: {v1: 90, v2: 10}}
        gate: {headers: {x-route: weighted}}
"""

ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: reviews, namespace: sp}
spec: {}
"""


def split_scenario(tmp_path: Path) -> Scenario:
    d = tmp_path / "sp"
    (d / "manifests").mkdir(parents=True)
    (d / "manifests" / "route.yaml").write_text(ROUTE)
    (d / "scenario.yaml").write_text(SPLIT_SCENARIO)
    return load_scenario(d)


def weighted(share_v2: float, live_after: float, seed: int = 7) -> Script:
    rng = random.Random(seed)

    def script(client: str, headers: Mapping[str, str], since: float | None) -> Outcome:
        if since is None or since < live_after:
            return Outcome(status=200, served_by="reviews-v1")  # the old route: no header
        version = "v2" if rng.random() < share_v2 else "v1"
        return Outcome(status=200, served_by=f"reviews-{version}", headers={"x-route": "weighted"})

    return script


def test_split_gates_then_samples(tmp_path: Path) -> None:
    clock = FakeClock()
    ops = ScriptedOps(clock, weighted(0.10, live_after=2.0))
    runner = Runner(
        ops, EventuallyChecker(clock=clock, sleep=clock.sleep), RunObserver(), clock=clock
    )
    result = runner.run(split_scenario(tmp_path))
    assert "setup_waypoint" in names(ops)
    assert names(ops).index("setup_waypoint") < names(ops).index("connect")
    (probe,) = result.steps[0].probes
    assert probe.verdict == "pass", probe.message
    assert probe.split_counts is not None
    assert set(probe.split_counts) == {"v1", "v2"}
    assert sum(probe.split_counts.values()) >= 10
    # The time to consistency is the gate's: the route went live 2 s after the apply.
    assert probe.time_to_consistency_s is not None and 2.0 <= probe.time_to_consistency_s < 2.2
    assert probe.attempts > sum(probe.split_counts.values())  # gate polls + samples


def test_a_wrong_split_fails_with_the_shares(tmp_path: Path) -> None:
    clock = FakeClock()
    ops = ScriptedOps(clock, weighted(0.5, live_after=0.0))
    runner = Runner(
        ops, EventuallyChecker(clock=clock, sleep=clock.sleep), RunObserver(), clock=clock
    )
    (probe,) = runner.run(split_scenario(tmp_path)).steps[0].probes
    assert probe.verdict == "fail"
    assert probe.message.startswith("fail after ")
    assert "v1" in probe.message and "expected 90%" in probe.message
    assert "diagnostics: artifacts/sp/shift" in probe.message


def test_every_split_sample_must_meet_the_rest_of_the_expectation(tmp_path: Path) -> None:
    scenario = split_scenario(tmp_path)
    text = (scenario.directory / "scenario.yaml").read_text()
    (scenario.directory / "scenario.yaml").write_text(
        text.replace(
            "expect: {split: {v1: 90, v2: 10}}", "expect: {split: {v1: 90, v2: 10}, l7: true}"
        )
    )
    clock = FakeClock()
    # The right split, but no Envoy in the path (l7 false): not what the scenario claims.
    ops = ScriptedOps(clock, weighted(0.10, live_after=0.0))
    checker = EventuallyChecker(clock=clock, sleep=clock.sleep)
    runner = Runner(ops, checker, RunObserver(), clock=clock)
    (probe,) = runner.run(load_scenario(scenario.directory)).steps[0].probes
    assert probe.verdict == "fail"
    n = sum(probe.split_counts.values()) if probe.split_counts else 0
    assert probe.message.startswith(
        f"{n} of {n} samples: expected l7 true, saw l7 false (pass after"
    )


def test_a_gate_that_never_holds_fails_without_sampling(tmp_path: Path) -> None:
    clock = FakeClock()
    ops = ScriptedOps(clock, weighted(0.1, live_after=1e9))
    runner = Runner(
        ops, EventuallyChecker(clock=clock, sleep=clock.sleep), RunObserver(), clock=clock
    )
    (probe,) = runner.run(split_scenario(tmp_path)).steps[0].probes
    assert probe.verdict == "fail"
    assert probe.split_counts is None
    assert probe.message.startswith(
        "the gate never held, so the split was not sampled: expected allowed, header x-route: "
        "weighted"
    )


# --- LiveOps against the fake API server and loopback agents ------------------------------


class Ztunnel:
    """Stands in for the mesh on loopback: relays to echo, or resets the connection once
    an AuthorizationPolicy exists on the fake API server (as ztunnel does for a denied peer)."""

    def __init__(self, api: FakeApiServer, upstream: int) -> None:
        self.api = api
        self.upstream = upstream
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def enforcing(self) -> bool:
        return bool(self.api.objects("AuthorizationPolicy"))

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.enforcing():
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()  # RST
                continue
            up = socket.create_connection(("127.0.0.1", self.upstream))
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.sock.close()


LOOPBACK_SCENARIO = """\
name: rt
title: loopback
description: d
dataplane: ambient
namespaces: [{name: rt}]
backends: [{service: ratings}]
clients: [{name: a}, {name: b}]
steps:
  - name: baseline
    title: baseline
    probes:
      - {from: a, url: "URL", expect: {outcome: allowed, l7: false}}
      - {from: b, url: "URL", expect: allowed}
  - name: policy
    title: policy
    apply: [manifests/policy.yaml]
    probes:
      - {from: b, url: "URL", expect: denied-l4, timing: {hold: 0.5, budget: 10}}
  - name: removed
    title: removed
    delete: [manifests/policy.yaml]
    probes:
      - {from: a, url: "URL", expect: allowed, timing: {budget: 10}}
"""


def loopback_scenario(root: Path, url: str) -> Scenario:
    d = root / "rt"
    (d / "manifests").mkdir(parents=True)
    (d / "manifests" / "policy.yaml").write_text(POLICY)
    (d / "scenario.yaml").write_text(LOOPBACK_SCENARIO.replace("URL", url))
    return load_scenario(d)


def pod(ns: str, name: str, app: str, *, annotated: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"app": app},
            "annotations": {"ambient.istio.io/redirection": "enabled"} if annotated else {},
        },
        "spec": {"nodeName": "kind-worker", "containers": [{"name": "agent"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def becomes_available(
    api: FakeApiServer, ns: str, name: str, app: str, annotated: bool = True
) -> None:
    """On its 2nd read the Deployment is Available and its pod exists (a kubelet's work)."""

    def hook(obj: dict[str, Any], n: int) -> None:
        if n == 2:
            api.add(pod(ns, f"{name}-5d8f9-x1", app, annotated=annotated))
        if n >= 2:
            obj["status"] = {
                "observedGeneration": obj["metadata"].get("generation", 1),
                "replicas": 1,
                "updatedReplicas": 1,
                "readyReplicas": 1,
                "availableReplicas": 1,
                "conditions": [{"type": "Available", "status": "True"}],
            }

    api.on_read("Deployment", ns, name, hook)


@pytest.fixture(scope="module")
def loopback_programs() -> Iterator[tuple[Program, dict[str, Program]]]:
    """The echo backend and the agent behind clients a and b, started once for these tests:
    neither keeps state a test could see (each test has its own API server, ztunnel and
    port-forwards, and kills only those). One agent process serves both pods: the agents of
    a and b would answer alike (the stand-in ztunnel judges no identity), so a second one
    could tell nothing apart; each client still has its own pod and port-forward."""
    with running(echo_args("ratings", "v1")) as echo, running(agent_args()) as agent:
        yield echo, {"a": agent, "b": agent}


@pytest.fixture
def loopback_mesh(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    loopback_programs: tuple[Program, dict[str, Program]],
) -> Iterator[dict[str, Any]]:
    echo, agents = loopback_programs
    api = FakeApiServer().start()
    zt = Ztunnel(api, echo.port)
    kubectl = write_kubectl(tmp_path / "bin")
    routes = {f"pod/agent-{c}-5d8f9-x1": agent.port for c, agent in agents.items()}
    monkeypatch.setenv("FAKE_KUBECTL_ROUTES", json.dumps(routes))
    monkeypatch.setenv("FAKE_KUBECTL_PIDS", str(tmp_path))
    try:
        yield {"api": api, "kubectl": kubectl, "ztunnel": zt, "agents": agents, "echo": echo}
    finally:
        zt.close()
        api.stop()


def test_live_ops_run_a_scenario_end_to_end_on_loopback(
    tmp_path: Path, loopback_mesh: dict[str, Any]
) -> None:
    api: FakeApiServer = loopback_mesh["api"]
    for name, app in (("ratings-v1", "ratings"), ("agent-a", "agent-a"), ("agent-b", "agent-b")):
        becomes_available(api, "rt", name, app)
    scenario = loopback_scenario(
        tmp_path / "s", f"http://127.0.0.1:{loopback_mesh['ztunnel'].port}/ratings/1"
    )
    kube = Kube(api.api_client(), poll_interval=0.01)
    ops = LiveOps(kube, loopback_mesh["kubectl"], None, tmp_path / "artifacts", ready_timeout_s=5)
    rec = Recorder()
    # The probes' pauses and the 0.5 s hold pass on the runner's clock, not the wall's.
    clock = SkewedClock()
    checker = EventuallyChecker(clock=clock, sleep=clock.sleep)
    result = Runner(ops, checker, rec, clock=clock).run(scenario)

    assert result.verdict == "pass", (
        result.error,
        [(s.name, s.error, [p.message for p in s.probes]) for s in result.steps],
    )
    baseline, policy, removed = result.steps
    assert removed.deleted == ["manifests/policy.yaml"]
    assert api.objects("AuthorizationPolicy") == []
    a = baseline.probes[0]
    assert a.observations[-1].served_by == "ratings-v1"
    assert a.observations[-1].l7 is False  # no Envoy on this path
    denied = policy.probes[0]
    assert denied.observations[-1].probe_error is ProbeError.RESET
    assert denied.time_to_consistency_s is not None and denied.time_to_consistency_s > 0
    # The request contract: namespace labelled first, workloads and the step preflighted
    # (dryRun=All) before being applied, with the harness's field manager.
    applies = [(r.path, r.dry_run) for r in api.patches()]
    assert applies[0] == ("/api/v1/namespaces/rt", False)
    policy_path = "/apis/security.istio.io/v1/namespaces/rt/authorizationpolicies/ratings-allow-a"
    assert applies.index((policy_path, True)) < applies.index((policy_path, False))
    assert all(r.param("fieldManager") == "ambient-harness" for r in api.patches())
    # Cleaned up: the namespace is gone, no port-forward process is left.
    assert api.get("Namespace", None, "rt") is None
    assert ops.links == []
    kube.close()
    for pid_file in tmp_path.iterdir():
        if pid_file.name.isdigit():
            with pytest.raises(ProcessLookupError):
                os.kill(int(pid_file.name), 0)


def test_live_ops_set_up_fails_on_a_pod_outside_the_mesh(
    tmp_path: Path, loopback_mesh: dict[str, Any]
) -> None:
    api: FakeApiServer = loopback_mesh["api"]
    becomes_available(api, "rt", "ratings-v1", "ratings", annotated=False)
    becomes_available(api, "rt", "agent-a", "agent-a")
    becomes_available(api, "rt", "agent-b", "agent-b")
    scenario = loopback_scenario(tmp_path / "s", "http://ratings:9080/")
    kube = Kube(api.api_client(), poll_interval=0.01)
    ops = LiveOps(
        kube,
        loopback_mesh["kubectl"],
        None,
        tmp_path / "artifacts",
        enrollment_timeout_s=0.05,
    )
    result = Runner(ops, EventuallyChecker(), RunObserver()).run(scenario)
    assert result.verdict == "error"
    assert result.error is not None
    assert "RedirectionError: rt: pods not redirected by ambient" in result.error
    assert "ratings-v1-5d8f9-x1" in result.error
    # Diagnostics were written for the set-up failure, and the namespace was removed.
    diag_dir = tmp_path / "artifacts" / "rt" / "set-up"
    assert f"diagnostics: {diag_dir}" in result.error
    assert (diag_dir / "events.txt").is_file()
    assert api.get("Namespace", None, "rt") is None
    kube.close()


def test_forwarded_agent_recovers_each_dropped_forward_that_carried_a_probe(
    tmp_path: Path, loopback_mesh: dict[str, Any]
) -> None:
    zt = loopback_mesh["ztunnel"]
    forward = PortForward(loopback_mesh["kubectl"], "rt", "pod/agent-a-5d8f9-x1", 15000)
    forward.start()
    link = ForwardedAgent(forward, health_timeout_s=5)
    try:
        link.wait_healthy()
        url = f"http://127.0.0.1:{zt.port}/x"
        assert link.probe("GET", url, {}, 2).served_by == "ratings-v1"
        assert forward.pid is not None
        os.kill(forward.pid, signal.SIGKILL)
        forward._proc.popen.wait(5)  # type: ignore[union-attr]
        assert link.probe("GET", url, {}, 2).served_by == "ratings-v1"
        assert forward.restarts == 1
        # The restarted forward carried that probe: a second drop in the run (another
        # eviction, a rollout) is recovered too, not a failure of every later probe.
        assert forward.pid is not None
        os.kill(forward.pid, signal.SIGKILL)
        forward._proc.popen.wait(5)  # type: ignore[union-attr]
        assert link.probe("GET", url, {}, 2).served_by == "ratings-v1"
        assert forward.restarts == 2
    finally:
        link.close()


def test_ready_pod_prefers_the_newest_ready_one() -> None:
    def p(
        name: str, created: str, phase: str = "Running", ready: str = "True", deleting: bool = False
    ) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "creationTimestamp": created}
        if deleting:
            meta["deletionTimestamp"] = created
        return {
            "metadata": meta,
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": ready}]},
        }

    assert ready_pod([]) is None
    assert ready_pod([p("old", "2026-01-01T00:00:00Z"), p("new", "2026-01-02T00:00:00Z")]) == "new"
    assert (
        ready_pod(
            [p("old", "2026-01-01T00:00:00Z"), p("new", "2026-01-02T00:00:00Z", deleting=True)]
        )
        == "old"
    )
    assert ready_pod([p("a", "1", ready="False"), p("b", "2", phase="Pending")]) is None


# --- the pytest session: one set-up per run, even across pytest-xdist workers ----------------


JOINERS = 3


def fork_joiner(directory: Path, log: Path, created: bool) -> int:
    """A process that joins the shared set-up as a pytest-xdist worker does: forked, so it
    has its own file descriptors (flock locks belong to them) without importing anything."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    joined = log.with_suffix(".joined")
    try:

        def bring_up() -> bool:
            with log.open("a") as f:
                f.write(f"start {time.monotonic()}\n")
            # Every joiner is at the lock by now (or past it, were it not held): in this
            # window an unserialised set-up would start.
            deadline = time.monotonic() + 10
            while len(joined.read_text().split()) < JOINERS and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(0.1)
            with log.open("a") as f:
                f.write(f"end {time.monotonic()}\n")
            return created

        with joined.open("a") as f:
            f.write(f"{os.getpid()}\n")
        SharedSetup(directory, "c").join(bring_up, lambda: None)
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)  # never back into pytest


def exit_code(pid: int, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def test_shared_setup_serialises_workers_and_the_last_one_tears_down(tmp_path: Path) -> None:
    log = tmp_path / "log"
    pids = [fork_joiner(tmp_path, log, created) for created in (True, False, False)]
    assert [exit_code(pid, 20) for pid in pids] == [0, 0, 0]
    events = [line.split() for line in log.read_text().splitlines()]
    # start/end strictly alternate: no two set-ups overlapped.
    assert [e[0] for e in events] == ["start", "end"] * 3
    times = [float(e[1]) for e in events]
    assert times == sorted(times)
    state = json.loads((tmp_path / "ambient-harness-c.json").read_text())
    assert state == {"users": 3, "created": True}

    torn: list[int] = []
    for i in range(3):
        worker = SharedSetup(tmp_path, "c", joined=True)
        assert worker.leave(lambda i=i: torn.append(i)) is (i == 2)  # type: ignore[misc]
    assert torn == [2]
    assert json.loads((tmp_path / "ambient-harness-c.json").read_text()) == {
        "users": 0,
        "created": False,
    }


def test_shared_setup_never_tears_down_a_cluster_it_did_not_create(tmp_path: Path) -> None:
    a, b = SharedSetup(tmp_path, "c"), SharedSetup(tmp_path, "c")
    a.join(lambda: False, lambda: None)
    b.join(lambda: False, lambda: None)
    ran: list[str] = []
    assert not a.leave(lambda: ran.append("a"))
    assert not b.leave(lambda: ran.append("b"))
    assert not b.leave(lambda: ran.append("b again"))  # leaving twice is a no-op
    assert ran == []


class _Factory:
    def __init__(self, base: Path) -> None:
        self.base = base

    def getbasetemp(self) -> Path:
        return self.base


class FakeConfig:
    """The parts of pytest.Config that live_session uses."""

    def __init__(self, options: dict[str, Any], basetemp: Path) -> None:
        self.stash = pytest.Stash()
        self.options = options
        self.cleanups: list[Callable[[], None]] = []
        self._tmp_path_factory = _Factory(basetemp)

    def getoption(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    def add_cleanup(self, fn: Callable[[], None]) -> None:
        self.cleanups.append(fn)


def test_live_session_is_built_once_and_a_failed_set_up_fails_each_scenario_fast(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no-such-kubeconfig"
    config = FakeConfig({"kube_context": "ctx", "kubeconfig": str(missing)}, tmp_path / "base")
    session = live_session(config)  # type: ignore[arg-type]
    assert isinstance(session, LiveSession)
    assert session.setup_error == f"ClusterError: kubeconfig {missing} does not exist"
    assert live_session(config) is session  # type: ignore[arg-type]
    assert len(config.cleanups) == 1
    result = session.run(write_scenario(tmp_path))
    assert result.verdict == "error"
    assert (
        result.error == f"session set-up failed: ClusterError: kubeconfig {missing} does not exist"
    )
    assert session.environment.provider == "existing"
    config.cleanups[0]()
    state = json.loads((tmp_path / "base" / "ambient-harness-ambient-harness.json").read_text())
    assert state == {"users": 0, "created": False}


class HalfCreatingKind(KindProvider):
    """`kind create` dies half-way (Ctrl-C, Docker out of space): nodes exist, no cluster."""

    def __init__(self) -> None:
        super().__init__("half")
        self.downs = 0

    def up(self) -> str:
        self.created = True
        raise ClusterError("`kind create cluster` failed (exit 1)")

    def down(self) -> str:
        self.downs += 1
        return "deleted kind cluster 'half'"


def test_a_half_created_kind_cluster_is_deleted_not_left_for_reuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = HalfCreatingKind()
    monkeypatch.setattr(SessionOptions, "provider", lambda self: provider)
    # The CLI: prepare() fails, close() (in run_scenarios' finally) removes the remains.
    # The doctor is not the subject (and this host fails it): skipped.
    session = LiveSession(SessionOptions("kind", "half", skip_doctor=True), say=lambda line: None)
    with pytest.raises(ClusterError):
        session.prepare()
    assert session.created_cluster
    session.close()
    assert provider.downs == 1
    # pytest: the worker that failed removes them at once, before releasing the set-up lock.
    provider.downs = 0
    config = FakeConfig({"cluster": "kind", "skip_doctor": True}, tmp_path / "base")
    failed = live_session(config)  # type: ignore[arg-type]
    assert failed.setup_error == "ClusterError: `kind create cluster` failed (exit 1)"
    assert provider.downs == 1
    config.cleanups[0]()
    assert provider.downs == 1  # and not twice
