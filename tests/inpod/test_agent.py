"""The agent (proxy) and echo programs, run for real on loopback and probed with `Prober`.

Upstreams that misbehave the way a mesh does (reset, close, refuse, hang) are small socket
servers in this file; the agent and echo are the real `python agent.py ...` subprocesses.
"""

from __future__ import annotations

import ast
import contextlib
import http.client
import json
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes.envoy_fixture import AGENT, Program, agent_args, echo_args, running
from helpers import closed_port

from harness.inpod import agent
from harness.model.outcome import Kind, Outcome, ProbeError
from harness.probe import prober as prober_module
from harness.probe.prober import (
    AgentBusy,
    AgentLate,
    AgentUnreachable,
    Prober,
    outcome_from_response,
    tls_context,
)


def plain(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """A request straight to a program, not through the agent, with httpx's defaults and the
    process's one TLS context (a new one per call loads the CA bundle: ~26 ms each)."""
    return httpx.request(method, url, trust_env=False, verify=tls_context(), **kwargs)


# --------------------------------------------------------------------------- raw upstreams


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _reset(conn: socket.socket) -> None:
    _read_head(conn)
    _rst(conn)


def _rst(conn: socket.socket) -> None:
    # SO_LINGER on with a zero timeout: close() sends an RST, like a ztunnel denial.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _close(conn: socket.socket) -> None:
    _read_head(conn)
    _fin(conn)


def _fin(conn: socket.socket) -> None:
    conn.shutdown(socket.SHUT_RDWR)
    conn.close()


def _reset_mid_response(conn: socket.socket) -> None:
    _read_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
    _rst(conn)


def _truncated(conn: socket.socket) -> None:
    _read_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
    _fin(conn)


def _own_502(conn: socket.socket) -> None:
    _read_head(conn)
    body = b"upstream says bad gateway"
    conn.sendall(
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    _fin(conn)


def _chunked_with_hop_headers(conn: socket.socket) -> None:
    _read_head(conn)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, x-hop\r\n"
        b"x-hop: 1\r\nKeep-Alive: timeout=5\r\nx-end-to-end: kept\r\n"
        b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    _fin(conn)


class RawServer:
    """Accepts on loopback and hands each connection to `behave` in a thread."""

    def __init__(self, behave: Callable[[socket.socket], None]) -> None:
        self.behave = behave
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopping = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.behave(conn)

    def close(self) -> None:
        self.stopping.set()
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], RawServer]]:
    servers: list[RawServer] = []

    def make(behave: Callable[[socket.socket], None]) -> RawServer:
        servers.append(RawServer(behave))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def _hang(conn: socket.socket) -> None:
    _read_head(conn)
    conn.recv(1)  # blocks until the agent gives up and closes


# --------------------------------------------------------------------------- fixtures


# Far above any per-request timeout used here: a probe that ends at its own x-probe-timeout
# proves the header was honoured (otherwise the agent would wait this long, and the Prober,
# which allows the probe timeout + 5 s, would give up with AgentUnreachable).
AGENT_DEFAULT_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def proxy() -> Iterator[Program]:
    args = agent_args("--max-body", "1024", "--default-timeout", str(AGENT_DEFAULT_TIMEOUT_S))
    with running(args) as program:
        yield program


@pytest.fixture(scope="module")
def echo() -> Iterator[Program]:
    with running(echo_args("ratings", "v1")) as program:
        yield program


@pytest.fixture(scope="module")
def prober(proxy: Program) -> Iterator[Prober]:
    with Prober(proxy.host, proxy.port) as p:
        yield p


# --------------------------------------------------------------------------- outcomes


def test_allowed_through_agent(prober: Prober, echo: Program) -> None:
    outcome = prober.probe("GET", f"{echo.url}/ratings/1", {"x-custom": "yes"})
    assert outcome.kind is Kind.ALLOWED
    assert outcome.status == 200
    assert outcome.served_by == "ratings-v1"
    assert outcome.served_by_matches("v1")
    assert outcome.l7 is False  # no Envoy in the path: nobody added x-request-id
    assert outcome.probe_error is None
    assert outcome.backend_headers["x-custom"] == "yes"
    assert outcome.headers["content-type"] == "application/json"
    assert outcome.elapsed_ms > 0
    assert outcome.attempt == 1
    assert outcome.body_excerpt.startswith('{"service": "ratings", "version": "v1"')


