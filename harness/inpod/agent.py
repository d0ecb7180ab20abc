"""The in-pod program: `proxy` (the client agent) and `echo` (the backend). Stdlib only.

This file is mounted into `python:*-slim` pods from a ConfigMap and run as
`python agent.py proxy|echo ...`, so it must not import anything from the `harness` package.
It writes nothing to disk (read-only root FS) and needs no privileges.

proxy: an HTTP/1.1 forward proxy on loopback. The harness port-forwards to it and sends
absolute-form requests; each is replayed on a fresh upstream connection from inside the pod,
so ztunnel/sidecar capture sees the pod's identity. Upstream answers pass through unchanged
(plus `x-probe-elapsed-ms`); failures before a full answer become 502 with `x-probe-error`,
always within the request's `x-probe-timeout` (name resolution included). A client's own
`x-request-id` is not forwarded: only an Envoy on the path may add one.

echo: answers every request with JSON describing what it received, `x-served-by`, and how
many times it has seen the request's `x-request-id` (proves Envoy retries); the received
headers and the attempt also travel in response headers, for HEAD and 204/304 answers.
Paths are reported without their query string (it may carry tokens).

Both write `--ready-file` once listening (the pod's readiness probe tests for it) and drain on
SIGTERM: the file is removed, the listener closed, requests in flight are answered (with
`Connection: close`) for up to `--drain-timeout` seconds, then the program exits.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    # The agent never speaks TLS itself (the mesh does). Left importable, http.client's
    # optional `import ssl` (OpenSSL loaded) is an eighth of the agent's start-up.
    sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]  # None: import fails

import argparse
import collections
import contextlib
import errno
import http.client
import ipaddress
import json
import os
import re
import selectors
import signal
import socket
import socketserver
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple, cast
from urllib.parse import urlsplit, urlunsplit

# Not 15000: that is the Envoy admin port inside every Istio sidecar (15000-15090 are reserved).
DEFAULT_PROXY_LISTEN = "127.0.0.1:14000"
DEFAULT_ECHO_LISTEN = "0.0.0.0:9080"
DEFAULT_TIMEOUT_S = 5.0
MAX_TIMEOUT_S = 300.0
DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_MAX_CONNECTIONS = 64
MAX_RESPONSE_BYTES = 32 * 1024 * 1024  # buffered whole, so a failure mid-body is still a 502
MAX_ECHO_DELAY_S = 30.0
ATTEMPT_MEMORY = 10_000
ECHO_HEADERS_HEADER = "x-echo-request-headers"  # echo: the request headers it received, JSON
DEFAULT_DRAIN_S = 10.0  # SIGTERM: how long requests in flight may still take
CLIENT_IDLE_TIMEOUT_S = 60.0  # frees a connection slot held by an idle keep-alive client
LINGER_S = 1.0  # how long to drain an unread request before closing (avoids an RST)
LINGER_BYTES = 1024 * 1024
READ_CHUNK = 64 * 1024

# RFC 9110 §7.6.1 connection-specific fields, plus the legacy Proxy-Connection.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Consumed by the agent itself; never sent upstream. `x-request-id` too: the harness reads
# `l7: true` from the backend having seen one, which only an Envoy on the path may add; a
# client-supplied one would forge that proof.
AGENT_REQUEST_HEADERS = frozenset({"x-probe-timeout", "content-length", "expect", "x-request-id"})
# Set by the agent; an upstream's copy must not be mistaken for the agent's verdict.
AGENT_RESPONSE_HEADERS = frozenset({"x-probe-error", "x-probe-elapsed-ms"})
BODYLESS_METHODS = frozenset({"HEAD"})
BODYLESS_STATUSES = frozenset({204, 304})
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE")

_log_lock = threading.Lock()


def log(line: str) -> None:
    """One line to stdout, flushed (kubectl logs shows it at once)."""
    with _log_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


# --------------------------------------------------------------------------- addresses


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` -> (host, port)."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"--listen must be HOST:PORT, got {value!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    port = int(port_text)
    if not host or port > 65535:
        raise ValueError(f"--listen must be HOST:PORT, got {value!r}")
    return host, port


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost could resolve anywhere


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops SYNs under a burst (a 1 s retransmit each).
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.draining = False  # set on SIGTERM: answers then close their connection
        self._in_flight = 0
        self._idle = threading.Condition()
        self._stop_requested = False
        # A byte on this pair wakes the accept loop for a stop (see `serve_until_stopped`).
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_write.setblocking(False)
        try:
            super().__init__(address, handler)
        except BaseException:
            self._close_wake()
            raise

    def serve_until_stopped(self) -> None:
        """Accept and dispatch connections until `request_stop()`.

        Not socketserver's serve_forever: that wakes every poll interval to look for a
        shutdown (20 times a second per idle agent, and a stop waits for the next poll).
        This loop sleeps in select without a timeout until a client connects or a stop
        writes to the wake-up socket."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            while not self._stop_requested:
                for key, _ in selector.select():
                    if key.fileobj is self.socket and not self._stop_requested:
                        self._accept_one()

    def _accept_one(self) -> None:
        try:
            request, client_address = self.get_request()
        except OSError:  # the client left before the accept: nothing to serve
            return
        try:
            self.process_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
            self.shutdown_request(request)

    def request_stop(self) -> None:
        """End `serve_until_stopped` (safe from a signal handler and from any thread)."""
        self._stop_requested = True
        with contextlib.suppress(OSError):  # full (a stop is already pending) or closed
            self._wake_write.send(b"x")

    def server_close(self) -> None:
        super().server_close()
        self._close_wake()

    def _close_wake(self) -> None:
        self._wake_read.close()
        self._wake_write.close()

    @contextlib.contextmanager
    def request_scope(self) -> Iterator[None]:
        """One request being answered: the drain on SIGTERM waits for it."""
        with self._idle:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def in_flight(self) -> int:
        with self._idle:
            return self._in_flight

    def wait_idle(self, timeout: float) -> int:
        """Wait until no request is in flight (or the time is up); how many still are."""
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout)
            return self._in_flight

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can stall in a pod.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # One line instead of socketserver's traceback: a client that vanished is routine.
        exc = sys.exc_info()[1]
        sys.stderr.write(f"connection from {client_address[0]} failed: {exc!r}\n")


