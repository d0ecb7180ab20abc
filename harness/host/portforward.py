"""Port-forward from this machine's 127.0.0.1 to an agent pod's loopback port.

Why a supervised `kubectl port-forward` subprocess rather than the kubernetes client's
`portforward`: kubectl is already a pinned tool of the harness and its port-forward is the
reference implementation of the streaming protocol (websocket/SPDY fallback, keep-alives);
the client's version works for pods only, gives a socket per connection that we would have
to pump through our own listener threads, and changes behaviour across client releases. A
subprocess is also what a user would type, so a dry run can print it verbatim.

Supervision, which pytest-kind's helper lacks (it restarts 10 times and sleeps 10 s):
- the local port is chosen by kubectl (`:REMOTE`) and read from its
  `Forwarding from 127.0.0.1:PORT -> REMOTE` line, so parallel runs never collide;
- kubectl's output is drained continuously by a thread (it prints a line per connection;
  an undrained pipe would eventually block it) and the tail is kept for error messages:
  the last lines that explain something, with the routine `Handling connection for N`
  lines only counted (they would otherwise fill the whole tail);
- a dropped forward (kubectl exited, or the agent stopped answering through it) is
  restarted once, on the same local port when possible; a second drop is an error. Real
  kubectl exits on the first connection the pod refuses (`error: lost connection to pod`),
  so whoever reconnects waits for the pod to be Ready first (harness.probe.forwarded);
- `close()` terminates, then kills, the process and reaps it; every open forward is also
  closed at interpreter exit, so none outlives the harness.
"""

from __future__ import annotations

import atexit
import collections
import re
import subprocess
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Final

from harness.errors import HarnessError

FORWARDING_RE: Final = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)")
ROUTINE_RE: Final = re.compile(r"^Handling connection for \d+")
START_TIMEOUT_S: Final = 30.0
MAX_TOTAL_RESTARTS: Final = 5
STOP_TIMEOUT_S: Final = 3.0
# Once kubectl has exited, how long `output()` waits for the reader to reach the end of the
# pipe (its last words, `error: lost connection to pod`, are the reason in every message).
DRAIN_TIMEOUT_S: Final = 2.0
TAIL_LINES: Final = 20

_open: weakref.WeakSet[PortForward] = weakref.WeakSet()
_open_lock = threading.Lock()


class PortForwardError(HarnessError, RuntimeError):
    """The forward could not be started, or dropped more often than it may be restarted."""


def port_forward_argv(
    kubectl: Path,
    namespace: str,
    target: str,
    remote_port: int,
    *,
    local_port: int = 0,
    kubeconfig: Path | None = None,
    context: str | None = None,
) -> list[str]:
    """`kubectl port-forward --address 127.0.0.1 -n NS TARGET [LOCAL]:REMOTE`."""
    argv = [str(kubectl)]
    if kubeconfig is not None:
        argv += ["--kubeconfig", str(kubeconfig)]
    if context is not None:
        argv += ["--context", context]
    local = str(local_port) if local_port else ""
    return [
        *argv,
        "port-forward",
        "--address",
        "127.0.0.1",
        "-n",
        namespace,
        target,
        f"{local}:{remote_port}",
    ]


