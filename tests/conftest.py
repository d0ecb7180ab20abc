"""Shared fixtures: the CRD schema directory and the fake Kubernetes API server.

Plain helpers (repo paths, a closed port, running the CLI) are in helpers.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import importlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers import CRDS

from harness.errors import HarnessError
from harness.host import paths

# The fixtures' stand-ins are imported where used: the xdist controller loads this file too,
# and runs no test.
if TYPE_CHECKING:
    from fakes.fake_apiserver import FakeApiServer
    from fakes.fake_kind import ApiServer

    from harness.kube.client import Kube

# pytester runs pytest in this process (tests/pytest_plugin); it must be declared here, in the
# top conftest.
pytest_plugins = ["pytester", "subset_order"]
# The lint corpus (tests/malformed/: 155 directories of YAML, no test module) is data the lint
# tests read; walking it cost every pytest process ~0.13 s of collection. Its own conftest.py
# keeps its scenario.yaml files from being items when pytest is pointed at it.
collect_ignore = ["malformed"]
# An in-process run drops the modules it imported afterwards; lint's CEL engine (a compiled
# extension, imported at its first rule) must not be imported anew by the next run, or the
# programs lint cached belong to the dropped one: imported here, before any run.
importlib.import_module("cel_expr_python.cel")
importlib.import_module("cel_expr_python.ext.ext_strings")

# Every test, and every CLI it starts, sees the one directory the Makefile resolves.
os.environ.setdefault(paths.CRD_DIR_ENV, str(CRDS))

# The suite never writes into (or reads pinned tools from) the user's harness cache: a run
# through the fake kind wrote its kubeconfig over a real cluster's in ~/.cache/ambient-harness.
# One directory for the whole run (made by the first process, inherited by xdist workers and
# every CLI started), so the CRD index is built once, not once per worker.
_SUITE_CACHE = "AMBIENT_HARNESS_SUITE_CACHE"
_made_cache = os.environ.get(_SUITE_CACHE) is None
if _made_cache:
    os.environ[_SUITE_CACHE] = tempfile.mkdtemp(prefix="ambient-harness-suite-cache-")
os.environ[paths.CACHE_ENV] = os.environ[_SUITE_CACHE]

# Collection and the tests build hundreds of thousands of long-lived objects; collecting less
# often (the first generation at 10,000 allocations, not 700) costs a little memory, no
# behaviour. benchmarks/suite_time.py --by-file prints what garbage collection costs.
gc.set_threshold(10_000, 20, 20)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Keep the garbage collector off what collection built and lives for the whole run.

    Full collections walked every imported module, test and parametrisation again and again:
    about 6 s of the suite's CPU, now 1 s. Frozen objects are never freed (they live until
    exit anyway); a cycle a test makes is still collected. No full collection first: it found
    ~200 unreachable objects among ~130,000 and cost each process ~0.08 s of CPU; those few
    stay, frozen, until exit.
    """
    if hasattr(session.config, "workerinput") and "harness.lint.crds" in sys.modules:
        _load_crd_index_once()
    gc.freeze()


def _load_crd_index_once() -> None:
    """The CRD index, which every xdist worker's lint tests load, parsed by one worker.

    The workers start together: each found the suite cache empty and parsed the bundles
    (~0.15 s of CPU each). Under a lock, the first one parses and writes the cache, the others
    read it (~0.01 s). Missing or damaged bundles are left to the tests that need them.
    """
    from harness.lint import crds

    with (Path(os.environ[_SUITE_CACHE]) / "crd-index.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        with contextlib.suppress(HarnessError):
            crds.load_index()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _made_cache:
        shutil.rmtree(os.environ[_SUITE_CACHE], ignore_errors=True)


@pytest.fixture
def crd_dir() -> Path:
    """The pinned CRDs, where the Makefile and the CLI look for them (helpers.CRDS)."""
    path = CRDS
    if not list(path.glob("*.yaml")):
        pytest.fail(
            f"no CRD schemas at {path}: set AMBIENT_HARNESS_CRD_DIR or run "
            "`ambient-harness schemas fetch`"
        )
    return path


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    """An in-process fake Kubernetes API server on loopback (see fake_apiserver.py).

    A request the fake could not handle (it answers 500) fails the test at teardown: the
    test would otherwise pass or fail on a bug in the fake.
    """
    from fakes.fake_apiserver import FakeApiServer

    with FakeApiServer() as server:
        yield server
    if server.server_errors:
        pytest.fail("the fake API server failed:\n" + "\n".join(server.server_errors))


@pytest.fixture
def kube(api: FakeApiServer) -> Iterator[Kube]:
    """A `Kube` talking to the fake API server, polling fast."""
    from harness.kube.client import Kube

    k = Kube(api.api_client(), poll_interval=0.005)
    yield k
    k.close()


@pytest.fixture
def version_api() -> Iterator[ApiServer]:
    """Answers only /version: all a cluster provider asks of a cluster (not `api`)."""
    from fakes.fake_kind import ApiServer

    server = ApiServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version_api: ApiServer) -> Path:
    """Stand-in kind, kubectl and docker on PATH, their clusters answering at `version_api`."""
    from fakes.fake_kind import install_fake_kind

    return install_fake_kind(tmp_path, monkeypatch, version_api.url)