class _Handler(BaseHTTPRequestHandler):
    """What proxy and echo share: HTTP/1.1 keep-alive, and answers counted for the drain."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stalls

    def _handle(self) -> None:
        with cast(_Server, self.server).request_scope():
            self._respond()

    def _respond(self) -> None:
        raise NotImplementedError

    def end_headers(self) -> None:
        # While draining, every answer ends its connection: the client reconnects elsewhere.
        if cast(_Server, self.server).draining and not self.close_connection:
            self.send_header("Connection", "close")
        super().end_headers()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _bound(server: _Server) -> str:
    host, port = server.server_address[:2]
    host_text = str(host)
    return f"[{host_text}]:{port}" if ":" in host_text else f"{host_text}:{port}"


# --------------------------------------------------------------------------- bodies


class BodyTooLarge(Exception):
    pass


class BadRequest(Exception):
    pass


def _read_line(rfile: Any, limit: int = 4096) -> bytes:
    line = cast(bytes, rfile.readline(limit + 1))
    if len(line) > limit:
        raise BadRequest("chunk line too long")
    if not line:
        raise BadRequest("connection closed inside a chunked body")
    return line


def read_chunked(rfile: Any, max_bytes: int) -> bytes:
    """Decode a chunked request body (trailers are read and dropped)."""
    parts: list[bytes] = []
    total = 0
    while True:
        size_text = _read_line(rfile).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadRequest(f"bad chunk size {size_text[:20]!r}") from None
        if size == 0:
            while _read_line(rfile) not in (b"\r\n", b"\n"):
                pass
            return b"".join(parts)
        total += size
        if total > max_bytes:
            raise BodyTooLarge(f"chunked body over {max_bytes} bytes")
        data = cast(bytes, rfile.read(size))
        if len(data) != size:
            raise BadRequest("connection closed inside a chunk")
        parts.append(data)
        _read_line(rfile)  # the CRLF after the chunk


def read_body(handler: BaseHTTPRequestHandler, max_bytes: int) -> tuple[bytes, bool]:
    """The request body and whether the request framed one (Content-Length or chunked).

    Checks Content-Length before reading anything, so an oversized body is never buffered.
    """
    encoding = handler.headers.get("Transfer-Encoding")
    if encoding is not None:
        codings = [c.strip().lower() for c in encoding.split(",")]
        if codings[-1] != "chunked":
            raise BadRequest(f"unsupported Transfer-Encoding {encoding!r}")
        # Both framings present is a smuggling vector: answer this one, then close.
        if handler.headers.get("Content-Length") is not None:
            handler.close_connection = True
        return read_chunked(handler.rfile, max_bytes), True
    length_text = handler.headers.get("Content-Length")
    if length_text is None:
        return b"", False
    if not length_text.strip().isdigit():
        raise BadRequest(f"bad Content-Length {length_text!r}")
    length = int(length_text)
    if length > max_bytes:
        raise BodyTooLarge(f"Content-Length {length} over {max_bytes} bytes")
    data = handler.rfile.read(length)
    if len(data) != length:
        raise BadRequest("connection closed inside the body")
    return data, True


def linger_close(handler: BaseHTTPRequestHandler) -> None:
    """Close after draining what the client still sends, so it reads our answer, not an RST."""
    handler.close_connection = True
    try:
        handler.wfile.flush()
    except OSError:
        return
    drain_and_shut(cast(socket.socket, handler.connection))


def drain_and_shut(sock: socket.socket) -> None:
    """Half-close, then read what is still arriving (bounded in time and bytes)."""
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + LINGER_S
        drained = 0
        while drained < LINGER_BYTES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            sock.settimeout(remaining)
            chunk = sock.recv(READ_CHUNK)
            if not chunk:
                return
            drained += len(chunk)
    except OSError:
        pass


# --------------------------------------------------------------------------- upstream


# NamedTuples, not frozen dataclasses: `dataclasses` and its `inspect` were a tenth of the
# agent's start-up, paid by every pod and every test that starts one.
class Target(NamedTuple):
    host: str
    port: int
    path: str  # origin-form: path and query
    host_header: str


class Upstream(NamedTuple):
    """A complete upstream answer."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