class _Process:
    """One kubectl process with its output drained into a bounded tail."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.routine = 0  # `Handling connection for N` lines seen (counted, not kept)
        self._ready = threading.Event()
        self.port: int | None = None
        # stdin closed: kubectl must never wait for input. Same process group as the harness,
        # so a Ctrl-C in the terminal reaches it too.
        self.popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",  # one odd byte must not kill the drain thread (kubectl would block)
            bufsize=1,
        )
        self._reader = threading.Thread(
            target=self._drain, args=(self.popen.stdout,), name="port-forward", daemon=True
        )
        self._reader.start()

    def _drain(self, stream: IO[str] | None) -> None:
        if stream is None:
            return
        for line in stream:
            line = line.rstrip()
            if ROUTINE_RE.match(line):
                self.routine += 1
            else:
                self.tail.append(line)
            match = FORWARDING_RE.search(line)
            if match and self.port is None:
                self.port = int(match.group(1))
                self._ready.set()
        self._ready.set()  # EOF: the process is gone; wake whoever waits

    def wait_ready(self, timeout: float) -> int | None:
        self._ready.wait(timeout)
        return self.port

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._reader.join(STOP_TIMEOUT_S)
        if self.popen.stdout is not None:
            self.popen.stdout.close()

    def output(self) -> str:
        if self.popen.poll() is not None:
            self._reader.join(DRAIN_TIMEOUT_S)
        lines = list(self.tail)
        if self.routine:
            lines.append(f"({self.routine} 'Handling connection for ...' line(s) left out)")
        return "\n".join(lines) or "(no output)"


class PortForward:
    """A supervised forward 127.0.0.1:`port` -> `target`:`remote_port` in `namespace`.

    Use as a context manager, or call `close()`. `target` is `pod/NAME` (or anything kubectl
    accepts, e.g. `deployment/NAME`); `resolve`, when given, names the target again before a
    restart (a replaced pod has a new name).
    """

    def __init__(
        self,
        kubectl: Path,
        namespace: str,
        target: str,
        remote_port: int,
        *,
        kubeconfig: Path | None = None,
        context: str | None = None,
        max_restarts: int = 1,
        max_total_restarts: int = MAX_TOTAL_RESTARTS,
        start_timeout_s: float = START_TIMEOUT_S,
        resolve: Callable[[], str] | None = None,
    ) -> None:
        self.kubectl = kubectl
        self.namespace = namespace
        self.target = target
        self.remote_port = remote_port
        self.kubeconfig = kubeconfig
        self.context = context
        # `max_restarts` in a row without the forward carrying an answer in between (see
        # `carried`); `max_total_restarts` over its life, so a pod replaced again and again
        # ends the run instead of stretching every probe by a pod start-up.
        self.max_restarts = max_restarts
        self.max_total_restarts = max_total_restarts
        self._unproven = 0
        self.start_timeout_s = start_timeout_s
        # Re-resolves the target on restart (the agent's pod may have been replaced).
        self.resolve = resolve
        self.restarts = 0
        self._proc: _Process | None = None
        self._port: int | None = None
        self._lock = threading.Lock()

    # --- lifecycle ------------------------------------------------------------------------

    def argv(self, local_port: int = 0) -> list[str]:
        return port_forward_argv(
            self.kubectl,
            self.namespace,
            self.target,
            self.remote_port,
            local_port=local_port,
            kubeconfig=self.kubeconfig,
            context=self.context,
        )

    def start(self) -> int:
        """Start kubectl and return the local port once it is forwarding."""
        with self._lock:
            if self._proc is not None and self._proc.alive():
                assert self._port is not None
                return self._port
            self._port = self._spawn(0)
            with _open_lock:
                _open.add(self)
            return self._port

    def _spawn(self, local_port: int) -> int:
        proc = _Process(self.argv(local_port))
        self._proc = proc
        try:
            port = proc.wait_ready(self.start_timeout_s)
        except BaseException:  # Ctrl-C while waiting: the process is not registered yet
            proc.stop()
            self._proc = None
            raise
        if port is None or not proc.alive():
            proc.stop()
            self._proc = None
            raise PortForwardError(
                f"kubectl port-forward to {self.namespace}/{self.target}:{self.remote_port} "
                f"did not start within {self.start_timeout_s:g}s:\n{proc.output()}"
            )
        return port

    @property
    def port(self) -> int:
        if self._port is None:
            raise PortForwardError("port-forward not started")
        return self._port

    @property
    def pid(self) -> int | None:
        return self._proc.popen.pid if self._proc is not None else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.alive()

    def check_budget(self, reason: str = "") -> None:
        """Raise PortForwardError if the forward may not be restarted any more."""
        tail = self._proc.output() if self._proc is not None else ""
        if self._unproven >= self.max_restarts:
            raise PortForwardError(
                f"port-forward to {self.namespace}/{self.target} dropped again after "
                f"{self._unproven} restart(s){': ' + reason if reason else ''}\n{tail}"
            )
        if self.restarts >= self.max_total_restarts:
            raise PortForwardError(
                f"port-forward to {self.namespace}/{self.target} dropped after "
                f"{self.restarts} restarts in this run (the agent's pod keeps being replaced; "
                f"see: kubectl get events -n {self.namespace})"
                f"{': ' + reason if reason else ''}\n{tail}"
            )

    def reconnect(self, target: str | None = None) -> int:
        """Replace the kubectl process (aimed at `target` when given) without counting a
        restart; returns the local port, normally unchanged."""
        with self._lock:
            return self._reconnect(target)

    def _reconnect(self, target: str | None) -> int:
        previous = self._proc
        if previous is not None:
            previous.stop()
        if target is not None:
            self.target = target
        wanted = self._port or 0
        try:
            self._port = self._spawn(wanted)
        except PortForwardError:
            if not wanted:
                raise
            # Someone took the old port in between: any free port will do.
            self._port = self._spawn(0)
        return self._port

    def count_restart(self) -> None:
        """A replaced forward carried an answer again: it counts against the budget."""
        with self._lock:
            self.restarts += 1
            self._unproven += 1

    def carried(self) -> None:
        """A probe's answer came through: the next drop may be restarted again."""
        with self._lock:
            self._unproven = 0

    def restart(self, reason: str = "") -> int:
        """Replace a dropped forward (within the budget); returns the local port, normally
        unchanged. Counted only once kubectl forwards again."""
        with self._lock:
            self.check_budget(reason)
            port = self._reconnect(self.resolve() if self.resolve is not None else None)
            self.restarts += 1
            self._unproven += 1
            return port

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                self._proc.stop()
                self._proc = None
        with _open_lock:
            _open.discard(self)

    def output(self) -> str:
        return self._proc.output() if self._proc is not None else ""

    def __enter__(self) -> PortForward:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_forwards() -> list[PortForward]:
    with _open_lock:
        return list(_open)


def close_all() -> None:
    """Close every forward still open (also run at interpreter exit)."""
    for forward in open_forwards():
        forward.close()


def wait_healthy(
    check: Callable[[], bool],
    timeout_s: float,
    interval_s: float = 0.1,
    *,
    alive: Callable[[], bool] | None = None,
) -> bool:
    """Poll `check()` (e.g. `Prober.healthy`) until it returns True or the time is up.

    `alive` (e.g. `PortForward.alive`) ends the wait early: kubectl exits on the first
    connection the pod refuses, and polling a closed local port cannot succeed.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return True
        if alive is not None and not alive():
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


atexit.register(close_all)