def test_reset_is_denied_l4(prober: Prober, raw_server: Callable[..., RawServer]) -> None:
    outcome = prober.probe("GET", raw_server(_reset).url, timeout=2.0)
    assert outcome.probe_error is ProbeError.RESET
    assert outcome.kind is Kind.DENIED_L4
    assert outcome.status == 502
    assert "ConnectionResetError" in outcome.detail


def test_reset_while_reading_response(prober: Prober, raw_server: Callable[..., RawServer]) -> None:
    outcome = prober.probe("GET", raw_server(_reset_mid_response).url, timeout=2.0)
    assert outcome.probe_error is ProbeError.RESET


def test_close_without_response_is_eof(
    prober: Prober, raw_server: Callable[..., RawServer]
) -> None:
    outcome = prober.probe("GET", raw_server(_close).url, timeout=2.0)
    assert outcome.probe_error is ProbeError.EOF
    assert outcome.kind is Kind.DENIED_L4


def test_truncated_response_is_eof(prober: Prober, raw_server: Callable[..., RawServer]) -> None:
    outcome = prober.probe("GET", raw_server(_truncated).url, timeout=2.0)
    assert outcome.probe_error is ProbeError.EOF
    assert outcome.status == 502  # the partial 200 is never passed on


def test_closed_port_is_refused(prober: Prober) -> None:
    outcome = prober.probe("GET", f"http://127.0.0.1:{closed_port()}/", timeout=2.0)
    assert outcome.probe_error is ProbeError.REFUSED
    assert outcome.kind is Kind.UNREACHABLE


def test_silent_server_times_out_at_the_probe_timeout(
    prober: Prober, raw_server: Callable[..., RawServer]
) -> None:
    # No upper bound on the time: the agent's own default is 120 s (see the proxy fixture),
    # so an ignored x-probe-timeout fails this test with AgentUnreachable instead.
    outcome = prober.probe("GET", raw_server(_hang).url, timeout=0.05)
    assert outcome.probe_error is ProbeError.TIMEOUT
    assert outcome.kind is Kind.UNREACHABLE
    assert outcome.elapsed_ms >= 50


# Longer than the 253 characters a DNS name may have: the system resolver rejects it without
# sending a query, so this is a real resolution failure that never leaves the machine (a
# name like nonexistent.invalid would be sent to the configured DNS server).
UNRESOLVABLE = ".".join(["a" * 63] * 5)


def test_unknown_host_is_dns(prober: Prober) -> None:
    outcome = prober.probe("GET", f"http://{UNRESOLVABLE}:9080/", timeout=2.0)
    assert outcome.probe_error is ProbeError.DNS
    assert outcome.kind is Kind.UNREACHABLE
    assert "gaierror" in outcome.detail


def test_upstream_502_is_not_a_probe_error(
    prober: Prober, raw_server: Callable[..., RawServer]
) -> None:
    outcome = prober.probe("GET", raw_server(_own_502).url, timeout=2.0)
    assert outcome.status == 502
    assert outcome.probe_error is None
    assert outcome.kind is Kind.STATUS
    assert outcome.body_excerpt == "upstream says bad gateway"


def test_response_passes_through_without_hop_by_hop(
    prober: Prober, raw_server: Callable[..., RawServer]
) -> None:
    outcome = prober.probe("GET", raw_server(_chunked_with_hop_headers).url, timeout=2.0)
    assert outcome.status == 200
    assert outcome.body_excerpt == "hello world"
    assert outcome.headers["x-end-to-end"] == "kept"
    assert outcome.headers["set-cookie"] == "a=1, b=2"
    assert outcome.headers["content-length"] == "11"
    for hop in ("transfer-encoding", "x-hop", "keep-alive"):
        assert hop not in outcome.headers


