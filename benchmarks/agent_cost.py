"""CPU of the probe path's real parts: an agent's start-up, and one probe through it.

    python benchmarks/agent_cost.py [--starts 20] [--probes 500]

Prints the CPU (user + system) of starting the in-pod agent until it listens and stopping
it with SIGTERM (as the tests and a pod do), and of one probe sequentially through
Prober -> agent -> echo on loopback, for each of the three processes. CPU, not wall: the
machine is shared. Compare before/after in the same minute (the VM's speed drifts).
"""

from __future__ import annotations

import argparse
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.probe.prober import Prober

REPO = Path(__file__).resolve().parents[1]
AGENT = REPO / "harness" / "inpod" / "agent.py"


def _start(*args: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-S", str(AGENT), *args], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    port = int(process.stdout.readline().rsplit(":", 1)[1])
    return process, port


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=10)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_of(pid: int) -> float:
    """A live process's CPU so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime, stime in clock ticks


def start_stop(count: int) -> float:
    before = _children_cpu()
    for _ in range(count):
        process, _ = _start("proxy", "--listen", "127.0.0.1:0")
        _stop(process)
    return (_children_cpu() - before) / count


def per_probe(count: int) -> tuple[float, float, float]:
    echo, echo_port = _start("echo", "--listen", "127.0.0.1:0", "--service", "r", "--version", "v1")
    agent, agent_port = _start("proxy", "--listen", "127.0.0.1:0")
    try:
        with Prober("127.0.0.1", agent_port) as prober:
            url = f"http://127.0.0.1:{echo_port}/bench"
            prober.probe("GET", url)  # connections and first-use costs out of the figure
            own, a, e = time.process_time(), _cpu_of(agent.pid), _cpu_of(echo.pid)
            for _ in range(count):
                prober.probe("GET", url)
            own = time.process_time() - own
            a, e = _cpu_of(agent.pid) - a, _cpu_of(echo.pid) - e
    finally:
        _stop(agent)
        _stop(echo)
    return own / count, a / count, e / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--probes", type=int, default=500)
    args = parser.parse_args()
    print(f"agent start + SIGTERM stop: {start_stop(args.starts) * 1000:.1f} ms CPU")
    own, agent, echo = per_probe(args.probes)
    print(
        f"one probe: prober {own * 1000:.2f} ms + agent {agent * 1000:.2f} ms"
        f" + echo {echo * 1000:.2f} ms CPU"
    )


if __name__ == "__main__":
    main()
