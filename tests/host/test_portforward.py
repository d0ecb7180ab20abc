"""harness.host.portforward against a fake `kubectl` on PATH that really forwards on loopback."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import IO

import pytest
from fakes.kubectl_launcher import write_kubectl
from fakes.prompt_server import PromptServer
from helpers import REPO

from harness.host import portforward
from harness.host.portforward import PortForward, PortForwardError, port_forward_argv


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello {self.path}".encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    """What every forward reaches: stateless, so one for the module."""
    server = PromptServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def kubectl(tmp_path: Path, upstream: int, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`kubectl` on PATH: a script running fake_kubectl.py with this interpreter."""
    bin_dir = tmp_path / "bin"
    script = write_kubectl(bin_dir)
    pids = tmp_path / "pids"
    pids.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_KUBECTL_UPSTREAM", str(upstream))
    monkeypatch.setenv("FAKE_KUBECTL_PIDS", str(pids))
    found = shutil.which("kubectl")
    assert found == str(script)
    return Path(found)


def _get(port: int, path: str = "/x") -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _recorded_pids(tmp_path: Path) -> list[int]:
    return [int(p.name) for p in (tmp_path / "pids").iterdir()]


def test_argv_is_a_list_bound_to_loopback() -> None:
    argv = port_forward_argv(
        Path("/bin/kubectl"), "ns", "pod/agent-x-1", 15000, context="kind-a", kubeconfig=Path("/k")
    )
    assert argv == [
        "/bin/kubectl",
        "--kubeconfig",
        "/k",
        "--context",
        "kind-a",
        "port-forward",
        "--address",
        "127.0.0.1",
        "-n",
        "ns",
        "pod/agent-x-1",
        ":15000",
    ]
    assert port_forward_argv(Path("k"), "ns", "pod/p", 15000, local_port=4242)[-1] == "4242:15000"


def test_forwards_and_learns_the_local_port(kubectl: Path, tmp_path: Path) -> None:
    with PortForward(kubectl, "ns", "pod/agent-a", 15000) as fwd:
        assert fwd.port > 0
        assert _get(fwd.port, "/one") == "hello /one"
        pid = fwd.pid
        assert pid is not None and _running(pid)
    assert not _running(pid)
    assert fwd not in portforward.open_forwards()


