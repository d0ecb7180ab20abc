"""The fake API server's HTTP side: a threading server that can end its connections, and
the request handler that dispatches to the server object (`Handler.api`)."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from fakes.apiserver_model import (
    ApiStatus,
    RecordedRequest,
)
from fakes.prompt_server import PromptServer


class HttpServer(PromptServer):
    """Tracks its connections and handler threads so that `end_connections` can end them."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._guard = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._handlers: list[threading.Thread] = []

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        with self._guard:
            self._connections.add(request)
            self._handlers = [h for h in self._handlers if h.is_alive()]
            self._handlers.append(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._guard:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that closed or reset its keep-alive connection is routine for a server;
        # anything else is printed (inside the test that caused it, see end_connections).
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def join_handlers(self, timeout: float) -> None:
        """Wait for the handler threads to end by themselves (their clients closed)."""
        with self._guard:
            handlers = list(self._handlers)
        for handler in handlers:
            handler.join(timeout)

    def end_connections(self, timeout: float) -> None:
        with self._guard:
            connections, handlers = list(self._connections), list(self._handlers)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for handler in handlers:
            handler.join(timeout)


class Handler(BaseHTTPRequestHandler):
    api: Any  # the FakeApiServer, set by a subclass in FakeApiServer.start
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    # Headers and body are separate writes: without TCP_NODELAY, Nagle + delayed ACK add
    # ~40 ms to every response.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _body(self) -> tuple[str | None, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type")
        ctype = ctype.split(";")[0].strip() if ctype else None
        if not raw:
            return ctype, None
        text = raw.decode()
        try:
            return ctype, json.loads(text)
        except ValueError:
            try:
                return ctype, yaml.safe_load(text)
            except yaml.YAMLError:
                return ctype, text

    def _send(self, code: int, payload: Any, ctype: str = "application/json") -> None:
        if isinstance(payload, bytes | bytearray):
            data = bytes(payload)
        else:
            data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if code != 204:  # a 204 has no body and no length (RFC 9110 §8.6)
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        ctype, body = self._body()
        self.api.record(RecordedRequest(method, parts.path, query, ctype, body))
        try:
            if method == "GET":
                found = self.api.discovery(parts.path)
                if found is not None:
                    self._send(200, found)
                    return
            r = self.api.route(parts.path)
            if r is None:
                raise ApiStatus(
                    404,
                    "NotFound",
                    f"the server could not find the requested resource ({method} {parts.path})",
                )
            handlers: dict[str, Callable[[], tuple[int, Any, str]]] = {
                "GET": lambda: self.api.handle_get(r, query),
                "PATCH": lambda: self.api.handle_patch(r, query, ctype, body),
                "DELETE": lambda: self.api.handle_delete(r, query),
            }
            if method not in handlers:
                raise ApiStatus(405, "MethodNotAllowed", f"{method} is not supported")
            code, payload, out_type = handlers[method]()
            self._send(code, payload, out_type)
        except ApiStatus as e:
            self._send(e.code, e.body())
        except (ConnectionError, TimeoutError):
            raise  # the client went away mid-answer: handle_error ignores it
        except Exception:
            # A bug in the fake must not look like a flaky connection to the client under
            # test: answer 500 and keep the traceback for the fixture to report.
            self.api.server_errors.append(traceback.format_exc())
            self._send(500, ApiStatus(500, "InternalError", "fake API server error").body())

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")