def test_request_hop_by_hop_headers_are_not_forwarded(prober: Prober, echo: Program) -> None:
    headers = {
        "Connection": "keep-alive, x-hop",
        "x-hop": "1",
        "Keep-Alive": "timeout=5",
        "Proxy-Connection": "keep-alive",
        "x-end-to-end": "kept",
    }
    outcome = prober.probe("GET", f"{echo.url}/", headers, timeout=2.0)
    seen = outcome.backend_headers
    assert seen["x-end-to-end"] == "kept"
    assert seen["host"] == f"127.0.0.1:{echo.port}"
    for hop in ("connection", "x-hop", "keep-alive", "proxy-connection", "x-probe-timeout"):
        assert hop not in seen


def _sets_a_cookie(conn: socket.socket) -> None:
    _read_head(conn)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nSet-Cookie: session=abc; Path=/\r\nContent-Length: 2\r\n"
        b"Connection: close\r\n\r\nok"
    )
    _fin(conn)


def test_a_cookie_one_answer_sets_is_not_sent_with_later_probes(
    proxy: Program, echo: Program, raw_server: Callable[..., RawServer]
) -> None:
    # Same host (127.0.0.1) for both: a client cookie jar would send it to echo next.
    with Prober(proxy.host, proxy.port) as prober:
        first = prober.probe("GET", raw_server(_sets_a_cookie).url, timeout=2.0)
        assert first.headers["set-cookie"] == "session=abc; Path=/"
        later = prober.probe("GET", f"{echo.url}/after", timeout=2.0)
    assert later.served_by == "ratings-v1"
    assert "cookie" not in later.backend_headers


def test_request_body_is_forwarded(prober: Prober, echo: Program) -> None:
    outcome = prober.probe("POST", f"{echo.url}/submit", content=b"0123456789")
    assert outcome.status == 200
    assert outcome.backend_headers["content-length"] == "10"
    assert '"method": "POST"' in outcome.body_excerpt


# --------------------------------------------------------------------------- echo


def test_echo_status(prober: Prober, echo: Program) -> None:
    outcome = prober.probe("GET", f"{echo.url}/status/418")
    assert outcome.status == 418
    assert outcome.kind is Kind.STATUS
    assert outcome.served_by == "ratings-v1"
    assert outcome.probe_error is None


def test_echo_status_204_has_no_body(prober: Prober, echo: Program) -> None:
    outcome = prober.probe("GET", f"{echo.url}/status/204")
    assert outcome.status == 204
    assert outcome.body_excerpt == ""
    assert outcome.served_by == "ratings-v1"


def test_echo_delay(prober: Prober, echo: Program) -> None:
    outcome = prober.probe("GET", f"{echo.url}/delay/0.05")
    assert outcome.status == 200
    assert outcome.elapsed_ms >= 50


def test_echo_delay_longer_than_probe_timeout(prober: Prober, echo: Program) -> None:
    outcome = prober.probe("GET", f"{echo.url}/delay/2", timeout=0.05)
    assert outcome.probe_error is ProbeError.TIMEOUT


