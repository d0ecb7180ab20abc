"""The pytest run's state, owned by one object the plugin registers (`HarnessSession`): the
options (built once from pytest's config), the one `LiveSession`, the results for the JSON
report, JUnit properties and the failure summary.

When a cluster was asked for (--cluster, --context/--kube-context, --kubeconfig), the main
process sets the cluster and mesh up before any item runs (`pytest_runtestloop`); if that
fails the run ends with that one error, exit 1, and the JSON report marks every collected
scenario "not run". The xdist controller collects nothing, so it sets up whenever a cluster
was asked for, and its JSON report has no scenarios when the set-up failed.

pytest-xdist: every worker calls `live_session` too; the set-up runs under an exclusive file
lock (`fcntl.flock`) in the run's shared temporary directory, so the first process creates the
cluster and installs the mesh while the others wait, then find everything in place (kind
reuses the cluster, the Gateway API apply is idempotent, Istio is detected and left alone,
readiness passes at once). A reference count in the same directory decides the teardown:
the process that leaves last deletes the cluster (if the run created it). With
`--keep-cluster` nothing is ever deleted. Results reach the controller on the test reports.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.host.cluster import DEFAULT_CLUSTER_NAME
from harness.pytest_plugin.shared import SharedSetup, shared_directory

# The results (and with them the scenario model, pydantic) and the run options (the cluster
# providers) are imported where first used: a pytest run of plain test modules needs neither,
# and every pytest process loads this plugin (see __init__.py).
if TYPE_CHECKING:
    from harness.model.results import Environment, RunResult, ScenarioResult
    from harness.run.options import SessionOptions
    from harness.run.session import LiveSession

PYTEST_KIND_DEFAULT_NAME = "pytest-kind"  # pytest-kind-ng's default for --cluster-name
PLUGIN_NAME = "ambient-harness-session"
LIVE_KEY = pytest.StashKey["LiveSession"]()
RESULT_ATTRIBUTE = "ambient_harness_run"  # on a TestReport: the item's result, report-shaped


def cluster_name(config: pytest.Config) -> str:
    """One kind cluster name for the CLI and pytest, unless the user chose another."""
    name = str(config.getoption("cluster_name", default=None) or DEFAULT_CLUSTER_NAME)
    return DEFAULT_CLUSTER_NAME if name == PYTEST_KIND_DEFAULT_NAME else name


def session_options(config: pytest.Config) -> SessionOptions:
    """`SessionOptions` from pytest's options (ours and pytest-kind-ng's)."""

    from harness.run.options import SessionOptions

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
        skip_doctor=bool(opt("skip_doctor")),
        image_registry=opt("image_registry"),
        ready_timeout=opt("ready_timeout"),
    )


def cluster_requested(config: pytest.Config) -> bool:
    return session_options(config).cluster_requested


# --- the state of one pytest run ------------------------------------------------------------


class HarnessSession:
    """Registered as a plugin in `pytest_configure`; owns the run's state, its hooks write the
    reports.

    Results travel on the test reports (`RESULT_ATTRIBUTE`, the JSON report's own form), so
    under pytest-xdist the controller, which writes the JSON report, the JUnit properties and
    the failure summary, has every worker's scenarios; without xdist the same path is taken.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results: list[ScenarioResult] = []
        self._environment: Environment | None = None  # none until a live session or a report
        self.is_worker = hasattr(config, "workerinput")
        # Marker names pytest and every other plugin of this run registered, before the
        # scenario features are added: a feature must never be one of them.
        self.foreign_markers: frozenset[str] = frozenset()
        self.setup_error: str | None = None  # the session's own failure, reported once
        self._environment_recorded = False

    @functools.cached_property
    def options(self) -> SessionOptions:
        return session_options(self.config)

    @property
    def environment(self) -> Environment:
        if self._environment is None:
            from harness.model.results import Environment

            self._environment = Environment(provider="none")
        return self._environment

    @environment.setter
    def environment(self, env: Environment) -> None:
        self._environment = env

    def live(self) -> LiveSession:
        """The live session (set up on first use)."""
        session = live_session(self.config)
        self.environment = session.environment
        return session

    # --- the session-level set-up ----------------------------------------------------------

    def _needs_cluster(self, session: pytest.Session) -> bool:
        if self.config.option.collectonly:
            return False
        if self.config.pluginmanager.has_plugin("dsession"):
            # the xdist controller: its workers collect, it sets the cluster up
            return self.options.cluster_requested
        # The items first: a run with nothing live never builds the options.
        return (
            any(
                (getattr(item, "is_scenario", False) and not getattr(item, "rejected", ()))
                or "live" in getattr(item, "fixturenames", ())
                for item in session.items
            )
            and self.options.cluster_requested
        )

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Any:
        """Set the cluster and mesh up once, before any item runs; if that fails, the run ends
        with that one error (naming the cluster) instead of every scenario repeating it."""
        if not self.is_worker and self._needs_cluster(session):
            live = self.live()
            if live.setup_error is not None:
                self.setup_error = live.setup_error
                from harness.model.results import ScenarioResult

                reason = "not run: the session set-up failed"
                for item in session.items:
                    scenario = getattr(item, "scenario", None)
                    if scenario is not None:
                        self.results.append(
                            ScenarioResult(
                                scenario.name, scenario.title, scenario.dataplane, error=reason
                            )
                        )
                pytest.exit(
                    "ambient-harness: no scenario ran (see the set-up error above)",
                    returncode=pytest.ExitCode.TESTS_FAILED,
                )
        return (yield)

    # --- results, from wherever the item ran ------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        result = getattr(item, "result", None)
        if result is None or getattr(item, "result_sent", False):
            return report
        from harness.model.results import RunResult, ScenarioResult

        if isinstance(result, ScenarioResult):
            from harness.report.document import run_to_dict

            item.result_sent = True  # type: ignore[attr-defined]
            env = self.environment
            setattr(report, RESULT_ATTRIBUTE, run_to_dict(RunResult(env, [result])))
            # JUnit <properties> of the testcase: junitxml writes the teardown report's, which
            # copies the item's (and travels to the xdist controller).
            item.user_properties += model_properties(result)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, RESULT_ATTRIBUTE, None)
        if data is None or self.is_worker:
            return
        from harness.report.document import run_from_dict

        run = run_from_dict(data)
        self.results += run.scenarios
        if run.environment.provider != "none":
            self.environment = run.environment
            self._record_environment(run.environment)

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
        from harness.model.results import RunResult

        return RunResult(environment=self.environment, scenarios=list(self.results))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        path = self.config.getoption("report_json", default=None)
        if path and not self.is_worker:
            from harness.report.document import write_json_report

            write_json_report(self.run_result(), Path(path))

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        """Quiet on success; on failure, every failed probe with expected vs observed; and
        every model finding, pass or fail (a finding changes no outcome and no exit code)."""
        if self.setup_error is not None:
            terminalreporter.write_sep("=", "ambient-harness: session set-up failed")
            terminalreporter.write_line(self.setup_error)
            return
        if any(r.verdict in ("fail", "error") for r in self.results):
            from harness.report.summary import failure_summary

            terminalreporter.write_sep("=", "ambient-harness: failed probes")
            terminalreporter.write_line(failure_summary(self.run_result()))
        if any(r.model_findings for r in self.results):
            from harness.report.summary import model_findings_summary

            terminalreporter.write_sep("=", "ambient-harness: model findings")
            terminalreporter.write_line(model_findings_summary(self.run_result()))


def model_properties(result: ScenarioResult) -> list[tuple[str, object]]:
    """`model_findings` (a count) and one `model_finding` per finding, `step: text`."""
    found = [(st.name, p.model_finding) for st in result.steps for p in st.probes]
    texts = [(step, text) for step, text in found if text is not None]
    if not any(p.predicted for st in result.steps for p in st.probes):
        return []  # not predicted (not run, rejected): nothing to say
    return [("model_findings", len(texts))] + [
        ("model_finding", f"{step}: {text}") for step, text in texts
    ]


def harness_session(config: pytest.Config) -> HarnessSession:
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    assert isinstance(plugin, HarnessSession), "the ambient-harness plugin is not configured"
    return plugin


# --- one live session per run, even under pytest-xdist -------------------------------------


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
