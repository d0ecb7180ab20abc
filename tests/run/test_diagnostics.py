"""harness.run.diagnostics: what a failed step leaves behind, capped, independent collectors."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from fakes.fake_apiserver import CORE_TYPES, FakeApiServer
from fakes.standin import SHEBANG

from harness.kube.client import Kube
from harness.model.outcome import Kind, Outcome, ProbeError
from harness.model.results import ProbeResult
from harness.model.scenario import Expect
from harness.model.topology import WaypointPlan
from harness.run import diagnostics
from harness.run.diagnostics import CommandResult, Limits, Request, cap, collect

NS = "ambient-authz-l4"
ZT = "istio-system"


def pod(
    ns: str,
    name: str,
    node: str,
    *,
    containers: Sequence[str] = ("app",),
    labels: dict[str, str] | None = None,
    restarts: int = 0,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": {"nodeName": node, "containers": [{"name": c} for c in containers]},
        "status": {
            "phase": "Running",
            "containerStatuses": [{"name": c, "restartCount": restarts} for c in containers],
        },
    }


def seed(api: FakeApiServer) -> None:
    for ns in (NS, ZT):
        api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    api.add(pod(NS, "agent-reviews-1", "node-a", containers=["agent"]))
    api.add(pod(NS, "ratings-v1-1", "node-b", containers=["echo"], restarts=1))
    api.add(
        pod(
            NS,
            "waypoint-7",
            "node-a",
            containers=["istio-proxy"],
            labels={"gateway.networking.k8s.io/gateway-name": "waypoint"},
        )
    )
    for node in ("node-a", "node-b", "node-c"):
        api.add(
            pod(ZT, f"ztunnel-{node}", node, labels={"app": "ztunnel"}, containers=["istio-proxy"])
        )
        api.set_logs(ZT, f"ztunnel-{node}", f"ztunnel on {node}: connection complete\n")
    api.set_logs(NS, "agent-reviews-1", "agent: GET http://ratings:9080 -> reset\n")
    api.set_logs(NS, "ratings-v1-1", "echo: listening\n")
    api.set_logs(NS, "ratings-v1-1", "echo: crashed before\n", previous=True)
    api.set_logs(NS, "waypoint-7", '[2030-01-01] "GET /ratings/1" 403 rbac_access_denied\n')
    api.add(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": "ratings-allow-productpage", "namespace": NS},
            "spec": {"selector": {"matchLabels": {"app": "ratings"}}, "action": "ALLOW"},
            "status": {
                "conditions": [
                    {
                        "type": "ZtunnelAccepted",
                        "status": "True",
                        "reason": "Accepted",
                        "message": "attached to ztunnel",
                    }
                ]
            },
        }
    )
    api.add(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "e1", "namespace": NS},
            "type": "Warning",
            "reason": "BackOff",
            "count": 4,
            "lastTimestamp": "2030-01-01T00:00:01Z",
            "involvedObject": {"kind": "Pod", "name": "ratings-v1-1"},
            "message": "Back-off restarting failed container",
        }
    )


def probe_result() -> ProbeResult:
    return ProbeResult(
        client="reviews",
        method="GET",
        url="http://ratings:9080/ratings/1",
        expect=Expect(outcome=Kind.ALLOWED),
        verdict="fail",
        attempts=7,
        observations=[Outcome(status=502, probe_error=ProbeError.RESET, elapsed_ms=3.0)],
        message="expected allowed 3 times in a row within 30s; last: denied-l4 (reset)",
    )


def request(**kw: Any) -> Request:
    base: dict[str, Any] = dict(
        scenario="ambient-authz-l4",
        step="l4-policy",
        namespaces=[NS],
        manifests={"manifests/ratings-allow-productpage.yaml": "kind: AuthorizationPolicy\n"},
        probes=[probe_result()],
        waypoints=[WaypointPlan("waypoint", NS, "service", ("ratings",), False)],
    )
    base.update(kw)
    return Request(**base)


class Recorder:
    def __init__(self, stdout: str = "NAMESPACE POD NAME ADDRESS NODE WAYPOINT PROTOCOL\n"):
        self.calls: list[tuple[list[str], float]] = []
        self.stdout = stdout

    def __call__(self, argv: Sequence[str], timeout: float) -> CommandResult:
        self.calls.append((list(argv), timeout))
        return CommandResult(0, self.stdout + f"{argv[-1]} ratings-v1-1 HBONE\n", "")


def test_collects_every_section_and_writes_them(
    api: FakeApiServer, kube: Kube, tmp_path: Path
) -> None:
    seed(api)
    runner = Recorder()
    diag = collect(
        kube, request(), artifacts_dir=tmp_path, istioctl=Path("/bin/istioctl"), runner=runner
    )

    names = [s.name for s in diag.sections]
    assert names == [
        "probes",
        "manifests",
        "authorization-policies",
        "events",
        "ztunnel-config",
        f"waypoint-{NS}-waypoint",
        "ztunnel-node-a",
        "ztunnel-node-b",
        f"pod-{NS}-agent-reviews-1",
        f"pod-{NS}-ratings-v1-1",
    ]
    assert all(s.error is None for s in diag.sections)
    text = {s.name: s.text for s in diag.sections}
    assert "denied-l4 (reset)" in text["probes"] and "attempts: 7" in text["probes"]
    assert "# --- manifests/ratings-allow-productpage.yaml" in text["manifests"]
    assert (
        f"{NS}/ratings-allow-productpage action=ALLOW via selector: "
        "ZtunnelAccepted=True Accepted: attached to ztunnel"
    ) in text["authorization-policies"]
    assert "Warning BackOff Pod/ratings-v1-1 (x4): Back-off" in text["events"]
    assert "rbac_access_denied" in text[f"waypoint-{NS}-waypoint"]
    # ztunnel logs only from the nodes hosting scenario pods.
    assert "ztunnel on node-a" in text["ztunnel-node-a"]
    assert "ztunnel-node-c" not in names
    assert "crashed before" in text[f"pod-{NS}-ratings-v1-1"]  # previous run of a restart
    assert "[previous run]" in text[f"pod-{NS}-ratings-v1-1"]
    # istioctl: an argument list, per namespace, with the command timeout.
    ((argv, timeout),) = runner.calls
    assert argv == ["/bin/istioctl", "ztunnel-config", "workloads", "--workload-namespace", NS]
    assert timeout == Limits().command_timeout_s
    # Files: <artifacts>/<scenario>/<step>/<section>.txt
    out = tmp_path / "ambient-authz-l4" / "l4-policy"
    assert diag.directory == out
    assert sorted(p.stem for p in out.glob("*.txt")) == sorted(names)
    assert (out / "probes.txt").read_text().startswith("FAIL  reviews -> GET")
    assert diag.report_sections()[0] == ("probe outcomes", text["probes"])


def test_a_log_larger_than_the_item_cap_keeps_its_end(api: FakeApiServer, kube: Kube) -> None:
    seed(api)
    big = "".join(f"ztunnel line {i:05d}\n" for i in range(20_000))
    api.set_logs(ZT, "ztunnel-node-a", big)
    limits = Limits(per_item_bytes=4096, log_tail_lines=100_000)
    diag = collect(kube, request(), limits=limits, runner=Recorder())
    sec = diag.section("ztunnel-node-a")
    assert sec.truncated
    assert len(sec.text.encode()) <= 4096
    assert "truncated" in sec.text.splitlines()[0]
    assert sec.text.rstrip().endswith("ztunnel line 19999")
    # Bounded by lines at the API (limitBytes would keep the start of the window instead).
    logreq = api.calls("GET", f"/api/v1/namespaces/{ZT}/pods/ztunnel-node-a/log")[0]
    assert logreq.param("tailLines") == "100000" and logreq.param("limitBytes") is None


def test_the_total_budget_cuts_then_omits_later_sections(api: FakeApiServer, kube: Kube) -> None:
    seed(api)
    for name in ("agent-reviews-1", "ratings-v1-1", "waypoint-7"):
        api.set_logs(NS, name, "x" * 5000 + "\n")
    limits = Limits(per_item_bytes=6000, total_bytes=8000)
    diag = collect(kube, request(), limits=limits, runner=Recorder())
    omitted = [s for s in diag.sections if s.text.startswith("[omitted")]
    assert omitted, "later sections must be omitted once the budget is spent"
    kept = [s for s in diag.sections if s not in omitted]
    assert sum(len(s.text.encode()) for s in kept) <= 8000
    assert diag.sections[0].name == "probes" and not diag.sections[0].truncated
    assert all(s.truncated for s in omitted)
    assert diag.sections[-1] in omitted  # pod logs come last


def test_collectors_are_independent(api: FakeApiServer, kube: Kube, tmp_path: Path) -> None:
    seed(api)

    def broken_runner(argv: Sequence[str], timeout: float) -> CommandResult:
        raise subprocess.TimeoutExpired(list(argv), timeout)

    diag = collect(
        kube,
        request(),
        artifacts_dir=tmp_path,
        istioctl=Path("/bin/istioctl"),
        runner=broken_runner,
    )
    z = diag.section("ztunnel-config")
    assert z.error is not None and "TimeoutExpired" in z.error
    assert z.text.startswith("collector ztunnel-config failed:")
    assert "rbac_access_denied" in diag.section(f"waypoint-{NS}-waypoint").text
    assert (tmp_path / "ambient-authz-l4" / "l4-policy" / "ztunnel-config.txt").exists()

    no_istioctl = collect(kube, request(), istioctl=None)
    assert "istioctl is not available" in no_istioctl.section("ztunnel-config").text
    assert no_istioctl.section("events").error is None


def test_an_api_failure_is_recorded_in_its_section_only() -> None:
    # No Istio types served: listing AuthorizationPolicies fails, everything else works.
    with FakeApiServer(CORE_TYPES) as api:
        kube = Kube(api.api_client(), poll_interval=0.005)
        seed_core_only(api)
        diag = collect(kube, request(waypoints=[]), runner=Recorder(), istioctl=Path("x"))
        ap = diag.section("authorization-policies")
        assert ap.error is not None and "AuthorizationPolicy" in ap.text
        assert diag.section("events").error is None
        assert "reset" in diag.section(f"pod-{NS}-agent-reviews-1").text
        kube.close()


def seed_core_only(api: FakeApiServer) -> None:
    for ns in (NS, ZT):
        api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    api.add(pod(NS, "agent-reviews-1", "node-a", containers=["agent"]))
    api.set_logs(NS, "agent-reviews-1", "agent: reset\n")


def test_a_container_whose_logs_fail_does_not_hide_the_others(
    api: FakeApiServer, kube: Kube
) -> None:
    seed(api)
    # previous=True logs are missing for this restarted container: the API answers 400.
    api.add(pod(NS, "flaky", "node-a", containers=["agent"], restarts=2))
    api.set_logs(NS, "flaky", "current run ok\n")
    diag = collect(kube, request(), runner=Recorder())
    text = diag.section(f"pod-{NS}-flaky").text
    assert "current run ok" in text
    assert "logs unavailable: HTTP 400" in text


def test_a_real_istioctl_stand_in_is_run_with_a_timeout(
    api: FakeApiServer, kube: Kube, tmp_path: Path
) -> None:
    seed(api)
    script = tmp_path / "istioctl"
    script.write_text(f"{SHEBANG}\nimport sys\nprint('ARGS', *sys.argv[1:])\n")
    script.chmod(0o755)
    diag = collect(kube, request(), istioctl=script)
    assert (
        f"ARGS ztunnel-config workloads --workload-namespace {NS}"
        in diag.section("ztunnel-config").text
    )

    slow = tmp_path / "slow-istioctl"
    slow.write_text(f"{SHEBANG}\nimport time\ntime.sleep(30)\n")
    slow.chmod(0o755)
    diag = collect(kube, request(), istioctl=slow, limits=Limits(command_timeout_s=0.1))
    assert "TimeoutExpired" in (diag.section("ztunnel-config").error or "")


@pytest.mark.parametrize("keep", ["head", "tail"])
def test_cap_respects_the_byte_limit_and_utf8(keep: diagnostics.Keep) -> None:
    text = "é" * 1000  # 2 bytes each
    out, cut = cap(text, 301, keep)
    assert cut and len(out.encode()) <= 301
    assert "truncated" in out
    out.encode().decode()  # still valid UTF-8
    assert cap("short", 100, keep) == ("short", False)
    tiny, cut = cap(text, 10, keep)
    assert cut and len(tiny.encode()) <= 10


def test_slug_is_file_safe() -> None:
    assert diagnostics.slug("Pod ambient/ratings v1!") == "pod-ambient-ratings-v1"
    assert diagnostics.slug("../..") == "section"


def test_a_native_sidecars_access_log_is_collected(
    api: FakeApiServer, kube: Kube, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Istio injects istio-proxy as an init container with restartPolicy Always on current
    Kubernetes; in sidecar mode its access log shows the L7 decision (e.g. the 403)."""
    seed_core_only(api)
    sidecar_pod = pod(NS, "ratings-v1-2", "node-a", containers=["echo"])
    sidecar_pod["spec"]["initContainers"] = [
        {"name": "istio-validation"},  # one-shot: not collected
        {"name": "istio-proxy", "restartPolicy": "Always"},
    ]
    sidecar_pod["status"]["initContainerStatuses"] = [
        {"name": "istio-validation", "restartCount": 0},
        {"name": "istio-proxy", "restartCount": 1},
    ]
    api.add(sidecar_pod)
    # The API server serves init containers' logs too; the fake only knows `containers`.
    asked: list[tuple[str, str | None, bool]] = []

    def pod_logs(ns: str, name: str, container: str | None = None, **kw: Any) -> str:
        asked.append((name, container, kw.get("previous", False)))
        return f"{container} log{' (previous)' if kw.get('previous') else ''}"

    monkeypatch.setattr(kube, "pod_logs", pod_logs)
    diag = collect(kube, request(waypoints=[]), runner=Recorder())
    text = diag.section(f"pod-{NS}-ratings-v1-2").text
    assert [a for a in asked if a[0] == "ratings-v1-2"] == [
        ("ratings-v1-2", "echo", False),
        ("ratings-v1-2", "istio-proxy", False),
        ("ratings-v1-2", "istio-proxy", True),
    ]
    assert "container istio-proxy (node node-a, phase Running, restarts 1)" in text
    assert "istio-proxy log (previous)" in text
    assert "istio-validation" not in text