def _direct(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> Outcome:
    """Straight to echo, as an Envoy would send it (the agent drops a client's x-request-id)."""
    response = plain(method, url, headers=headers, timeout=5)
    return outcome_from_response(response, 0.0)


def test_echo_counts_attempts_per_request_id(echo: Program) -> None:
    first = _direct(f"{echo.url}/", headers={"x-request-id": "retry-me"})
    second = _direct(f"{echo.url}/", headers={"x-request-id": "retry-me"})
    other = _direct(f"{echo.url}/", headers={"x-request-id": "another"})
    anonymous = [_direct(f"{echo.url}/") for _ in range(2)]
    assert (first.attempt, second.attempt, other.attempt) == (1, 2, 1)
    assert second.headers["x-echo-attempt"] == "2"
    assert [o.attempt for o in anonymous] == [1, 1]
    assert first.l7 is True  # the echo saw an x-request-id (an Envoy would have added it)


def test_a_client_cannot_forge_l7_with_its_own_request_id(prober: Prober, echo: Program) -> None:
    outcome = prober.probe("GET", f"{echo.url}/", {"x-request-id": "forged", "x-other": "kept"})
    assert outcome.served_by == "ratings-v1"
    assert "x-request-id" not in outcome.backend_headers
    assert outcome.backend_headers["x-other"] == "kept"
    assert outcome.l7 is False


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("HEAD", "/ratings/1", 200), ("GET", "/status/204", 204), ("GET", "/status/304", 304)],
)
def test_bodyless_answers_still_show_what_echo_saw(
    method: str, path: str, status: int, echo: Program
) -> None:
    # Through an Envoy the backend sees an x-request-id and retries repeat it: sent directly
    # here, since the agent (rightly) drops a client's own.
    headers = {"x-request-id": f"bodyless-{method}-{status}", "x-user": "admin"}
    first = _direct(f"{echo.url}{path}", method, headers)
    again = _direct(f"{echo.url}{path}", method, headers)
    assert first.status == status
    assert first.body_excerpt == ""
    assert first.served_by == "ratings-v1"
    assert first.l7 is True
    assert first.backend_headers["x-user"] == "admin"
    assert (first.attempt, again.attempt) == (1, 2)


def test_bodyless_answers_through_the_agent_keep_the_backend_headers(
    prober: Prober, echo: Program
) -> None:
    outcome = prober.probe("HEAD", f"{echo.url}/ratings/1", {"x-user": "admin"})
    assert outcome.status == 200
    assert outcome.backend_headers["x-user"] == "admin"
    assert outcome.l7 is False
    assert outcome.attempt == 1


def test_echo_path_has_no_query_string(prober: Prober, echo: Program) -> None:
    outcome = prober.probe("GET", f"{echo.url}/ratings/1?token=s3cret&user=x")
    assert outcome.status == 200
    assert '"path": "/ratings/1"' in outcome.body_excerpt
    assert "s3cret" not in outcome.body_excerpt
    line = echo.wait_for_line("GET /ratings/1 200")
    assert "s3cret" not in line


def test_echo_reports_pod_from_downward_api_env(echo_life: LifeCycle) -> None:
    body = echo_life.answer.json()  # echo_life's env: POD_NAME, POD_NAMESPACE (see _life)
    assert (body["pod"], body["namespace"]) == ("ratings-v1-abc", "bookinfo")


def test_sample_keeps_order_and_count(prober: Prober, echo: Program) -> None:
    outcomes = prober.sample("GET", f"{echo.url}/", 40, concurrency=8)
    assert len(outcomes) == 40
    assert {o.served_by for o in outcomes} == {"ratings-v1"}


# --------------------------------------------------------------------------- agent safety


@pytest.fixture(scope="module")
def refused() -> subprocess.CompletedProcess[str]:
    """The program asked to listen on 0.0.0.0; `-X importtime` lists what its start-up loads
    (on stderr, before the refusal)."""
    return subprocess.run(
        [sys.executable, "-S", "-X", "importtime", str(AGENT), "proxy", "--listen", "0.0.0.0:0"],
        capture_output=True,
        text=True,
        timeout=10,
    )


def test_refuses_non_loopback_listen(refused: subprocess.CompletedProcess[str]) -> None:
    result = refused
    assert result.returncode == 2
    assert "refusing to listen on '0.0.0.0'" in result.stderr
    assert "--force-listen" in result.stderr


