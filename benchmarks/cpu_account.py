"""pytest plugin: the CPU each test costs, its own and its children's (loaded by suite_time.py).

    python -m pytest -p cpu_account ...   (with benchmarks/ on PYTHONPATH and CPU_ACCOUNT_DIR set)

Each process (xdist worker or the lone pytest) writes one JSON file into $CPU_ACCOUNT_DIR:
per test id its user + system time, the time of the children it waited for, and its wall time,
and the process's own totals (start-up and collection included, and the CPU its garbage
collector took).
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_ROWS: list[tuple[str, float, float, float]] = []
_GC = [0.0, 0.0]  # CPU in garbage collection so far; when the current one started


def _garbage_collection(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _GC[1] = time.process_time()
    else:
        _GC[0] += time.process_time() - _GC[1]


gc.callbacks.append(_garbage_collection)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    before, start = os.times(), time.perf_counter()
    yield
    after, wall = os.times(), time.perf_counter() - start
    own = (after.user - before.user) + (after.system - before.system)
    children = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    _ROWS.append((item.nodeid, own, children, wall))


def pytest_sessionfinish(session: pytest.Session) -> None:
    directory = os.environ.get("CPU_ACCOUNT_DIR")
    if not directory:
        return
    name = os.environ.get("PYTEST_XDIST_WORKER", "controller")
    if name == "controller" and not _ROWS:
        return  # the xdist controller runs no test; the workers' children are not its waits
    t = os.times()
    document = {"rows": _ROWS, "own": t.user + t.system, "gc": _GC[0]}
    (Path(directory) / f"{name}-{os.getpid()}.json").write_text(json.dumps(document))
