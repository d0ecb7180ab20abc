"""A ThreadingHTTPServer for the stand-ins whose `shutdown()` returns at once.

socketserver's `serve_forever` looks for a shutdown request once per poll interval, so every
`shutdown()` waits out part of one (10 ms in the fake API server: a share of every test that
uses it) and an idle server wakes a hundred times a second in the test's process. Here the
serve loop sleeps in select until a client connects or `shutdown()` writes to a wake-up
socket, as the in-pod agent's does (harness/inpod/agent.py, which the tests must not borrow
from).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class PromptServer(ThreadingHTTPServer):
    """`serve_forever()` in a thread; `shutdown()` from another ends it without a poll."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._stop_requested = False
        self._stopped = threading.Event()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_write.setblocking(False)
        super().__init__(address, handler)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until `shutdown()`; `poll_interval` is accepted and not needed."""
        self._stopped.clear()
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self.socket, selectors.EVENT_READ)
                selector.register(self._wake_read, selectors.EVENT_READ)
                while not self._stop_requested:
                    for key, _ in selector.select():
                        if key.fileobj is self.socket and not self._stop_requested:
                            self._accept_one()
        finally:
            self._stopped.set()

    def _accept_one(self) -> None:
        try:
            request, client_address = self.get_request()
        except OSError:
            return
        try:
            self.process_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
            self.shutdown_request(request)

    def shutdown(self) -> None:
        """End `serve_forever` and wait until it has returned (as socketserver's does)."""
        self._stop_requested = True
        with contextlib.suppress(OSError):
            self._wake_write.send(b"x")
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        self._wake_read.close()
        self._wake_write.close()