def test_the_program_loads_neither_ssl_nor_dataclasses(
    refused: subprocess.CompletedProcess[str],
) -> None:
    # Every pod and every test pays the agent's start-up: ssl (OpenSSL, via http.client's
    # optional import) and dataclasses (with inspect) were a quarter of it, for no use.
    imported = {
        line.rpartition("|")[2].strip()
        for line in refused.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "http.client" in imported  # the listing is there
    # `ssl` itself is listed as tried (and refused); `_ssl` is the part that loads OpenSSL.
    assert not imported & {"_ssl", "dataclasses", "inspect"}, sorted(imported)


def test_main_refuses_non_loopback_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert agent.main(["proxy", "--listen", "10.1.2.3:15000"]) == 2
    assert "loopback" in capsys.readouterr().err


def test_origin_form_other_than_healthz_is_400(proxy: Program) -> None:
    assert plain("GET", f"{proxy.url}/healthz").status_code == 200
    response = plain("GET", f"{proxy.url}/ratings/1")
    assert response.status_code == 400
    assert "absolute-form" in response.json()["detail"]


def test_connect_is_405(proxy: Program) -> None:
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=5)
    conn.request("CONNECT", "example.com:443")
    assert conn.getresponse().status == 405
    conn.close()


def test_oversized_body_is_413(prober: Prober, echo: Program) -> None:
    outcome = prober.probe("POST", f"{echo.url}/", content=b"x" * 4096)
    assert outcome.status == 413
    assert outcome.headers["connection"] == "close"
    assert outcome.served_by is None  # refused by the agent, never sent upstream


def test_content_length_is_checked_before_reading(proxy: Program, echo: Program) -> None:
    # Only the head is sent: a 413 proves the agent did not wait for 4096 body bytes.
    head = f"POST {echo.url}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n"
    with socket.create_connection((proxy.host, proxy.port), timeout=5) as sock:
        sock.sendall(head.encode())
        reply = sock.makefile("rb").read()  # the agent closes after answering
    assert reply.startswith(b"HTTP/1.1 413")
    assert b"Connection: close" in reply


def test_expect_100_continue_is_refused_for_an_oversized_body(
    proxy: Program, echo: Program
) -> None:
    head = (
        f"POST {echo.url}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n"
        "Expect: 100-continue\r\n\r\n"
    )
    with socket.create_connection((proxy.host, proxy.port), timeout=5) as sock:
        sock.sendall(head.encode())
        reply = sock.makefile("rb").readline()
    assert reply.startswith(b"HTTP/1.1 413")  # not "100 Continue"


def test_oversized_chunked_body_is_413(proxy: Program, echo: Program) -> None:
    head = (
        f"POST {echo.url}/ HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunks = b"".join(b"200\r\n" + b"x" * 0x200 + b"\r\n" for _ in range(4)) + b"0\r\n\r\n"
    with socket.create_connection((proxy.host, proxy.port), timeout=5) as sock:
        sock.sendall(head + chunks)
        reply = sock.makefile("rb").readline()
    assert reply.startswith(b"HTTP/1.1 413")


def test_small_chunked_body_is_forwarded_with_length(proxy: Program, echo: Program) -> None:
    def body() -> Iterator[bytes]:
        yield b"abc"
        yield b"defg"

    with httpx.Client(proxy=proxy.url, trust_env=False, verify=tls_context()) as client:
        response = client.post(f"{echo.url}/", content=body())
    assert response.status_code == 200
    assert response.json()["headers"]["Content-Length"] == "7"


def test_keep_alive_two_requests_one_connection(proxy: Program, echo: Program) -> None:
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=5)
    conn.request("GET", f"{echo.url}/one")  # http.client sends the absolute URL verbatim
    first = conn.getresponse()
    assert first.status == 200
    first.read()
    local = conn.sock.getsockname()
    conn.request("GET", f"{echo.url}/two")
    second = conn.getresponse()
    assert second.status == 200
    assert json.loads(second.read())["path"] == "/two"
    assert conn.sock.getsockname() == local  # same client connection, not a reconnect
    conn.close()


def test_prober_keeps_alive_and_a_full_agent_answers_busy(echo: Program) -> None:
    with (
        running(agent_args("--max-connections", "1")) as small,
        Prober(small.host, small.port) as prober,
    ):
        # One slot: five probes in a row only succeed over one kept-alive connection.
        outcomes = [prober.probe("GET", f"{echo.url}/") for _ in range(5)]
        assert [o.kind for o in outcomes] == [Kind.ALLOWED] * 5
        # That idle connection still holds the slot: a second client is turned away.
        with Prober(small.host, small.port) as other, pytest.raises(AgentBusy):
            other.probe("GET", f"{echo.url}/")