UNSCHEDULABLE = {
    "type": "PodScheduled",
    "status": "False",
    "reason": "Unschedulable",
    "message": "0/1 nodes are available: 1 Insufficient cpu.",
}


def test_logs_of_an_unscheduled_pod_say_why_they_are_empty(api: FakeApiServer, kube: Kube) -> None:
    # Issue 11 item 9: the API server answers 204 (no text) for a pod that is on no node.
    seed(api)
    pending = pod(NS, "ratings-v2-1", "", containers=["echo"])
    pending["spec"].pop("nodeName")
    pending["status"] = {"phase": "Pending", "conditions": [UNSCHEDULABLE]}
    api.add(pending)

    diag = collect(kube, request(waypoints=[]), runner=Recorder())

    text = diag.section(f"pod-{NS}-ratings-v2-1").text
    assert (
        "(no logs: the pod is not scheduled on a node: PodScheduled=False Unschedulable: "
        "0/1 nodes are available: 1 Insufficient cpu.)"
    ) in text
    log_calls = api.calls("GET", f"/api/v1/namespaces/{NS}/pods/ratings-v2-1/log")
    assert log_calls, "the log was asked for (and answered 204)"


def test_events_are_listed_in_time_order_whatever_their_timestamp_precision(
    api: FakeApiServer, kube: Kube
) -> None:
    seed(api)
    # eventTime has microseconds, lastTimestamp seconds: as strings, "...00.5Z" < "...00Z".
    api.add(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "later", "namespace": NS},
            "type": "Normal",
            "reason": "Later",
            "eventTime": "2030-01-01T00:00:01.500000Z",
            "involvedObject": {"kind": "Pod", "name": "ratings-v1-1"},
        }
    )

    diag = collect(kube, request(waypoints=[]), runner=Recorder())

    lines = diag.section("events").text.splitlines()
    reasons = [line.split()[2] for line in lines[1:]]
    assert reasons == ["BackOff", "Later"]  # 00:00:01 before 00:00:01.5
    assert lines[2].startswith("2030-01-01T00:00:01.500000Z Normal Later")
