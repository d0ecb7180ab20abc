"""The pytest run's state, owned by one object the plugin registers (`HarnessSession`): the
options (built once from pytest's config), the one `LiveSession`, the results for the JSON
report, JUnit properties and the failure summary.

pytest-xdist: every worker calls `live_session`; the set-up runs under an exclusive file
lock (`fcntl.flock`) in the run's shared temporary directory, so the first worker creates the
cluster and installs the mesh while the others wait, then find everything in place (kind
reuses the cluster, the Gateway API apply is idempotent, Istio is detected and left alone,
readiness passes at once). A reference count in the same directory decides the teardown:
the worker that leaves last deletes the cluster (if the run created it). A worker that
finishes before another has even started would delete a cluster the other then re-creates:
correct, only slower; with `--keep-cluster` nothing is ever deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.host.cluster import DEFAULT_CLUSTER_NAME
from harness.model.results import Environment, RunResult, ScenarioResult
from harness.run.options import SessionOptions

if TYPE_CHECKING:
    from harness.run.session import LiveSession

PYTEST_KIND_DEFAULT_NAME = "pytest-kind"  # pytest-kind-ng's default for --cluster-name
PLUGIN_NAME = "ambient-harness-session"
LIVE_KEY = pytest.StashKey["LiveSession"]()


def cluster_name(config: pytest.Config) -> str:
    """One kind cluster name for the CLI and pytest, unless the user chose another."""
    name = str(config.getoption("cluster_name", default=None) or DEFAULT_CLUSTER_NAME)
    return DEFAULT_CLUSTER_NAME if name == PYTEST_KIND_DEFAULT_NAME else name


def session_options(config: pytest.Config) -> SessionOptions:
    """`SessionOptions` from pytest's options (ours and pytest-kind-ng's)."""

    def opt(name: str) -> Any:
        return config.getoption(name, default=None)

    return SessionOptions(
        cluster=opt("cluster"),
        cluster_name=cluster_name(config),
        kube_context=opt("kube_context"),
        kubeconfig=opt("kubeconfig"),
        keep_cluster=bool(opt("keep_cluster")),
        keep=bool(opt("keep")),
        istio_version=opt("istio_version"),
        artifacts=Path(opt("artifacts") or "artifacts"),
        kind_image=opt("kind_image"),
        kind_bin=opt("kind_bin"),
    )


def cluster_requested(config: pytest.Config) -> bool:
    return session_options(config).cluster_requested


# --- the state of one pytest run ------------------------------------------------------------


class HarnessSession:
    """Registered as a plugin in `pytest_configure`; its hooks write the reports."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.options = session_options(config)
        self.results: list[ScenarioResult] = []
        self.environment = Environment(provider="none")
        self._environment_recorded = False

    def live(self) -> LiveSession:
        """The live session (set up on first use); its environment goes into the reports."""
        session = live_session(self.config)
        self.environment = session.environment
        self._record_environment(session.environment)
        return session

    def _record_environment(self, env: Environment) -> None:
        """Versions as JUnit testsuite properties (what `record_testsuite_property` does)."""
        from _pytest.junitxml import xml_key

        xml = self.config.stash.get(xml_key, None)
        if xml is None or self._environment_recorded:
            return
        from harness.report.document import junit_properties

        for name, value in junit_properties(env):
            xml.add_global_property(name, value)
        self._environment_recorded = True

    def run_result(self) -> RunResult:
        return RunResult(environment=self.environment, scenarios=list(self.results))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        path = self.config.getoption("report_json", default=None)
        if path:
            from harness.report.document import write_json_report

            write_json_report(self.run_result(), Path(path))

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        """Quiet on success; on failure, every failed probe with expected vs observed."""
        if not any(r.verdict in ("fail", "error") for r in self.results):
            return
        from harness.report.summary import failure_summary

        terminalreporter.write_sep("=", "ambient-harness: failed probes")
        terminalreporter.write_line(failure_summary(self.run_result()))


def harness_session(config: pytest.Config) -> HarnessSession:
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    assert isinstance(plugin, HarnessSession), "the ambient-harness plugin is not configured"
    return plugin


# --- one live session per run, even under pytest-xdist -------------------------------------


@dataclass
class SharedSetup:
    """Serialises set-up across processes and counts users, in `directory`."""

    directory: Path
    cluster_name: str
    joined: bool = False

    @property
    def lock_path(self) -> Path:
        return self.directory / f"ambient-harness-{self.cluster_name}.lock"

    @property
    def state_path(self) -> Path:
        return self.directory / f"ambient-harness-{self.cluster_name}.json"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.lock_path.open("a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {"users": 0, "created": False}
        return data if isinstance(data, dict) else {"users": 0, "created": False}

    def _write(self, state: Mapping[str, Any]) -> None:
        tmp = self.state_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dict(state)))
        tmp.replace(self.state_path)

    def join(self, bring_up: Callable[[], bool], install: Callable[[], object]) -> None:
        """Under the lock: bring the cluster up (recording whether it was created), install.

        The user is counted even when set-up fails, so `leave` stays balanced.
        """
        with self.locked():
            state = self._read()
            state["users"] = int(state.get("users", 0)) + 1
            self._write(state)
            self.joined = True
            created = bring_up()
            if created:
                state["created"] = True
                self._write(state)
            install()

    def leave(self, teardown: Callable[[], object]) -> bool:
        """Under the lock: one user fewer; the last one runs `teardown` if the run created
        the cluster. Returns whether teardown ran."""
        if not self.joined:
            return False
        self.joined = False
        with self.locked():
            state = self._read()
            state["users"] = max(0, int(state.get("users", 0)) - 1)
            last = state["users"] == 0 and bool(state.get("created"))
            if last:
                state["created"] = False
            self._write(state)
            if last:
                teardown()
            return last


def shared_directory(config: pytest.Config) -> Path:
    """The run's temporary directory, shared by pytest-xdist workers (their basetemp's parent)."""
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None:
        return Path(tempfile.gettempdir()) / f"ambient-harness-{os.getuid()}"
    base = Path(factory.getbasetemp())
    return base.parent if hasattr(config, "workerinput") else base


def live_session(config: pytest.Config) -> LiveSession:
    """The pytest run's `LiveSession`, created and prepared once (cached in the stash)."""
    # The live path (kubernetes client, urllib3) is imported only when a cluster is used:
    # the plugin is loaded by every pytest run on the machine.
    from harness.run.session import LiveSession

    cached = config.stash.get(LIVE_KEY, None)
    if cached is not None:
        return cached
    options = session_options(config)
    session = LiveSession(options)
    config.stash[LIVE_KEY] = session
    shared = SharedSetup(shared_directory(config), options.cluster_name)

    def bring_up() -> bool:
        try:
            return session.bring_up_cluster()
        except BaseException:
            # Half-created by this worker: remove it now, or the next worker "reuses" it.
            with contextlib.suppress(Exception):
                session.delete_cluster()
            raise

    def cleanup() -> None:
        session.close_connections()
        # The last worker out deletes the kind cluster if any worker of this run created it.
        shared.leave(lambda: session.delete_cluster(created=True))

    config.add_cleanup(cleanup)
    try:
        shared.join(bring_up, session.install_mesh)
    except Exception as exc:  # kept: every scenario then fails fast with this reason
        session.setup_error = f"{type(exc).__name__}: {exc}"
    return session
