"""pytest plugin: every `scenarios/<name>/scenario.yaml` is a test item.

Registered through the `pytest11` entry point. Items carry markers for their data plane and
features (`-m ambient`, `-m "authz and l7"`), ids are the scenario names (`-k traffic-shift`),
and without a cluster they skip with the reason. Steps are reported as sections of the item.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.host.cluster import DEFAULT_CLUSTER_NAME
from harness.model.results import Environment, RunResult, ScenarioResult
from harness.model.scenario import SCENARIO_FILE, Scenario, load_scenario
from harness.model.source import SourceError

NO_CLUSTER = "no cluster: pass --cluster=kind or --kube-context=..."
RESULTS_KEY = pytest.StashKey[list[ScenarioResult]]()
LIVE_KEY = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("ambient-harness", "Istio ambient scenario harness")
    g.addoption(
        "--cluster",
        choices=["kind", "existing"],
        default=os.environ.get("AMBIENT_HARNESS_CLUSTER"),
        help="kind: create or reuse a kind cluster; existing: the current kubeconfig context",
    )
    # --cluster-name, --keep-cluster, --kubeconfig, --kind-image and --kind-bin are declared by
    # pytest-kind-ng's own plugin (always loaded with it); we read them rather than clash.
    g.addoption("--kube-context", default=None, help="run against this kubeconfig context")
    g.addoption("--keep", action="store_true", help="keep scenario namespaces after the run")
    g.addoption("--istio-version", default=None, help="Istio version to install (default: pin)")
    g.addoption(
        "--artifacts",
        default="artifacts",
        help="directory for failure diagnostics (default: artifacts/)",
    )
    g.addoption("--report-json", default=None, help="write the JSON run report to this path")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[RESULTS_KEY] = []
    for marker in ("ambient", "sidecar"):
        config.addinivalue_line("markers", f"{marker}: scenario on the {marker} data plane")
    config.addinivalue_line("markers", "scenario: a scenario from scenarios/")


PYTEST_KIND_DEFAULT_NAME = "pytest-kind"


def cluster_name(config: pytest.Config) -> str:
    """One kind cluster name for the CLI and pytest, unless the user chose another."""
    name = str(config.getoption("cluster_name", default=None) or DEFAULT_CLUSTER_NAME)
    return DEFAULT_CLUSTER_NAME if name == PYTEST_KIND_DEFAULT_NAME else name


def cluster_requested(config: pytest.Config) -> bool:
    return bool(config.getoption("cluster") or config.getoption("kube_context"))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name == SCENARIO_FILE and file_path.parent.parent.name == "scenarios":
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        try:
            scenario = load_scenario(self.path)
        except SourceError as exc:
            raise self.CollectError(str(exc)) from None
        item = ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)
        item.add_marker("scenario")
        for m in scenario.markers:
            # Features become markers on the fly; register them so --strict-markers accepts them.
            self.config.addinivalue_line("markers", f"{m}: scenario feature")
            item.add_marker(m)
        yield item


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def runtest(self) -> None:
        if not cluster_requested(self.config):
            s = self.scenario
            self.config.stash[RESULTS_KEY].append(
                ScenarioResult(s.name, s.title, s.dataplane, skipped_reason=NO_CLUSTER)
            )
            pytest.skip(NO_CLUSTER)
        from harness.run.live import live_session  # the live path loads only with a cluster

        session = live_session(self.config)
        self.config.stash[LIVE_KEY] = session  # live_session caches it too; reports read it
        _record_environment(self.config, session.environment)
        result = session.run(self.scenario)
        self.config.stash[RESULTS_KEY].append(result)
        for step in result.steps:
            self.add_report_section("call", f"step {step.name}", _step_text(step))
        for diagnostics in session.diagnostics(self.scenario.name):
            for title, text in diagnostics.report_sections():
                self.add_report_section("call", title, text)
        if result.verdict == "skipped":
            pytest.skip(result.skipped_reason or "skipped")
        if result.verdict != "pass":
            raise ScenarioFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            return excinfo.value.explain()
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario {self.scenario.name} ({self.scenario.dataplane})"


class ScenarioFailed(Exception):
    def __init__(self, result: ScenarioResult) -> None:
        super().__init__(result.name)
        self.result = result

    def explain(self) -> str:
        r = self.result
        lines = [f"scenario {r.name}: {r.verdict}"]
        if r.error:
            lines.append(f"  error: {r.error}")
        for step in r.steps:
            if step.error:
                lines.append(f"  step {step.name}: {step.error}")
            for p in step.probes:
                if p.verdict != "pass":
                    lines.append(f"  step {step.name}: {p.client} -> {p.method} {p.url}")
                    lines.append(f"    {p.message}")
        return "\n".join(lines)


def _step_text(step: Any) -> str:
    lines = [f"{step.title} [{step.verdict}] in {step.duration_s:.1f}s"]
    for p in step.probes:
        seen = p.observations[-1].describe() if p.observations else "-"
        ttc = (
            f", consistent after {p.time_to_consistency_s:.1f}s" if p.time_to_consistency_s else ""
        )
        lines.append(f"  {p.verdict:4} {p.client} -> {p.url}: saw {seen}{ttc}")
    return "\n".join(lines)


ENV_RECORDED = pytest.StashKey[bool]()


def _record_environment(config: pytest.Config, env: Environment) -> None:
    """Versions as JUnit testsuite properties (what `record_testsuite_property` does)."""
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    if xml is None or config.stash.get(ENV_RECORDED, False):
        return
    from harness.report.document import junit_properties

    for name, value in junit_properties(env):
        xml.add_global_property(name, value)
    config.stash[ENV_RECORDED] = True


def _run_result(config: pytest.Config) -> RunResult:
    live = config.stash.get(LIVE_KEY, None)
    env = live.environment if live is not None else Environment(provider="none")
    results: list[ScenarioResult] = config.stash[RESULTS_KEY]
    return RunResult(environment=env, scenarios=list(results))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = session.config.getoption("report_json", default=None)
    if path:
        from harness.report.document import write_json_report

        write_json_report(_run_result(session.config), Path(path))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Quiet on success; on failure, every failed probe with expected vs observed."""
    results: list[ScenarioResult] = config.stash[RESULTS_KEY]
    if not any(r.verdict in ("fail", "error") for r in results):
        return
    from harness.report.summary import failure_summary

    terminalreporter.write_sep("=", "ambient-harness: failed probes")
    terminalreporter.write_line(failure_summary(_run_result(config)))
