"""ForwardedAgent recovering the way a real cluster needs: replaced pods, restarted containers,
kubectl exiting on a refused connection, late answers that are not dead forwards.

Real parts: the agent and echo programs on loopback, `Kube` against the fake API server,
and the fake kubectl (which, like the real one, exits on the first refused connection).
"""

from __future__ import annotations

import json
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from fakes.envoy_fixture import Program, agent_args, echo_args, running, start_program
from fakes.fake_apiserver import FakeApiServer
from fakes.fake_link import Call, FakeLink
from fakes.kubectl_launcher import write_kubectl
from fakes.pods import running_pod, set_ready
from fakes.prompt_server import PromptServer
from helpers import closed_port

from harness.host.portforward import PortForward
from harness.kube.client import Kube
from harness.model.outcome import Kind, Outcome, ProbeError
from harness.probe import prober as prober_module
from harness.probe.backends import (
    BackendRestarting,
    KubeBackendReadiness,
    check_backends,
    service_of,
)
from harness.probe.forwarded import ForwardedAgent
from harness.probe.prober import AgentLate, AgentUnreachable

NS = "pf"
SELECTOR = "app=agent-a"


def pod(name: str, app: str = "agent-a", *, ready: bool = True) -> dict[str, Any]:
    return running_pod(name, app, NS, ready=ready, container="agent")