def test_output_is_drained(kubectl: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 100 connections x 3 KiB of output per connection is far beyond a pipe buffer (64 KiB):
    # an undrained kubectl would block on write and stop accepting.
    monkeypatch.setenv("FAKE_KUBECTL_NOISE", "3072")
    with PortForward(kubectl, "ns", "pod/agent-a", 15000) as fwd:
        for i in range(100):
            assert _get(fwd.port, f"/{i}") == f"hello /{i}"
        # kubectl wrote each line before its connection was served, but the reader thread may
        # not have read the last ones yet on a loaded machine: wait for it, bounded.
        deadline = time.monotonic() + 10
        while "(100 " not in fwd.output() and time.monotonic() < deadline:
            time.sleep(0.005)
        # Routine lines are counted, not quoted: they would push out the lines that explain.
        assert fwd.output() == (
            f"Forwarding from 127.0.0.1:{fwd.port} -> 15000\n"
            "(100 'Handling connection for ...' line(s) left out)"
        )


def test_the_output_of_an_exited_forward_holds_its_last_words(
    kubectl: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On a loaded machine the reader thread lagged behind kubectl's exit, and the message that
    # quoted kubectl lacked "error: lost connection to pod" (seen in tests/probe). Here the
    # reader starts reading only once kubectl has exited.
    drain = portforward._Process._drain

    def late_drain(self: portforward._Process, stream: IO[str] | None) -> None:
        self.popen.wait(10)
        drain(self, stream)

    monkeypatch.setattr(portforward._Process, "_drain", late_drain)
    monkeypatch.setenv("FAKE_KUBECTL_FAIL", "error: lost connection to pod")
    proc = portforward._Process(port_forward_argv(kubectl, "ns", "pod/agent-a", 15000))
    try:
        assert proc.popen.wait(10) == 1
        assert "error: lost connection to pod" in proc.output()
    finally:
        proc.stop()


def test_dropped_forward_restarts_once_on_the_same_port(kubectl: Path, tmp_path: Path) -> None:
    fwd = PortForward(kubectl, "ns", "pod/agent-a", 15000)
    try:
        port = fwd.start()
        first = fwd.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while fwd.alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not fwd.alive()
        with pytest.raises(OSError):
            _get(port)
        assert fwd.restart("agent unreachable") == port
        assert fwd.pid != first
        assert _get(port, "/again") == "hello /again"
        second = fwd.pid
        assert second is not None
        os.kill(second, signal.SIGKILL)
        with pytest.raises(PortForwardError, match="dropped again after 1 restart"):
            fwd.restart("agent unreachable")
    finally:
        fwd.close()
    pids = _recorded_pids(tmp_path)
    assert len(pids) == 2
    assert not any(_running(p) for p in pids)


def test_start_failure_reports_kubectl_output(
    kubectl: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(
        "FAKE_KUBECTL_FAIL",
        "error: unable to forward port because pod is not running. Current status=Pending",
    )
    fwd = PortForward(kubectl, "ns", "pod/agent-a", 15000, start_timeout_s=5)
    with pytest.raises(PortForwardError, match="pod is not running"):
        fwd.start()
    assert fwd not in portforward.open_forwards()
    assert not any(_running(p) for p in _recorded_pids(tmp_path))


def test_start_timeout_kills_a_silent_kubectl(tmp_path: Path) -> None:
    silent = tmp_path / "kubectl"
    pidfile = tmp_path / "pid"
    silent.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 30\n")
    silent.chmod(0o755)
    # 0.3 s: the shell writes its pid before the kill even on a loaded machine.
    fwd = PortForward(silent, "ns", "pod/agent-a", 15000, start_timeout_s=0.3)
    with pytest.raises(PortForwardError, match=r"did not start within 0\.3s"):
        fwd.start()
    assert fwd.pid is None
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left sleeping
        os.kill(int(pidfile.read_text()), 0)


def test_ctrl_c_while_starting_leaves_no_process(
    kubectl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = portforward._Process.wait_ready

    def interrupted(self: portforward._Process, timeout: float) -> int | None:
        original(self, timeout)  # kubectl is up and forwarding...
        raise KeyboardInterrupt  # ...when the user presses Ctrl-C

    monkeypatch.setattr(portforward._Process, "wait_ready", interrupted)
    fwd = PortForward(kubectl, "ns", "pod/agent-a", 15000)
    with pytest.raises(KeyboardInterrupt):
        fwd.start()
    (pid,) = _recorded_pids(tmp_path)
    assert not _running(pid)
    assert fwd.pid is None


def test_close_all_leaves_no_process(kubectl: Path, tmp_path: Path) -> None:
    forwards = [PortForward(kubectl, "ns", f"pod/agent-{i}", 15000) for i in range(3)]
    for f in forwards:
        f.start()
    assert set(forwards) <= set(portforward.open_forwards())
    portforward.close_all()
    assert not any(f.alive() for f in forwards)
    assert not any(_running(p) for p in _recorded_pids(tmp_path))


def test_interpreter_exit_closes_forwards(kubectl: Path, tmp_path: Path) -> None:
    # A child interpreter opens a forward and exits without closing it: atexit must.
    code = (
        "from pathlib import Path\n"
        "from harness.host.portforward import PortForward\n"
        f"f = PortForward(Path({str(kubectl)!r}), 'ns', 'pod/a', 15000)\n"
        "print(f.start(), flush=True)\n"
    )
    # Without `site` (the module needs only the standard library), from the checkout.
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    assert done.stdout.strip().isdigit()
    pids = _recorded_pids(tmp_path)
    assert len(pids) == 1
    deadline = time.monotonic() + 5
    while _running(pids[0]) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _running(pids[0])


def test_a_restart_that_cannot_start_is_not_counted(
    kubectl: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fwd = PortForward(kubectl, "ns", "pod/agent-a", 15000, start_timeout_s=10)
    try:
        port = fwd.start()
        monkeypatch.setenv("FAKE_KUBECTL_FAIL", 'error: pods "agent-a" not found')
        with pytest.raises(PortForwardError, match="not found"):
            fwd.restart("agent unreachable")
        assert fwd.restarts == 0  # nothing was re-established
        monkeypatch.delenv("FAKE_KUBECTL_FAIL")
        assert fwd.restart("agent unreachable") in (port, fwd.port)
        assert fwd.restarts == 1
        assert _get(fwd.port, "/back") == "hello /back"
    finally:
        fwd.close()


def test_reconnect_retargets_without_spending_the_budget(kubectl: Path) -> None:
    with PortForward(kubectl, "ns", "pod/agent-a", 15000) as fwd:
        first = fwd.pid
        fwd.reconnect("pod/agent-b")
        assert fwd.target == "pod/agent-b" and fwd.pid != first
        assert fwd.argv()[-2] == "pod/agent-b"
        assert fwd.restarts == 0
        fwd.check_budget()  # still one restart to spend
        fwd.count_restart()
        with pytest.raises(PortForwardError, match="dropped again after 1 restart"):
            fwd.check_budget("agent unreachable")


def test_the_budget_refills_once_a_restart_carried_an_answer_up_to_a_total(
    kubectl: Path,
) -> None:
    with PortForward(kubectl, "ns", "pod/agent-a", 15000, max_total_restarts=3) as fwd:
        fwd.count_restart()
        with pytest.raises(PortForwardError, match="dropped again after 1 restart"):
            fwd.check_budget()  # restarted, then dropped before carrying anything
        fwd.carried()
        fwd.check_budget()
        fwd.restart("agent unreachable")
        fwd.carried()
        fwd.restart("agent unreachable")
        fwd.carried()
        assert fwd.restarts == 3
        with pytest.raises(
            PortForwardError,
            match=r"dropped after 3 restarts in this run .*"
            r"kubectl get events -n ns\): agent unreachable",
        ):
            fwd.check_budget("agent unreachable")


def test_wait_healthy_stops_when_the_forward_is_gone() -> None:
    checks: list[int] = []

    def check() -> bool:
        checks.append(1)
        return False

    # A forward that exited cannot become healthy: the wait ends at once, not after 600 s.
    assert portforward.wait_healthy(check, 600, alive=lambda: False) is False
    assert checks == [1]
    assert portforward.wait_healthy(lambda: True, 600, alive=lambda: False) is True