def test_agent_unreachable_is_an_exception() -> None:
    with Prober("127.0.0.1", closed_port()) as prober:
        assert prober.healthy() is False
        with pytest.raises(AgentUnreachable):
            prober.probe("GET", "http://ratings:9080/")


def test_logs_one_line_per_request(proxy: Program, prober: Prober) -> None:
    port = closed_port()
    prober.probe("GET", f"http://127.0.0.1:{port}/logged?token=secret", timeout=1.0)
    line = proxy.wait_for_line(f":{port}/logged")
    assert line.startswith(f"GET http://127.0.0.1:{port}/logged 502 refused ")
    assert "secret" not in line


def test_an_idle_server_sleeps_until_a_client_or_a_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    # socketserver's serve_forever wakes every poll interval to look for a shutdown (20 times
    # a second in every idle agent pod); the agent's loop waits in select without a timeout.
    timeouts: list[float | None] = []

    class Recording(selectors.DefaultSelector):
        def select(self, timeout: float | None = None) -> Any:
            timeouts.append(timeout)
            return super().select(timeout)

    monkeypatch.setattr(selectors, "DefaultSelector", Recording)
    server = agent.EchoServer(("127.0.0.1", 0), "ratings", "v1")
    served: list[int] = []
    thread = threading.Thread(
        target=lambda: served.append(agent.serve(server, "echo")), daemon=True
    )
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/idle"
        assert plain("GET", url, timeout=5).json()["path"] == "/idle"
    finally:
        server.request_stop()  # wakes the loop: no poll interval to wait out
        thread.join(10)
    assert served == [0]
    assert timeouts and set(timeouts) == {None}


@dataclass(frozen=True)
class LifeCycle:
    """One program's life, observed once for the tests below (each start costs ~0.1 s of CPU):
    started with --ready-file, asked once, stopped by one SIGTERM."""

    address: str  # HOST:PORT of its "listening on" line
    ready_text: str  # the --ready-file while it listens
    answer: httpx.Response  # GET /healthz while it listens
    code: int  # its exit code after the SIGTERM
    last_line: str  # its last line of output
    ready_left: bool  # the ready file still exists after the exit


def _life(mode: str, directory: Path) -> LifeCycle:
    ready = directory / "ready"
    base = agent_args() if mode == "proxy" else echo_args("ratings", "v1")
    # The echo gets what the Downward API sets in its pod.
    env = {"POD_NAME": "ratings-v1-abc", "POD_NAMESPACE": "bookinfo"} if mode == "echo" else None
    with running([*base, "--ready-file", str(ready)], env) as program:
        # Read after the "listening" line: the file is written before it.
        ready_text = ready.read_text().strip()
        socket.create_connection((program.host, program.port), timeout=5).close()
        answer = plain("GET", f"{program.url}/healthz", timeout=5)
        code = program.stop(signal.SIGTERM)
        return LifeCycle(
            f"{program.host}:{program.port}",
            ready_text,
            answer,
            code,
            program.lines[-1],
            ready.exists(),
        )


@pytest.fixture(scope="module")
def proxy_life(tmp_path_factory: pytest.TempPathFactory) -> LifeCycle:
    return _life("proxy", tmp_path_factory.mktemp("proxy-life"))


@pytest.fixture(scope="module")
def echo_life(tmp_path_factory: pytest.TempPathFactory) -> LifeCycle:
    return _life("echo", tmp_path_factory.mktemp("echo-life"))


def _life_of(mode: str, request: pytest.FixtureRequest) -> LifeCycle:
    life = request.getfixturevalue(f"{mode}_life")
    assert isinstance(life, LifeCycle)
    return life


