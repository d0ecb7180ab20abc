"""harness.mesh.progress from recorded pod/event sequences, and the waits that print it and do
not charge a pull in progress to the budget (harness.mesh.readiness, on the fake API server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes.clocks import SkewedClock
from fakes.fake_apiserver import FakeApiServer
from mesh_objects import ISTIO, add_ns, daemonset

from harness.kube import wait as kube_wait
from harness.kube.client import Kube
from harness.kube.errors import WaitTimeout
from harness.kube.objects import daemonset_ref
from harness.mesh import progress
from harness.mesh.readiness import ReadinessCheck, selector_of, wait_ready

T0 = datetime(2026, 5, 1, 10, 0, 0, tzinfo=UTC)
IMAGE = "docker.io/istio/ztunnel:1.30.3"
NODE = "ambient-harness-worker2"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def stamp(seconds: float) -> str:
    return at(seconds).isoformat().replace("+00:00", "Z")


def event(
    pod: str, reason: str, message: str, seconds: float, type_: str = "Normal"
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{pod}.{reason}.{seconds}", "namespace": ISTIO},
        "involvedObject": {"kind": "Pod", "name": pod, "namespace": ISTIO},
        "reason": reason,
        "message": message,
        "type": type_,
        "firstTimestamp": stamp(seconds),
        "lastTimestamp": stamp(seconds),
    }


def pod(
    name: str,
    *,
    waiting: str | None = None,
    running: bool = False,
    ready: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    state: dict[str, Any] = (
        {"running": {}} if running else {"waiting": {"reason": waiting or "ContainerCreating"}}
    )
    status: dict[str, Any] = {
        "phase": "Running" if running or waiting == "CrashLoopBackOff" else "Pending",
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        "containerStatuses": [
            {"name": "istio-proxy", "image": IMAGE, "ready": ready, "state": state, **extra}
        ],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ISTIO, "labels": {"app": "ztunnel"}},
        "spec": {"nodeName": NODE, "containers": [{"name": "istio-proxy", "image": IMAGE}]},
        "status": status,
    }


PULLING = event("ztunnel-abc", "Pulling", f'Pulling image "{IMAGE}"', 0)
PULLED = event("ztunnel-abc", "Pulled", f'Successfully pulled image "{IMAGE}" in 19.2s', 20)


def test_a_pull_in_progress_shows_image_node_and_time() -> None:
    found = progress.activity([pod("ztunnel-abc")], [PULLING], at(14))
    assert found is not None
    assert found.line == f'Pulling image "{IMAGE}" on {NODE} (14 s)'
    assert found.pulling_for == 14


def test_the_recorded_sequence_of_a_crash_looping_ztunnel() -> None:
    """Pulling, then running but not Ready, then the crash loop: one line per moment."""
    crash = pod(
        "ztunnel-abc",
        waiting="CrashLoopBackOff",
        restartCount=3,
        lastState={
            "terminated": {"exitCode": 1, "reason": "Error", "message": "too many open files\n"}
        },
    )
    moments = [
        ([pod("ztunnel-abc")], [PULLING], 14),
        ([pod("ztunnel-abc", running=True)], [PULLING, PULLED], 25),
        ([crash], [PULLING, PULLED], 90),
    ]
    lines = [
        progress.wait_line("istio-system/ztunnel", pods, evs, at(t), t) for pods, evs, t in moments
    ]
    assert lines == [
        f'istio-system/ztunnel: 0/1 pods ready (14 s); Pulling image "{IMAGE}" on {NODE} (14 s)',
        f"istio-system/ztunnel: 0/1 pods ready (25 s); ztunnel-abc on {NODE} is running, "
        "not Ready yet",
        f"istio-system/ztunnel: 0/1 pods ready (90 s); CrashLoopBackOff: too many open files "
        f"(ztunnel-abc on {NODE}, 3 restarts)",
    ]


def test_a_crash_without_a_message_says_the_exit_code() -> None:
    crash = pod(
        "z",
        waiting="CrashLoopBackOff",
        restartCount=1,
        lastState={"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
    )
    assert (
        progress.activity([crash], [], at(0)).line
        == f"CrashLoopBackOff: OOMKilled (exit code 137) (z on {NODE}, 1 restarts)"
    )  # type: ignore[union-attr]


def test_the_crash_is_shown_before_another_pods_pull() -> None:
    crash = pod(
        "ztunnel-x",
        waiting="CrashLoopBackOff",
        restartCount=2,
        lastState={"terminated": {"message": "too many open files"}},
    )
    found = progress.activity([pod("ztunnel-abc"), crash], [PULLING], at(5))
    assert found is not None and found.kind == "crash"


def test_pull_failures_and_scheduling() -> None:
    backoff = pod("z", waiting="ImagePullBackOff")
    backoff["status"]["containerStatuses"][0]["state"]["waiting"]["message"] = (
        f'Back-off pulling image "{IMAGE}": toomanyrequests: You have reached your '
        "unauthenticated pull rate limit."
    )
    found = progress.activity([backoff], [], at(0))
    assert found is not None and found.line.startswith(
        f'ImagePullBackOff on {NODE}: Back-off pulling image "{IMAGE}": toomanyrequests'
    )
    pending = pod("p")
    del pending["spec"]["nodeName"]
    pending["status"]["conditions"] = [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 Insufficient memory.",
        }
    ]
    pending["status"]["containerStatuses"] = []
    assert (
        progress.activity([pending], [], at(0)).line
        == "Unschedulable: 0/3 nodes are available: 3 Insufficient memory."
    )  # type: ignore[union-attr]


def test_a_pull_is_over_once_pulled_and_ready_pods_say_nothing() -> None:
    assert progress.pulls_in_progress([PULLING, PULLED], "ztunnel-abc", at(30)) == []
    assert (
        progress.activity([pod("ztunnel-abc", running=True, ready=True)], [PULLING, PULLED], at(30))
        is None
    )
    assert progress.wait_line("x", [], [], at(0), 3) == "x: no pod yet (3 s)"


def test_selector_of_a_workload() -> None:
    assert (
        selector_of({"spec": {"selector": {"matchLabels": {"k8s-app": "ztunnel", "a": "b"}}}})
        == "a=b,k8s-app=ztunnel"
    )
    assert selector_of(None) is None


# --- the waits ------------------------------------------------------------------------------


def seed_pulling_ztunnel(api: FakeApiServer, *, pulled: bool = False) -> None:
    add_ns(api, ISTIO)
    ds = daemonset("ztunnel", ready=0)
    ds["spec"] = {"selector": {"matchLabels": {"app": "ztunnel"}}}
    api.add(ds)
    api.add(pod("ztunnel-abc"))
    now = datetime.now(UTC)
    started = event("ztunnel-abc", "Pulling", f'Pulling image "{IMAGE}"', 0)
    started["firstTimestamp"] = started["lastTimestamp"] = now.isoformat().replace("+00:00", "Z")
    api.add(started)
    if pulled:
        done = event("ztunnel-abc", "Pulled", f'Successfully pulled image "{IMAGE}"', 0)
        later = (now + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
        done["firstTimestamp"] = done["lastTimestamp"] = later
        api.add(done)


ZTUNNEL = [ReadinessCheck(daemonset_ref(ISTIO, "ztunnel"), "rolled-out")]


@pytest.fixture
def skewed(monkeypatch: pytest.MonkeyPatch) -> SkewedClock:
    """The client's waits pause on a skewed clock: each read is real, the pauses between
    them (and so the budgets) take no wall time."""
    clock = SkewedClock()
    monkeypatch.setattr(kube_wait, "time", clock)
    return clock


def test_a_pull_in_progress_is_not_charged_to_the_budget(
    api: FakeApiServer, kube: Kube, skewed: SkewedClock
) -> None:
    seed_pulling_ztunnel(api)
    lines: list[str] = []
    with pytest.raises(WaitTimeout):
        wait_ready(
            kube, ZTUNNEL, timeout=0.05, output=lines.append, pull_allowance=0.3, pull_step=0.1
        )
    extended = [line for line in lines if "not charged to the budget" in line]
    assert len(extended) == 3  # 0.3 s in 0.1 s steps, then the timeout stands
    assert extended[0].startswith(f'Pulling image "{IMAGE}" on {NODE} (')


def test_the_pull_allowance_lets_a_slow_first_pull_finish(
    api: FakeApiServer, kube: Kube, skewed: SkewedClock
) -> None:
    seed_pulling_ztunnel(api)

    def rolled_out_later(obj: dict[str, Any], n: int) -> None:
        if n >= 40:  # well after the 0.05 s budget (reads every 5 ms), within the allowance
            obj["status"]["numberReady"] = 2

    api.on_read("DaemonSet", ISTIO, "ztunnel", rolled_out_later)
    wait_ready(kube, ZTUNNEL, timeout=0.05, pull_allowance=5.0, pull_step=0.5)
    assert api.reads("DaemonSet", ISTIO, "ztunnel") >= 40


def test_without_a_pull_the_budget_is_the_budget(
    api: FakeApiServer, kube: Kube, skewed: SkewedClock
) -> None:
    seed_pulling_ztunnel(api, pulled=True)
    lines: list[str] = []
    with pytest.raises(WaitTimeout):
        wait_ready(
            kube, ZTUNNEL, timeout=0.05, output=lines.append, pull_allowance=5.0, pull_step=0.1
        )
    assert not [line for line in lines if "not charged" in line]


def test_progress_ticks_show_the_pods(api: FakeApiServer, skewed: SkewedClock) -> None:
    seed_pulling_ztunnel(api)
    ticking = Kube(api.api_client(), poll_interval=0.05, progress_every=0.1)
    lines: list[str] = []
    try:
        with pytest.raises(WaitTimeout):
            # The budget is of the wall's clock: 0.5 s leaves room for a tick even when a
            # loaded machine makes the first reads (pod selector, discovery) take 0.3 s. The
            # polls and ticks pace on the client's skewed clock: ~10 reads, no wall time.
            wait_ready(ticking, ZTUNNEL, timeout=0.5, output=lines.append)
    finally:
        ticking.close()
    assert lines and all(
        line.startswith("DaemonSet istio-system/ztunnel: 0/1 pods ready (") for line in lines
    ), lines
    assert f'Pulling image "{IMAGE}" on {NODE}' in lines[-1]
    assert ticking.progress is None  # restored after the wait
