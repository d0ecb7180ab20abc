"""A loopback file server with misbehaviours on demand, and helpers for download tests."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from harness.host.download import Fetcher
from harness.host.versions import Artifact


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Route:
    body: bytes
    mode: str = "ok"  # ok | short | no-length | redirect
    location: str = ""


@dataclass
class FileServer:
    base: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def add(self, path: str, body: bytes, mode: str = "ok", location: str = "") -> str:
        self.routes[path] = Route(body, mode, location)
        return self.base + path


def _handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the connection closes after each response

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            server.requests.append(self.path)
            route = server.routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            if route.mode == "redirect":
                self.send_response(302)
                self.send_header("Location", route.location)
                self.end_headers()
                return
            self.send_response(200)
            if route.mode == "short":
                # Announce more than we send, then close: a cut-off transfer.
                self.send_header("Content-Length", str(len(route.body) + 1000))
            elif route.mode != "no-length":
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

    return Handler


@contextlib.contextmanager
def serve_files() -> Iterator[FileServer]:
    state = FileServer(base="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


LOOPBACK = Fetcher(allow_insecure_loopback=True, timeout_s=2.0, connect_timeout_s=1.0)
BINARY = b"\x7fELF pretend binary " + bytes(range(256)) * 64


def artifact(url: str, **kwargs: object) -> Artifact:
    fields: dict[str, object] = {"name": "test artifact", "url": url, "max_bytes": 1 << 20}
    fields.update(kwargs)
    return Artifact(**fields)  # type: ignore[arg-type]


def files_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if not p.is_dir())