class Failure(NamedTuple):
    """The upstream failed before a complete answer."""

    error: str  # reset|eof|refused|timeout|dns|error
    detail: str


def parse_target(target: str) -> Target:
    """An absolute-form request target (`http://host:port/path?q`)."""
    parts = urlsplit(target)
    if parts.scheme.lower() != "http":
        raise BadRequest(f"only http:// targets are proxied, got {parts.scheme or 'none'!r}")
    host = parts.hostname
    if not host:
        raise BadRequest("target has no host")
    try:
        port = parts.port or 80
    except ValueError:
        raise BadRequest("target has a bad port") from None
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    netloc = parts.netloc.rpartition("@")[2]  # never forward userinfo
    return Target(host=host, port=port, path=path, host_header=netloc)


def classify(exc: BaseException) -> str:
    """Name an upstream failure the way curl users would read it (docs/architecture.md §3)."""
    # Order matters: RemoteDisconnected is both a ConnectionResetError and a BadStatusLine.
    if isinstance(exc, socket.gaierror | ResolveTimeout):
        return "dns"
    if isinstance(exc, http.client.RemoteDisconnected | http.client.IncompleteRead):
        return "eof"
    if isinstance(exc, http.client.BadStatusLine):
        line = str(exc.args[0]) if exc.args else ""
        return "eof" if line in ("", "''", '""') else "error"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    # A broken pipe on send means the peer already answered our data with an RST.
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "reset"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, OSError):
        return {
            errno.ECONNRESET: "reset",
            errno.EPIPE: "reset",
            errno.ECONNREFUSED: "refused",
            errno.ETIMEDOUT: "timeout",
        }.get(exc.errno or 0, "error")
    return "error"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def fetch(
    method: str,
    target: Target,
    headers: Iterable[tuple[str, str]],
    body: bytes | None,
    timeout: float,
) -> Upstream | Failure:
    """One request on a fresh connection; the whole answer is read before anything is sent on."""
    deadline = time.monotonic() + timeout
    conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    try:
        # Our own connect: http.client's resolves with getaddrinfo, which no socket timeout
        # bounds (a silent DNS server held a 2 s probe for 20 s).
        conn.sock = connect(target.host, target.port, deadline)
        conn.putrequest(method, target.path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        _set_remaining(conn, deadline)
        response = conn.getresponse()
        data = _read_response(conn, response, deadline)
        return Upstream(response.status, response.reason, response.getheaders(), data)
    except Exception as exc:  # any failure is an observation, classified for the harness
        return Failure(classify(exc), _describe(exc))
    finally:
        conn.close()


class ResolveTimeout(TimeoutError):
    """Name resolution did not finish before the probe's deadline."""


def resolve(host: str, port: int, deadline: float) -> list[tuple[Any, ...]]:
    """getaddrinfo, given up on at `deadline` (it ignores socket timeouts, so it runs in a
    thread; one that never returns is abandoned, a daemon that ends with the resolver)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:  # a literal needs no resolver (and no thread)
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))]
    found: list[list[tuple[Any, ...]]] = []
    failed: list[BaseException] = []
    done = threading.Event()

    def work() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the waiting request
            failed.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, name="resolve", daemon=True).start()
    if not done.wait(max(0.0, deadline - time.monotonic())):
        raise ResolveTimeout(f"no answer from DNS for {host!r} before the probe timeout")
    if failed:
        raise failed[0]
    return found[0]


def connect(host: str, port: int, deadline: float) -> socket.socket:
    """A TCP connection to `host`:`port` (each address in turn), all by `deadline`."""
    last: OSError | None = None
    for family, kind, proto, _, address in resolve(host, port, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("upstream timeout")
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(remaining)
            sock.connect(address)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise last if last is not None else OSError(f"no address for {host!r}")


def _set_remaining(conn: http.client.HTTPConnection, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("upstream timeout")
    if conn.sock is not None:
        conn.sock.settimeout(remaining)


def _read_response(
    conn: http.client.HTTPConnection, response: http.client.HTTPResponse, deadline: float
) -> bytes:
    expected = response.length  # Content-Length, or None (chunked, or until close)
    parts: list[bytes] = []
    total = 0
    while True:
        _set_remaining(conn, deadline)  # a slow drip cannot outlive the probe timeout
        chunk = response.read(READ_CHUNK)
        if not chunk:
            data = b"".join(parts)
            # read(amt) returns short data at EOF instead of raising: check the length here.
            if expected is not None and total < expected:
                raise http.client.IncompleteRead(data, expected - total)
            return data
        total += len(chunk)
        if total > MAX_RESPONSE_BYTES:
            raise ValueError(f"response over {MAX_RESPONSE_BYTES} bytes")
        parts.append(chunk)


def connection_tokens(values: Iterable[str]) -> set[str]:
    """Header names listed in Connection headers (they are hop-by-hop too)."""
    return {t.strip().lower() for v in values for t in v.split(",") if t.strip()}


def upstream_headers(items: Sequence[tuple[str, str]], target: Target) -> list[tuple[str, str]]:
    listed = connection_tokens(v for k, v in items if k.lower() == "connection")
    drop = HOP_BY_HOP | AGENT_REQUEST_HEADERS | listed
    kept = [(k, v) for k, v in items if k.lower() not in drop]
    if not any(k.lower() == "host" for k, _ in kept):
        kept.insert(0, ("Host", target.host_header))
    return kept


def downstream_headers(
    items: Sequence[tuple[str, str]], keep_length: bool
) -> list[tuple[str, str]]:
    listed = connection_tokens(v for k, v in items if k.lower() == "connection")
    drop = HOP_BY_HOP | AGENT_RESPONSE_HEADERS | listed
    if not keep_length:
        drop = drop | {"content-length"}
    return [(k, v) for k, v in items if k.lower() not in drop]


# --------------------------------------------------------------------------- proxy


class ProxyServer(_Server):
    def __init__(
        self,
        address: tuple[str, int],
        max_connections: int,
        max_body: int,
        default_timeout: float,
    ) -> None:
        self.address_family = _family(address[0])
        self.max_body = max_body
        self.default_timeout = default_timeout
        self._slots = threading.BoundedSemaphore(max_connections)
        # Rejections need a thread too (to read the request before answering); bound those.
        self._reject_slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, ProxyHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self._reject(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _reject(self, request: socket.socket) -> None:
        if not self._reject_slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        thread = threading.Thread(target=self._answer_busy, args=(request,), daemon=True)
        thread.start()

    def _answer_busy(self, sock: socket.socket) -> None:
        try:
            sock.settimeout(LINGER_S)
            received = b""
            while b"\r\n\r\n" not in received and len(received) < READ_CHUNK:
                chunk = sock.recv(READ_CHUNK)
                if not chunk:
                    break
                received += chunk
            body = json.dumps({"error": "busy", "detail": "agent at max connections"}).encode()
            head = (
                "HTTP/1.1 503 Service Unavailable\r\n"
                "Content-Type: application/json\r\n"
                "x-probe-agent: busy\r\n"
                f"Content-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            )
            sock.sendall(head.encode("ascii") + body)
            drain_and_shut(sock)
        except OSError:
            pass
        finally:
            sock.close()
            self._reject_slots.release()
            log("- - 503 busy 0.0ms")


class ProxyHandler(_Handler):
    timeout = CLIENT_IDLE_TIMEOUT_S
    server_version = "ambient-harness-agent"

    @property
    def proxy(self) -> ProxyServer:
        return cast(ProxyServer, self.server)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # our own line per request, in `_log`

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write("agent: " + (format % args) + "\n")

    def handle_expect_100(self) -> bool:
        # Refuse an oversized body before the client sends it.
        length = self.headers.get("Content-Length", "")
        if length.strip().isdigit() and int(length) > self.proxy.max_body:
            self._refuse(413, "too-large", "request body too large")
            return False
        return super().handle_expect_100()

    def do_CONNECT(self) -> None:
        # No tunnels: the agent only replays plain HTTP requests (the mesh does the TLS).
        self._refuse(405, "method", "CONNECT is not supported")

    def _respond(self) -> None:
        if self.path.startswith("/"):
            self._origin_form()
            return
        started = time.monotonic()
        try:
            target = parse_target(self.path)
            timeout = self._timeout()
            body, framed = read_body(self, self.proxy.max_body)
        except BodyTooLarge as exc:
            self._refuse(413, "too-large", str(exc))
            return
        except BadRequest as exc:
            self._refuse(400, "bad-request", str(exc))
            return
        headers = upstream_headers(list(self.headers.items()), target)
        result = fetch(self.command, target, headers, body if framed else None, timeout)
        elapsed_ms = (time.monotonic() - started) * 1000.0
        if isinstance(result, Failure):
            payload = {"error": result.error, "detail": result.detail}
            self._answer(502, payload, [("x-probe-error", result.error)], elapsed_ms)
            self._log(502, result.error, elapsed_ms)
            return
        self._pass_through(result, elapsed_ms)
        self._log(result.status, None, elapsed_ms)

    def _timeout(self) -> float:
        text = self.headers.get("x-probe-timeout")
        if text is None:
            return self.proxy.default_timeout
        try:
            value = float(text)
        except ValueError:
            raise BadRequest(f"bad x-probe-timeout {text!r}") from None
        if not 0 < value <= MAX_TIMEOUT_S:
            raise BadRequest(f"x-probe-timeout must be in (0, {MAX_TIMEOUT_S:g}]")
        return value

    def _origin_form(self) -> None:
        if self.command in ("GET", "HEAD") and urlsplit(self.path).path == "/healthz":
            self._answer(200, {"status": "ok"})
            self._log(200, None, 0.0)
            return
        detail = "send absolute-form targets (http://host:port/path) through this proxy"
        self._refuse(400, "bad-request", detail)

    def _pass_through(self, upstream: Upstream, elapsed_ms: float) -> None:
        bodyless = (
            self.command in BODYLESS_METHODS
            or upstream.status in BODYLESS_STATUSES
            or upstream.status < 200
        )
        self.send_response_only(upstream.status, upstream.reason or None)
        for name, value in downstream_headers(upstream.headers, keep_length=bodyless):
            self.send_header(name, value)
        if not bodyless:
            self.send_header("Content-Length", str(len(upstream.body)))
        self.send_header("x-probe-elapsed-ms", f"{elapsed_ms:.3f}")
        self.end_headers()
        if not bodyless:
            self._write(upstream.body)

    def _refuse(self, status: int, error: str, detail: str) -> None:
        """Answer before reading the body, then close (the rest of it is not HTTP to us)."""
        self._answer(status, {"error": error, "detail": detail}, [("Connection", "close")])
        linger_close(self)
        self._log(status, None, 0.0)

    def _answer(
        self,
        status: int,
        payload: dict[str, str],
        extra: Sequence[tuple[str, str]] = (),
        elapsed_ms: float | None = None,
    ) -> None:
        body = json.dumps(payload).encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        if elapsed_ms is not None:
            self.send_header("x-probe-elapsed-ms", f"{elapsed_ms:.3f}")
        self.end_headers()
        if self.command != "HEAD":
            self._write(body)

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True  # the harness went away; nothing to tell it

    def _log(self, status: int, error: str | None, elapsed_ms: float) -> None:
        target = self.path.split("?", 1)[0]  # queries may carry tokens: keep them out of logs
        log(f"{self.command} {target} {status} {error or '-'} {elapsed_ms:.1f}ms")


for _method in METHODS:
    setattr(ProxyHandler, f"do_{_method}", ProxyHandler._handle)


# --------------------------------------------------------------------------- echo


class AttemptCounter:
    """How often each x-request-id was seen; bounded, least recently seen forgotten first."""

    def __init__(self, capacity: int = ATTEMPT_MEMORY) -> None:
        self._capacity = capacity
        self._seen: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._lock = threading.Lock()

    def see(self, request_id: str | None) -> int:
        if not request_id:
            return 1
        with self._lock:
            count = self._seen.pop(request_id, 0) + 1
            self._seen[request_id] = count
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return count


class EchoServer(_Server):
    def __init__(self, address: tuple[str, int], service: str, version: str) -> None:
        self.address_family = _family(address[0])
        self.service = service
        self.version = version
        self.pod = os.environ.get("POD_NAME")
        self.namespace = os.environ.get("POD_NAMESPACE")
        self.attempts = AttemptCounter()
        super().__init__(address, EchoHandler)


STATUS_PATH = re.compile(r"(?:^|/)status/(\d{3})/?$")
DELAY_PATH = re.compile(r"(?:^|/)delay/(\d+(?:\.\d+)?)/?$")


class EchoHandler(_Handler):
    server_version = "ambient-harness-echo"

    @property
    def echo(self) -> EchoServer:
        return cast(EchoServer, self.server)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write("echo: " + (format % args) + "\n")

    def _respond(self) -> None:
        try:
            read_body(self, DEFAULT_MAX_BODY * 10)
        except (BodyTooLarge, BadRequest) as exc:
            self._reply(413 if isinstance(exc, BodyTooLarge) else 400, 1, close=True)
            linger_close(self)
            return
        path = urlsplit(self.path).path
        status = 200
        if match := STATUS_PATH.search(path):
            status = int(match.group(1))
            status = status if 200 <= status <= 599 else 400
        elif match := DELAY_PATH.search(path):
            delay = min(float(match.group(1)), MAX_ECHO_DELAY_S)
            log(f"{self.command} {path} delaying {delay:g}s")
            time.sleep(delay)
        attempt = self.echo.attempts.see(self.headers.get("x-request-id"))
        self._reply(status, attempt)

    def _reply(self, status: int, attempt: int, close: bool = False) -> None:
        echo = self.echo
        served_by = f"{echo.service}-{echo.version}"
        path = urlsplit(self.path).path  # never the query: it may carry tokens into reports
        received = _header_dict(self.headers.items())
        payload = {
            "service": echo.service,
            "version": echo.version,
            "pod": echo.pod,
            "namespace": echo.namespace,
            "method": self.command,
            "path": path,
            "headers": received,
            "attempt": attempt,
        }
        body = json.dumps(payload).encode()
        bodyless = status in BODYLESS_STATUSES
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-served-by", served_by)
        self.send_header("x-echo-attempt", str(attempt))
        # HEAD and 204/304 answers have no body: what `l7` and `backend_saw` are read from
        # travels here too (ASCII JSON, so any header value fits on one line).
        self.send_header(ECHO_HEADERS_HEADER, json.dumps(received, separators=(",", ":")))
        if not bodyless:
            self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if not bodyless and self.command != "HEAD":
            try:
                self.wfile.write(body)
            except OSError:
                self.close_connection = True
        log(f"{self.command} {path} {status} {served_by} attempt={attempt}")


def _header_dict(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for name, value in items:
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return merged


for _method in (*METHODS, "CONNECT"):
    setattr(EchoHandler, f"do_{_method}", EchoHandler._handle)


# --------------------------------------------------------------------------- main


def serve(
    server: _Server, name: str, *, ready_file: str | None = None, drain_s: float = DEFAULT_DRAIN_S
) -> int:
    """Serve until SIGTERM/SIGINT, then drain; exit 0 on a clean stop."""
    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopping.set()
        server.request_stop()  # the loop's select wakes at once

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    if ready_file is not None:
        # The socket already listens (connections wait in its backlog): ready from now on.
        try:
            Path(ready_file).write_text(f"{_bound(server)}\n", encoding="ascii")
        except OSError as exc:
            server.server_close()
            print(f"agent: cannot write --ready-file {ready_file}: {exc}", file=sys.stderr)
            return 1
    log(f"{name} listening on {_bound(server)}")
    try:
        server.serve_until_stopped()
    finally:
        # Drain: not ready any more, accept nothing new, answer what is in flight.
        server.draining = True
        if ready_file is not None:
            Path(ready_file).unlink(missing_ok=True)
        server.server_close()
        if stopping.is_set():
            log(f"{name} draining: {server.in_flight()} request(s) in flight")
            left = server.wait_idle(drain_s)
            if left:
                log(f"{name} drain: {left} request(s) still in flight after {drain_s:g}s")
    log(f"{name} stopped")
    return 0


def _parser(prog: str = "agent") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sub = parser.add_subparsers(dest="mode", required=True)
    proxy = sub.add_parser(
        "proxy",
        help="HTTP/1.1 forward proxy for probes (loopback only)",
        description="Forward proxy: send absolute-form requests (GET http://svc:port/path) "
        "and the agent replays them from this pod on a fresh connection. Upstream failures "
        "come back as 502 with x-probe-error: reset|eof|refused|timeout|dns|error.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    proxy.add_argument(
        "--listen", default=DEFAULT_PROXY_LISTEN, help="HOST:PORT; loopback only (port 0: any)"
    )
    proxy.add_argument(
        "--force-listen",
        action="store_true",
        help="allow a non-loopback address (makes the agent an open proxy: tests only)",
    )
    proxy.add_argument(
        "--max-connections",
        type=int,
        default=DEFAULT_MAX_CONNECTIONS,
        help="client connections served at once; more get 503 with x-probe-agent: busy",
    )
    proxy.add_argument(
        "--max-body", type=int, default=DEFAULT_MAX_BODY, help="largest request body (bytes)"
    )
    proxy.add_argument(
        "--default-timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help="upstream deadline in seconds when a request has no x-probe-timeout",
    )
    echo = sub.add_parser(
        "echo",
        help="backend answering with what it received",
        description="Echo backend: any request gets 200 JSON {service, version, pod, "
        "namespace, method, path, headers, attempt} and x-served-by: SERVICE-VERSION; "
        ".../status/<code> and .../delay/<seconds> for error and timeout scenarios.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    echo.add_argument("--listen", default=DEFAULT_ECHO_LISTEN, help="HOST:PORT")
    echo.add_argument("--service", required=True, help="the Service name it stands for")
    echo.add_argument("--version", required=True, help="its version label, e.g. v2")
    for sub_parser in (proxy, echo):
        sub_parser.add_argument(
            "--ready-file",
            help="write this file once listening and remove it on SIGTERM "
            "(the pod's readiness probe tests for it)",
        )
        sub_parser.add_argument(
            "--drain-timeout",
            type=float,
            default=DEFAULT_DRAIN_S,
            help="on SIGTERM, seconds to let requests in flight finish before exiting",
        )
    return parser


def main(argv: list[str] | None = None, prog: str = "agent") -> int:
    """`prog`: the name usage lines show (`ambient-harness agent` when run through the CLI)."""
    args = _parser(prog).parse_args(argv)
    try:
        host, port = parse_listen(args.listen)
    except ValueError as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return 2
    try:
        if args.mode == "proxy":
            return _run_proxy(args, host, port)
        server = EchoServer((host, port), args.service, args.version)
    except OSError as exc:
        print(f"agent: cannot listen on {args.listen}: {exc}", file=sys.stderr)
        return 1
    return _serve(server, "echo", args)


def _serve(server: _Server, name: str, args: argparse.Namespace) -> int:
    return serve(server, name, ready_file=args.ready_file, drain_s=args.drain_timeout)


def _run_proxy(args: argparse.Namespace, host: str, port: int) -> int:
    if not is_loopback(host) and not args.force_listen:
        print(
            f"agent: refusing to listen on {host!r}: the proxy must bind a loopback address "
            "(127.0.0.1) so it is reachable only through port-forward, never an open proxy "
            "in the cluster; pass --force-listen to override",
            file=sys.stderr,
        )
        return 2
    if args.max_connections < 1 or args.max_body < 0 or args.default_timeout <= 0:
        print(
            "agent: --max-connections >= 1, --max-body >= 0, --default-timeout > 0", file=sys.stderr
        )
        return 2
    try:
        server = ProxyServer(
            (host, port), args.max_connections, args.max_body, args.default_timeout
        )
    except OSError as exc:
        print(f"agent: cannot listen on {args.listen}: {exc}", file=sys.stderr)
        return 1
    return _serve(server, "proxy", args)


if __name__ == "__main__":
    sys.exit(main())
