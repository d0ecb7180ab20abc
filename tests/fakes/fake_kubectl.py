"""A stand-in for `kubectl port-forward`, for offline tests of harness.host.portforward.

Installed as an executable named `kubectl` in a temporary bin directory. It accepts the
argument list the harness builds, listens on 127.0.0.1 (the requested local port, or any),
prints kubectl's `Forwarding from 127.0.0.1:PORT -> REMOTE` line, and forwards every
connection to 127.0.0.1:$FAKE_KUBECTL_UPSTREAM, printing `Handling connection for PORT`
(padded with $FAKE_KUBECTL_NOISE bytes, to prove the harness drains its output).

$FAKE_KUBECTL_ROUTES: JSON {"pod/NAME": port} choosing the upstream per target instead.
$FAKE_KUBECTL_ROUTES_FILE: a file with that JSON, read at start and again for every
connection (a test changes it as pods come and go; a target missing from it is a pod that
is gone).
$FAKE_KUBECTL_PIDS: a directory where each run records its pid (leak checks).
$FAKE_KUBECTL_FAIL: print this as an error and exit 1 instead of forwarding.

Like real kubectl (1.32 and 1.36), the first connection the pod refuses (nothing listens on
the remote port, e.g. while the container restarts) or that cannot reach the pod any more
ends the whole port-forward: kubectl prints the error and `error: lost connection to pod`,
closes every connection and exits 1.

Written on the interpreter's built-in modules (`_socket`, `_thread`): `socket`, `threading`
and `contextlib` would more than double its start-up, and the suite starts it often.
"""

from __future__ import annotations

import _socket
import _thread
import os
import sys


def pump(src: _socket.socket, dst: _socket.socket) -> None:
    """Copy one direction until either side ends; also used by test_runner's fake ztunnel."""
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            # Not contextlib.suppress: contextlib's import is a third of this start-up.
            try:  # noqa: SIM105
                s.shutdown(_socket.SHUT_RDWR)
            except OSError:
                pass
        src.close()  # each direction closes its own source: both sockets end up closed


def routes() -> dict[str, int]:
    text = os.environ.get("FAKE_KUBECTL_ROUTES")
    path = os.environ.get("FAKE_KUBECTL_ROUTES_FILE")
    if text is None and not path:
        return {}
    import json  # only here: its import (and re's) is a fifth of this program's start-up

    found = json.loads(text or "{}")
    if path:
        with open(path, encoding="utf-8") as table:
            found.update(json.load(table))
    return {str(k): int(v) for k, v in found.items()}


def upstream_of(target: str) -> int | None:
    table = routes()
    if target in table:
        return table[target]
    if "FAKE_KUBECTL_UPSTREAM" in os.environ:
        return int(os.environ["FAKE_KUBECTL_UPSTREAM"])
    return None


def lost_connection(port: int, remote: str, target: str, why: str) -> int:
    # kubectl's own words (an "Unhandled Error" log line, then the fatal one).
    pod = target.partition("/")[2]
    print(
        f'E0000 portforward.go:424] "Unhandled Error" err="an error occurred forwarding '
        f'{port} -> {remote}: error forwarding port {remote} to pod {pod}: {why}"',
        file=sys.stderr,
        flush=True,
    )
    print("error: lost connection to pod", file=sys.stderr, flush=True)
    return 1


def main(argv: list[str]) -> int:
    pids = os.environ.get("FAKE_KUBECTL_PIDS")
    if pids:
        with open(os.path.join(pids, str(os.getpid())), "w", encoding="utf-8") as record:
            record.write(" ".join(argv))
    if "port-forward" not in argv:
        print(f"fake kubectl: unsupported {argv}", file=sys.stderr)
        return 2
    failure = os.environ.get("FAKE_KUBECTL_FAIL")
    if failure:
        print(failure, file=sys.stderr)
        return 1
    assert argv[argv.index("--address") + 1] == "127.0.0.1"
    local, _, remote = argv[-1].partition(":")
    target = argv[-2]
    if upstream_of(target) is None:
        print(f'error: pods "{target.partition("/")[2]}" not found', file=sys.stderr)
        return 1
    noise = "." * int(os.environ.get("FAKE_KUBECTL_NOISE", "0"))
    listener = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    listener.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(local or 0)))
    listener.listen(64)
    port = listener.getsockname()[1]
    print(f"Forwarding from 127.0.0.1:{port} -> {remote}", flush=True)
    while True:
        fd, _ = listener._accept()
        conn = _socket.socket(fileno=fd)
        print(f"Handling connection for {port}{noise}", flush=True)
        upstream = upstream_of(target)
        if upstream is None:
            conn.close()
            return lost_connection(port, remote, target, "pod not found")
        up = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        try:
            up.connect(("127.0.0.1", upstream))
        except OSError as exc:
            up.close()
            conn.close()
            why = f"dial tcp4 127.0.0.1:{remote}: connect: {exc.strerror or exc}"
            return lost_connection(port, remote, target, why)
        # Threads of the interpreter's own: like daemon threads, none outlives the exit.
        _thread.start_new_thread(pump, (conn, up))
        _thread.start_new_thread(pump, (up, conn))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