class Routes:
    """The fake kubectl's routing table (pod -> local port), read on every connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.table: dict[str, int] = {}
        self.write()

    def set(self, target: str, port: int | None) -> None:
        if port is None:
            self.table.pop(target, None)
        else:
            self.table[target] = port
        self.write()

    def write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.table))
        tmp.replace(self.path)  # atomic: kubectl never reads half a table


@pytest.fixture
def kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = write_kubectl(tmp_path)
    monkeypatch.delenv("FAKE_KUBECTL_UPSTREAM", raising=False)
    monkeypatch.delenv("FAKE_KUBECTL_ROUTES", raising=False)
    monkeypatch.setenv("FAKE_KUBECTL_ROUTES_FILE", str(tmp_path / "routes.json"))
    return script


@pytest.fixture
def routes(tmp_path: Path, kubectl: Path) -> Routes:
    return Routes(tmp_path / "routes.json")


@pytest.fixture
def cluster(api: FakeApiServer) -> FakeApiServer:
    api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    return api


@pytest.fixture(scope="module")
def echo() -> Iterator[Program]:
    with running(echo_args("ratings", "v1")) as program:
        yield program


@pytest.fixture(scope="module")
def spare() -> Iterator[Program]:
    """A live agent for the pods a test never stops (a replacement, a restarted container):
    started once, since an agent keeps no state a test could see. An agent a test stops or
    kills is its own."""
    with running(agent_args()) as program:
        yield program


def open_link(kube: Kube, kubectl: Path, **kwargs: Any) -> ForwardedAgent:
    kwargs.setdefault("ready_timeout_s", 10)
    kwargs.setdefault("health_timeout_s", 10)
    # Polls /healthz often: these tests are about when the wait ends, not about its pace.
    kwargs.setdefault("health_interval_s", 0.01)
    return ForwardedAgent.open(kube, kubectl, NS, SELECTOR, 14000, **kwargs)


# --- item 1: a replaced pod ----------------------------------------------------------------


def test_a_replaced_pod_is_waited_for_and_the_forward_retargeted(
    cluster: FakeApiServer,
    kube: Kube,
    kubectl: Path,
    routes: Routes,
    echo: Program,
    spare: Program,
) -> None:
    first = start_program(agent_args())
    replacement = spare
    cluster.add(pod("agent-a-1"))
    routes.set("pod/agent-a-1", first.port)
    link = open_link(kube, kubectl)
    try:
        assert link.probe("GET", f"{echo.url}/x", {}, 2).served_by == "ratings-v1"
        # The pod is deleted: its agent drains and exits, kubectl loses it; the ReplicaSet's
        # replacement exists at once but is Ready only on the 5th look (a kubelet's work).
        assert first.stop(signal.SIGTERM) == 0
        routes.set("pod/agent-a-1", None)
        old = cluster.get("Pod", NS, "agent-a-1")
        assert old is not None
        old["metadata"]["deletionTimestamp"] = "2026-12-01T00:00:00Z"
        cluster.add(old)
        cluster.add(pod("agent-a-2", ready=False))
        routes.set("pod/agent-a-2", replacement.port)
        cluster.on_read("Pod", NS, "agent-a-2", lambda obj, n: set_ready(obj, n >= 5))

        assert link.probe("GET", f"{echo.url}/y", {}, 2).served_by == "ratings-v1"
        assert link.forward.target == "pod/agent-a-2"
        assert link.forward.restarts == 1  # one re-established forward, however long it took
    finally:
        link.close()
        first.stop()


def test_no_ready_replacement_is_not_counted_as_a_restart(
    cluster: FakeApiServer,
    kube: Kube,
    kubectl: Path,
    routes: Routes,
    echo: Program,
    spare: Program,
) -> None:
    agent = start_program(agent_args())
    cluster.add(pod("agent-a-1"))
    routes.set("pod/agent-a-1", agent.port)
    link = open_link(kube, kubectl, ready_timeout_s=0.15)
    try:
        assert link.probe("GET", f"{echo.url}/x", {}, 2).status == 200
        assert agent.stop(signal.SIGTERM) == 0
        routes.set("pod/agent-a-1", None)
        cluster.add(pod("agent-a-1", ready=False))  # its container is not running
        # Like kubectl, the forward exits on the first connection it cannot carry. Made here:
        # else the probe below may fail on its kept-alive connection alone, leaving the old
        # forward up for the last probe to reach without a restart (seen on a loaded machine).
        with socket.create_connection(("127.0.0.1", link.forward.port), timeout=5) as s:
            assert s.recv(1) == b""
        assert link.forward._proc is not None
        assert link.forward._proc.popen.wait(10) == 1
        with pytest.raises(AgentUnreachable, match="no Ready agent pod"):
            link.probe("GET", f"{echo.url}/x", {}, 2)
        assert link.forward.restarts == 0
        # Once a pod is Ready again, the next probe recovers (the budget was not spent). The
        # short wait was for the missing pod; the recovery (a new forward, a health check)
        # gets room on a loaded machine.
        link.ready_timeout_s = 10
        cluster.add(pod("agent-a-1"))
        routes.set("pod/agent-a-1", spare.port)
        assert link.probe("GET", f"{echo.url}/x", {}, 2).status == 200
        assert link.forward.restarts == 1
    finally:
        link.close()
        agent.stop()


# --- item 2: kubectl exits on a refused connection; a restarted container ------------------


def test_fake_kubectl_exits_on_the_first_refused_connection(kubectl: Path, routes: Routes) -> None:
    routes.set("pod/agent-a-1", closed_port())
    with PortForward(kubectl, NS, "pod/agent-a-1", 14000) as forward:
        with socket.create_connection(("127.0.0.1", forward.port), timeout=5) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                answer = s.recv(1)
            except ConnectionResetError:
                answer = b""
        assert answer == b""  # closed without an answer
        assert forward._proc is not None
        assert forward._proc.popen.wait(10) == 1
        assert not forward.alive()
        assert "error: lost connection to pod" in forward.output()
        assert "connect: Connection refused" in forward.output()


def test_a_restarted_container_is_reconnected_once_ready(
    cluster: FakeApiServer,
    kube: Kube,
    kubectl: Path,
    routes: Routes,
    echo: Program,
    spare: Program,
) -> None:
    crashed = start_program(agent_args())
    restarted = spare
    cluster.add(pod("agent-a-1"))
    routes.set("pod/agent-a-1", crashed.port)
    # Far longer than the recovery may take: a wait that polls a dead forward cannot finish.
    link = open_link(kube, kubectl, ready_timeout_s=5, health_timeout_s=60)
    try:
        assert link.probe("GET", f"{echo.url}/x", {}, 2).status == 200
        assert crashed.stop(signal.SIGKILL) == -signal.SIGKILL
        # The kubelet has not noticed yet: the pod still reads Ready for 3 more looks, while
        # the new container does not listen; then it listens (and the pod is Ready for real).
        first_look = cluster.reads("Pod", NS, "agent-a-1")

        def kubelet(obj: dict[str, Any], n: int) -> None:
            if n == first_look + 3:
                routes.set("pod/agent-a-1", restarted.port)

        cluster.on_read("Pod", NS, "agent-a-1", kubelet)
        assert link.probe("GET", f"{echo.url}/x", {}, 2).status == 200
        assert link.forward.restarts == 1  # the forwards that died on a refusal do not count
        assert link.forward.target == "pod/agent-a-1"
    finally:
        link.close()
        crashed.stop()


def test_open_without_a_ready_pod_is_unreachable(
    cluster: FakeApiServer, kube: Kube, kubectl: Path, routes: Routes
) -> None:
    cluster.add(pod("agent-a-1", ready=False))
    with pytest.raises(AgentUnreachable, match=r"no Ready agent pod .*agent-a-1 Running"):
        open_link(kube, kubectl, ready_timeout_s=0.1)


def test_initial_health_wait_stops_when_the_forward_exits(
    cluster: FakeApiServer, kube: Kube, kubectl: Path, routes: Routes
) -> None:
    cluster.add(pod("agent-a-1"))
    routes.set("pod/agent-a-1", closed_port())  # Ready in the API, nothing listening
    with pytest.raises(AgentUnreachable, match="the port-forward exited") as caught:
        open_link(kube, kubectl, health_timeout_s=600)
    assert "lost connection to pod" in str(caught.value)


# --- item 3: a late answer is not a dead forward -------------------------------------------


@pytest.fixture
def slow_agent() -> Iterator[int]:
    """An agent that answers /healthz at once and holds every proxied request."""
    release = threading.Event()

    class SlowAgent(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path != "/healthz":
                release.wait(30)
            body = b'{"status": "ok"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = PromptServer(("127.0.0.1", 0), SlowAgent)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield server.server_address[1]
    release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_late_answer_from_a_live_agent_does_not_restart_the_forward(
    cluster: FakeApiServer,
    kube: Kube,
    kubectl: Path,
    routes: Routes,
    slow_agent: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(prober_module, "AGENT_MARGIN_S", 0.05)
    cluster.add(pod("agent-a-1"))
    routes.set("pod/agent-a-1", slow_agent)
    link = open_link(kube, kubectl)
    try:
        pid = link.forward.pid
        with pytest.raises(AgentLate, match="no answer within"):
            link.probe("GET", "http://ratings.slow:9080/", {}, 0.1)
        assert link.forward.restarts == 0
        assert link.forward.pid == pid and link.forward.alive()
    finally:
        link.close()


# --- item 6: a denied-l4 while a backend restarts ------------------------------------------


def _service(api: FakeApiServer, name: str = "ratings") -> None:
    api.add(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"selector": {"app": "ratings"}, "ports": [{"port": 9080}]},
        }
    )


def test_service_of_a_probe_url() -> None:
    assert service_of("http://ratings:9080/x", "a") == ("a", "ratings")
    assert service_of("http://ratings.b:9080/x", "a") == ("b", "ratings")
    assert service_of("http://ratings.b.svc.cluster.local:9080/", "a") == ("b", "ratings")
    assert service_of("http://10.0.0.1:9080/", "a") is None
    assert service_of("http://[::1]:9080/", "a") is None
    assert service_of("http://example.com.eu/", "a") is None


def test_backend_readiness_names_what_is_not_ready(cluster: FakeApiServer, kube: Kube) -> None:
    readiness = KubeBackendReadiness(kube, NS)
    url = "http://ratings:9080/"
    _service(cluster)
    assert readiness.not_ready(url) == f"no pod of Service {NS}/ratings"
    cluster.add(pod("ratings-v1-1", "ratings"))
    assert readiness.not_ready(url) is None
    going = pod("ratings-v1-2", "ratings")
    going["metadata"]["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    cluster.add(going)
    cluster.add(pod("ratings-v1-3", "ratings", ready=False))
    assert readiness.not_ready(url) == "ratings-v1-2 Terminating, ratings-v1-3 Running (not Ready)"
    assert readiness.not_ready("http://nosuch:9080/") is None  # nothing to judge by


DENIED = Outcome(502, probe_error=ProbeError.EOF)
ALLOWED = Outcome(200, served_by="ratings-v1")


class Restarting:
    """A `BackendReadiness` whose backend is always being replaced; counts the questions."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def not_ready(self, url: str) -> str | None:
        self.asked.append(url)
        return "ratings-v1-2 Terminating"