@pytest.mark.parametrize("mode", ["proxy", "echo"])
def test_sigterm_exits_zero(mode: str, request: pytest.FixtureRequest) -> None:
    life = _life_of(mode, request)
    assert life.answer.status_code == 200
    assert life.code == 0
    assert life.last_line == f"{mode} stopped"


# --------------------------------------------------------------------------- units


def test_agent_imports_only_the_standard_library() -> None:
    # It runs from a ConfigMap in python:*-slim, where the harness package does not exist.
    tree = ast.parse(AGENT.read_text())
    modules = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    top = {name.split(".")[0] for name in modules}
    assert top - {"__future__"} <= sys.stdlib_module_names, top - sys.stdlib_module_names


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ConnectionResetError(), "reset"),
        (BrokenPipeError(), "reset"),
        (http.client.RemoteDisconnected("closed"), "eof"),
        (http.client.IncompleteRead(b"x", 10), "eof"),
        (http.client.BadStatusLine(""), "eof"),
        (http.client.BadStatusLine("garbage"), "error"),
        (ConnectionRefusedError(), "refused"),
        (TimeoutError(), "timeout"),
        (socket.gaierror(-2, "Name or service not known"), "dns"),
        (OSError(104, "reset by peer"), "reset"),
        (ValueError("odd"), "error"),
    ],
)
def test_classify(exc: BaseException, expected: str) -> None:
    assert agent.classify(exc) == expected


def test_parse_listen() -> None:
    assert agent.parse_listen("127.0.0.1:15000") == ("127.0.0.1", 15000)
    assert agent.parse_listen("[::1]:0") == ("::1", 0)
    with pytest.raises(ValueError, match="HOST:PORT"):
        agent.parse_listen("15000")
    assert agent.is_loopback("::1") and agent.is_loopback("localhost")
    assert not agent.is_loopback("0.0.0.0") and not agent.is_loopback("ratings")


# --------------------------------------------------------------------------- deadlines

# The agent with a resolver that never answers (like a DNS server that drops queries): every
# getaddrinfo blocks until the process ends.
SILENT_DNS = (
    "import runpy, socket, sys, threading\n"
    "socket.getaddrinfo = lambda *a, **k: threading.Event().wait()\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def test_a_silent_resolver_is_bounded_by_the_probe_timeout() -> None:
    args = [sys.executable, "-S", "-c", SILENT_DNS, str(AGENT), *agent_args()]
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            port = int(process.stdout.readline().rsplit(":", 1)[1])
            with Prober("127.0.0.1", port) as prober:
                # Without a bound the agent waits forever and the Prober gives up after
                # 0.1 s + its margin with AgentLate: an error, not an observation.
                outcome = prober.probe("GET", "http://ratings.never-answers:9080/", timeout=0.1)
                assert outcome.probe_error is ProbeError.DNS
                assert outcome.kind is Kind.UNREACHABLE
                assert "no answer from DNS" in outcome.detail
                # An address literal needs no resolver at all.
                refused = prober.probe("GET", f"http://127.0.0.1:{closed_port()}/", timeout=1)
                assert refused.probe_error is ProbeError.REFUSED
        finally:
            process.terminate()
            process.wait(5)


def test_resolve_gives_up_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    monkeypatch.setattr(agent.socket, "getaddrinfo", lambda *a, **k: release.wait())
    try:
        with pytest.raises(agent.ResolveTimeout):
            agent.resolve("ratings", 9080, time.monotonic() + 0.05)
        assert agent.classify(agent.ResolveTimeout("x")) == "dns"
    finally:
        release.set()


# --------------------------------------------------------------------------- readiness, drain


@pytest.mark.parametrize("mode", ["proxy", "echo"])
def test_ready_file_exists_while_listening(mode: str, request: pytest.FixtureRequest) -> None:
    life = _life_of(mode, request)
    # Written before the "listening" line (and the port in it accepted a connection).
    assert life.ready_text == life.address
    assert life.code == 0
    assert not life.ready_left  # removed on SIGTERM


def test_an_unwritable_ready_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # In a thread: on the main thread (pytest's) serve() would take over SIGTERM and SIGINT.
    args = [*agent_args(), "--ready-file", str(tmp_path / "missing" / "ready")]
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(agent.main(args)), daemon=True)
    thread.start()
    thread.join(20)
    assert codes == [1]
    assert "cannot write --ready-file" in capsys.readouterr().err


