"""What the agent costs per request: httpx -> agent -> echo versus httpx -> echo, on loopback.

Starts the real echo and agent programs (`python harness/inpod/agent.py ...`), warms both paths
up, then sends N sequential GETs on each path and prints requests/s, latency percentiles,
the ratio and the milliseconds the agent adds (target: <= 1 ms added at the median).

    .venv/bin/python benchmarks/agent_overhead.py [--requests 2000] [--warmup 200]

It also prints what one readiness check costs on this machine (wall and CPU time of the
process the kubelet would exec, without the container runtime's own exec overhead, which is
the same for both): the old `python -c` /healthz client against the `test -f` probe.

The agent opens a fresh upstream connection per request (that is the probe contract), so
the figure includes one loopback TCP handshake; the direct path reuses a keep-alive
connection.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

AGENT = Path(__file__).resolve().parents[1] / "harness" / "inpod" / "agent.py"
# The readiness check the agent pods used before (a Python interpreter per probe), to compare
# with the `test -f` of the ready file the agent writes now (harness/run/workloads.py).
PYTHON_HEALTH_CHECK = (
    "import sys, urllib.request\n"
    "opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))\n"
    "r = opener.open('{url}/healthz', timeout=2)\n"
    "sys.exit(0 if r.status == 200 else 1)\n"
)
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


def exec_cost(argv: list[str], n: int) -> tuple[float, float]:
    """Mean wall and CPU milliseconds of running `argv` to completion, over `n` runs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    for _ in range(n):
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    wall = (time.perf_counter() - started) / n * 1000.0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / n * 1000.0
    return wall, cpu


def readiness_costs(agent_url: str, ready_file: Path, n: int) -> list[str]:
    python = [sys.executable, "-c", PYTHON_HEALTH_CHECK.replace("{url}", agent_url)]
    test_f = ["test", "-f", str(ready_file)]
    lines = [f"readiness check, mean of {n} runs (process only, no container exec overhead):"]
    for name, argv in (("python -c /healthz", python), ("test -f ready-file", test_f)):
        wall, cpu = exec_cost(argv, n)
        lines.append(f"  {name:<20} {wall:7.2f} ms wall  {cpu:7.2f} ms CPU")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--probes", type=int, default=50, help="readiness checks to time")
    args = parser.parse_args()
    listen = "127.0.0.1:0"
    state = Path(tempfile.mkdtemp(prefix="agent-bench-"))
    ready = state / "ready"
    with (
        program("echo", "--listen", listen, "--service", "ratings", "--version", "v1") as echo,
        program("proxy", "--listen", listen, "--ready-file", str(ready)) as agent,
        httpx.Client(trust_env=False) as direct,
        httpx.Client(proxy=agent, trust_env=False) as proxied,
    ):
        url = f"{echo}/ratings/1"
        base = measure("httpx -> echo", direct, url, args.requests, args.warmup)
        via = measure("httpx -> agent -> echo", proxied, url, args.requests, args.warmup)
        name_url = url.replace("127.0.0.1", "localhost")  # resolved per request, in a thread
        named = measure("  same, by name", proxied, name_url, args.requests, args.warmup)
        probes = readiness_costs(agent, ready, args.probes)
    shutil.rmtree(state, ignore_errors=True)
    print(f"{args.requests} sequential GETs per path after {args.warmup} warm-up, loopback")
    print(base.line())
    print(via.line())
    print(named.line())
    added = via.median - base.median
    print(
        f"agent: {via.rps / base.rps:.2f}x the direct throughput, "
        f"{via.median / base.median:.2f}x the median latency, "
        f"+{added:.3f} ms at the median (target <= 1 ms: {'met' if added <= 1.0 else 'MISSED'})"
    )
    print("\n".join(probes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