def test_a_denied_l4_while_a_backend_restarts_is_not_a_ztunnel_decision() -> None:
    backends = Restarting()
    with pytest.raises(BackendRestarting, match=r"denied-l4 \(eof\) while a backend") as caught:
        check_backends(backends, "http://ratings:9080/", [ALLOWED, DENIED])
    assert "backend restarting, not a ztunnel decision" in str(caught.value)
    check_backends(backends, "http://ratings:9080/", [ALLOWED])  # nothing denied: not asked
    assert backends.asked == ["http://ratings:9080/"]
    check_backends(None, "http://ratings:9080/", [DENIED])  # no readiness known: unchanged


def _eof_server() -> tuple[socket.socket, Callable[[], None]]:
    """A backend that closes every connection after reading the request: `eof`."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()

    def close() -> None:
        stop.set()
        server.close()

    return server, close


def test_forwarded_agent_reports_backend_restarting(
    cluster: FakeApiServer, kube: Kube, kubectl: Path, routes: Routes, spare: Program
) -> None:
    cluster.add(pod("agent-a-1"))
    routes.set("pod/agent-a-1", spare.port)
    # The probed host is `localhost`: a Service of that name stands for the backend.
    _service(cluster, "localhost")
    cluster.add(pod("ratings-v1-1", "ratings"))
    backend, close = _eof_server()
    url = f"http://localhost:{backend.getsockname()[1]}/"
    link = open_link(kube, kubectl, backends=KubeBackendReadiness(kube, NS))
    try:
        # All backends Ready: a denied-l4 is the mesh's answer.
        assert link.probe("GET", url, {}, 2).kind is Kind.DENIED_L4
        cluster.add(pod("ratings-v1-1", "ratings", ready=False))
        with pytest.raises(BackendRestarting, match="ratings-v1-1 Running"):
            link.probe("GET", url, {}, 2)
        with pytest.raises(BackendRestarting):
            link.sample("GET", url, 3, {}, 2)
        assert link.forward.restarts == 0
    finally:
        link.close()
        close()


def test_fake_link_follows_its_script() -> None:
    link = FakeLink(lambda call: DENIED if call.headers else ALLOWED)
    assert link.probe("GET", "http://a/", {}, 1) is ALLOWED
    assert link.sample("GET", "http://a/", 2, {"x": "1"}, 1) == [DENIED, DENIED]
    assert link.calls[0] == Call("GET", "http://a/", {}, 1)
    with pytest.raises(AgentUnreachable):
        FakeLink(AgentUnreachable("gone")).probe("GET", "http://a/", {}, 1)