def _held(release: threading.Event, reached: threading.Event) -> Callable[[socket.socket], None]:
    def behave(conn: socket.socket) -> None:
        _read_head(conn)
        reached.set()
        release.wait(10)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
        _fin(conn)

    return behave


def test_proxy_drains_in_flight_requests_on_sigterm(
    raw_server: Callable[..., RawServer],
) -> None:
    release, reached = threading.Event(), threading.Event()
    upstream = raw_server(_held(release, reached))
    with running(agent_args()) as program, Prober(program.host, program.port) as prober:
        answers: list[Outcome] = []
        errors: list[BaseException] = []

        def send() -> None:
            try:
                answers.append(prober.probe("GET", upstream.url, timeout=10))
            except BaseException as exc:
                errors.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        assert reached.wait(10)  # the request is in flight, upstream holds it
        program.process.send_signal(signal.SIGTERM)
        program.wait_for_line("proxy draining: 1 request(s) in flight")
        with pytest.raises(ConnectionRefusedError):  # accepts nothing new
            socket.create_connection((program.host, program.port), timeout=5).close()
        release.set()
        sender.join(10)
        assert errors == []
        (outcome,) = answers
        assert outcome.status == 200 and outcome.body_excerpt == "done"
        assert outcome.headers["connection"] == "close"
        assert program.wait(10) == 0  # one SIGTERM, as the kubelet sends
        program.wait_for_line("proxy stopped")


def test_echo_drains_in_flight_requests_on_sigterm() -> None:
    with running(echo_args("ratings", "v1")) as program:
        results: list[httpx.Response] = []

        def send() -> None:
            url = f"{program.url}/delay/0.5"
            results.append(plain("GET", url, timeout=10))

        sender = threading.Thread(target=send)
        sender.start()
        program.wait_for_line("GET /delay/0.5 delaying 0.5s")
        program.process.send_signal(signal.SIGTERM)
        program.wait_for_line("echo draining: 1 request(s) in flight")
        sender.join(10)
        (response,) = results
        assert response.status_code == 200
        assert response.json()["path"] == "/delay/0.5"
        assert response.headers["connection"] == "close"
        assert program.wait(10) == 0


def test_drain_is_bounded_by_the_drain_timeout() -> None:
    with running([*echo_args("ratings", "v1"), "--drain-timeout", "0.1"]) as program:

        def send() -> None:
            with contextlib.suppress(httpx.HTTPError):  # cut at the end of the drain
                plain("GET", f"{program.url}/delay/30", timeout=60)

        sender = threading.Thread(target=send)
        sender.start()
        program.wait_for_line("delaying 30s")
        program.process.send_signal(signal.SIGTERM)
        assert program.wait(10) == 0
        program.wait_for_line("echo drain: 1 request(s) still in flight after 0.1s")
        sender.join(10)


def test_a_full_connection_pool_is_late_not_unreachable(
    proxy: Program, raw_server: Callable[..., RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # One connection to the agent, held by a request its upstream answers slowly: the next
    # request waits for the pool. Waiting too long says so; it is no dead agent (that would
    # restart a healthy port-forward).
    monkeypatch.setattr(prober_module, "POOL_WAIT_S", 0.05)
    release, reached = threading.Event(), threading.Event()
    upstream = raw_server(_held(release, reached))
    with Prober(proxy.host, proxy.port, max_connections=1) as prober:
        first = threading.Thread(target=prober.probe, args=("GET", upstream.url), daemon=True)
        first.start()
        try:
            assert reached.wait(10)
            with pytest.raises(AgentLate, match="no free connection"):
                prober.probe("GET", upstream.url)
        finally:
            release.set()
            first.join(10)
