"""What the agent costs per request: httpx -> agent -> echo versus httpx -> echo, on loopback.

Starts the real echo and agent programs (`python harness/inpod/agent.py ...`), warms both paths
up, then sends N sequential GETs on each path and prints requests/s, latency percentiles,
the ratio and the milliseconds the agent adds (target: <= 1 ms added at the median).

    .venv/bin/python benchmarks/agent_overhead.py [--requests 2000] [--warmup 200]

The agent opens a fresh upstream connection per request (that is the probe contract), so
the figure includes one loopback TCP handshake; the direct path reuses a keep-alive
connection.
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

AGENT = Path(__file__).resolve().parents[1] / "harness" / "agent.py"
LISTENING = re.compile(r"listening on (\S+):(\d+)$")


@contextmanager
def program(*args: str) -> Iterator[str]:
    """Run agent.py with ARGS; yield its base URL; SIGTERM it afterwards."""
    process = subprocess.Popen(
        [sys.executable, str(AGENT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    match = LISTENING.search(process.stdout.readline().strip())
    if match is None:
        process.kill()
        process.wait()
        raise SystemExit(f"agent.py {' '.join(args)} did not start")
    # Discard the per-request log lines so the pipe never fills and blocks the program.
    threading.Thread(target=process.stdout.read, daemon=True).start()
    try:
        yield f"http://{match.group(1)}:{match.group(2)}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)


@dataclass(frozen=True)
class Figures:
    name: str
    latencies_ms: list[float]
    wall_s: float

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.wall_s

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def median(self) -> float:
        return statistics.median(self.latencies_ms)

    def line(self) -> str:
        return (
            f"{self.name:<22} {self.rps:8.0f} req/s   median {self.median:6.3f} ms   "
            f"p90 {self.pct(0.9):6.3f} ms   p99 {self.pct(0.99):6.3f} ms"
        )


def measure(name: str, client: httpx.Client, url: str, n: int, warmup: int) -> Figures:
    for _ in range(warmup):
        client.get(url).raise_for_status()
    latencies: list[float] = []
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        response = client.get(url)
        latencies.append((time.perf_counter() - t0) * 1000.0)
        if response.status_code != 200:
            raise SystemExit(f"{name}: unexpected {response.status_code} {response.text[:200]}")
    return Figures(name, latencies, time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    listen = "127.0.0.1:0"
    with (
        program("echo", "--listen", listen, "--service", "ratings", "--version", "v1") as echo,
        program("proxy", "--listen", listen) as agent,
        httpx.Client(trust_env=False) as direct,
        httpx.Client(proxy=agent, trust_env=False) as proxied,
    ):
        url = f"{echo}/ratings/1"
        base = measure("httpx -> echo", direct, url, args.requests, args.warmup)
        via = measure("httpx -> agent -> echo", proxied, url, args.requests, args.warmup)
    print(f"{args.requests} sequential GETs per path after {args.warmup} warm-up, loopback")
    print(base.line())
    print(via.line())
    added = via.median - base.median
    print(
        f"agent: {via.rps / base.rps:.2f}x the direct throughput, "
        f"{via.median / base.median:.2f}x the median latency, "
        f"+{added:.3f} ms at the median (target <= 1 ms: {'met' if added <= 1.0 else 'MISSED'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
