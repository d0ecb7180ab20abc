"""The pytest plugin: scenarios as items, markers, the no-cluster skip, reports, failures.

Runs pytest on the repository's real scenarios (or copies of them), in this process
(pytester's in-process run, which restores modules, sys.path, the directory and the
environment after each run; under `-n 2` its workers are processes). The live
path is replaced by a plugin module written here that answers with recorded results, so the
plugin's own behaviour (sections, failure text, JUnit properties, JSON report) is checked
without a cluster.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from fake_live_hooks import INSTALL_FAKE_SESSION
from fakes.fake_kind import kubeconfig_text
from helpers import REPO, closed_port, copy_scenario

from harness.host import paths
from harness.model.scenario import load_scenario
from harness.pytest_plugin import NO_CLUSTER

# An in-process run drops every module it imported (pytester restores sys.modules), and the
# next run imports it again: what the plugin imports late (the live session, the reports),
# xdist's controller, and every installed pytest plugin (a run outside this repository loads
# pytest-kind-ng and anyio, which only its pyproject.toml disables) are imported once, before
# the first test here takes pytester's snapshot (in a fixture, not at import: every pytest-xdist
# worker imports this module, not every one runs its tests). A module imported already changes
# nothing of what a run does.
IMPORTED_ONCE = [
    "harness.run.session",
    "harness.report.document",
    "harness.report.summary",
    "xdist.dsession",
    *(entry.module for entry in importlib.metadata.entry_points(group="pytest11")),
]


@pytest.fixture(scope="module", autouse=True)
def imported_once() -> None:
    for module in IMPORTED_ONCE:
        importlib.import_module(module)


FAKE_LIVE = """
import harness.pytest_plugin.session
from harness.model.outcome import Outcome, ProbeError
from harness.model.results import Environment, ProbeResult, ScenarioResult, StepResult
from harness.model.outcome import Kind
from harness.model.scenario import Expect


class FakeSession:
    setup_error = None
    ran = []
    environment = Environment(provider="kind", kubernetes_version="v1.35.8",
                              istio_version="1.30.3", gateway_api_version="v1.5.1")

    def run(self, scenario):
        FakeSession.ran.append(scenario.name)
        failing = scenario.name == "ambient-authz-l4"
        seen = Outcome(status=200, served_by="ratings-v1") if failing else \\
            Outcome(status=502, probe_error=ProbeError.RESET)
        probe = ProbeResult(
            client="reviews", method="GET", url="http://ratings:9080/ratings/1",
            expect=Expect(outcome=Kind.DENIED_L4), verdict="fail" if failing else "pass",
            observations=[seen], attempts=300,
            message="expected denied-l4, saw allowed (200, ratings-v1) ×300" if failing else "",
        )
        step = StepResult("l4-policy", "Allow only productpage", applied=["m.yaml"],
                          probes=[probe])
        return ScenarioResult(scenario.name, scenario.title, scenario.dataplane, steps=[step])

    def diagnostics(self, name):
        return []

"""
FAKE_LIVE += INSTALL_FAKE_SESSION


CACHE_ROOT = paths.cache_root()  # read before any pytester fixture changes HOME


@dataclass
class Ran:
    """What an inner pytest run printed and returned."""

    returncode: int
    stdout: str
    stderr: str


class InnerPytest:
    """`pytest -p no:cacheprovider ARGS` from `cwd`, in this process: the interpreter and the
    harness are already loaded, so a run costs its configuration and collection only.
    pytester drops PYTEST_ADDOPTS (a user's -x, -n 4, ... must not change the inner run) and
    restores sys.modules and sys.path after each run; monkeypatch restores the directory and
    PYTEST_PLUGINS."""

    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pytester, self.monkeypatch = pytester, monkeypatch

    def __call__(
        self,
        *args: str,
        fake_live: Path | None = None,
        cwd: Path = REPO,
        plugins: Sequence[object] = (),
    ) -> Ran:
        self.monkeypatch.chdir(cwd)
        self.monkeypatch.delenv("PYTEST_PLUGINS", raising=False)
        # pytester points HOME at its own directory; the CRD index cache stays the one this
        # process uses, or every pytest-xdist worker of an inner run parses the bundles again.
        self.monkeypatch.setenv(paths.CACHE_ENV, str(CACHE_ROOT))
        cmd = ["-p", "no:cacheprovider", *args]
        if fake_live is not None:
            self.monkeypatch.syspath_prepend(str(fake_live))
            cmd[2:2] = ["-p", "fake_live"]
        result = self.pytester.runpytest_inprocess(*cmd, plugins=list(plugins))
        return Ran(int(result.ret), text(result.outlines), text(result.errlines))


def text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


@pytest.fixture
def inner_pytest(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> InnerPytest:
    return InnerPytest(pytester, monkeypatch)


def test_every_scenario_is_an_item_that_skips_without_a_cluster_and_is_reported(
    tmp_path: Path, inner_pytest: InnerPytest
) -> None:
    report = tmp_path / "report.json"
    proc = inner_pytest("scenarios", "-q", "-rs", f"--report-json={report}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = sorted(p.parent.name for p in (REPO / "scenarios").glob("*/scenario.yaml"))
    assert f"SKIPPED [{len(names)}]" in proc.stdout
    assert f"{len(names)} skipped" in proc.stdout.splitlines()[-1]
    assert NO_CLUSTER in proc.stdout
    data = json.loads(report.read_text())
    schema = json.loads((REPO / "harness" / "report" / "report_schema.json").read_text())
    import jsonschema  # here, not at the top: see tests/report/test_report.py

    jsonschema.validate(data, schema)
    assert sorted(s["name"] for s in data["scenarios"]) == names
    assert {s["verdict"] for s in data["scenarios"]} == {"skipped"}
    assert {s["skipped_reason"] for s in data["scenarios"]} == {NO_CLUSTER}


class Items:
    """Records the names of the items a run selected."""

    names: list[str] | None = None

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.names = sorted(item.name for item in session.items)


def collected(inner_pytest: InnerPytest, *selections: list[str]) -> list[list[str] | None]:
    """The scenario items `pytest --co` selects, by name, for each selection: one pytest run
    per selection, in this process."""
    runs = []
    for selection in selections:
        items = Items()
        proc = inner_pytest("scenarios", "-q", "--co", *selection, plugins=[items])
        assert proc.returncode == 0, proc.stdout + proc.stderr
        runs.append(items.names)
    return runs


def test_markers_and_keywords_select_scenarios(inner_pytest: InnerPytest) -> None:
    # The data plane marker comes from each scenario file, so compare with what they declare.
    by_plane: dict[str, list[str]] = {"ambient": [], "sidecar": []}
    for path in sorted((REPO / "scenarios").glob("*/scenario.yaml")):
        by_plane[load_scenario(path).dataplane].append(path.parent.name)
    assert by_plane["ambient"] and by_plane["sidecar"]
    sidecar, ambient, shift = collected(
        inner_pytest, ["-m", "sidecar"], ["-m", "ambient"], ["-k", "traffic-shift"]
    )
    assert sidecar == by_plane["sidecar"]
    assert ambient == by_plane["ambient"]
    assert shift == ["ambient-traffic-shift", "sidecar-traffic-shift"]


def test_live_results_become_failures_sections_and_reports(
    tmp_path: Path, inner_pytest: InnerPytest
) -> None:
    (tmp_path / "fake_live.py").write_text(FAKE_LIVE)
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    proc = inner_pytest(
        "scenarios/ambient-authz-l4",
        "scenarios/sidecar-authz-l4",
        "--cluster=kind",
        f"--junitxml={junit}",
        f"--report-json={report}",
        "-rA",
        fake_live=tmp_path,
    )
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "1 failed, 1 passed" in out
    # the failure explains itself: scenario, step, probe, expected vs observed
    assert "scenario ambient-authz-l4: fail" in out
    assert "step l4-policy: reviews -> GET http://ratings:9080/ratings/1" in out
    assert "expected denied-l4, saw allowed (200, ratings-v1) ×300" in out
    # steps are report sections of the item
    assert "step l4-policy" in out and "saw denied-l4 (reset)" in out
    assert "ambient-harness: failed probes" in out
    props = {p.get("name"): p.get("value") for p in ET.parse(junit).getroot().iter("property")}
    assert props.get("istio_version") == "1.30.3", props
    data = json.loads(report.read_text())
    assert data["environment"]["istio_version"] == "1.30.3"
    assert {s["name"]: s["verdict"] for s in data["scenarios"]} == {
        "ambient-authz-l4": "fail",
        "sidecar-authz-l4": "pass",
    }


# --- a cluster asked for is used, or the run fails once, loudly -------------------------------


def unreachable_kubeconfig(tmp_path: Path) -> tuple[Path, int]:
    port = closed_port()
    kubeconfig = tmp_path / "kc.yaml"
    kubeconfig.write_text(kubeconfig_text(f"https://127.0.0.1:{port}", "mine"))
    return kubeconfig, port


@pytest.fixture(scope="module")
def kubernetes_client() -> None:
    """The Kubernetes client the session set-up imports (~0.45 s), imported before the
    pytester fixture snapshots sys.modules: the in-process run uses this one instead of
    importing it for itself and dropping it (the other tests of this process import it again)."""
    importlib.import_module("kubernetes.config")
    importlib.import_module("kubernetes.client")


@pytest.mark.usefixtures("kubernetes_client")
def test_kubeconfig_alone_selects_the_cluster_and_an_unreachable_one_is_one_error(
    tmp_path: Path, inner_pytest: InnerPytest
) -> None:
    kubeconfig, port = unreachable_kubeconfig(tmp_path)
    report = tmp_path / "report.json"
    proc = inner_pytest("scenarios", f"--kubeconfig={kubeconfig}", f"--report-json={report}")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert NO_CLUSTER not in out and "skipped" not in out
    assert out.count("session set-up failed") == 1, out
    assert out.count(": connection refused") == 1, out  # the server, named once
    assert str(port) in out
    assert "failed probes" not in out  # no per-scenario repetition either
    data = json.loads(report.read_text())
    names = sorted(p.parent.name for p in (REPO / "scenarios").glob("*/scenario.yaml"))
    assert sorted(s["name"] for s in data["scenarios"]) == names
    assert {s["verdict"] for s in data["scenarios"]} == {"error"}


@pytest.mark.usefixtures("kubernetes_client")  # the controller sets the cluster up
def test_an_unreachable_cluster_under_xdist_is_one_error_too(
    tmp_path: Path, inner_pytest: InnerPytest
) -> None:
    kubeconfig, port = unreachable_kubeconfig(tmp_path)
    # Two scenarios, one for each worker: had the controller left the set-up to the workers,
    # each scenario would fail with the error of its own. Every scenario of the catalogue
    # costs each worker ~0.15 s more of collection and proves nothing more.
    proc = inner_pytest(
        "scenarios/ambient-authz-l4",
        "scenarios/sidecar-authz-l4",
        "-n",
        "2",
        f"--kubeconfig={kubeconfig}",
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert NO_CLUSTER not in out and "skipped" not in out
    assert out.count(": connection refused") == 1, out
    assert str(port) in out


# --- pytest-xdist: every scenario reaches the reports -----------------------------------------


def test_xdist_reports_hold_every_scenario_without_a_cluster(
    tmp_path: Path, inner_pytest: InnerPytest
) -> None:
    report = tmp_path / "report.json"
    proc = inner_pytest("scenarios", "-q", "-n", "2", f"--report-json={report}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = sorted(p.parent.name for p in (REPO / "scenarios").glob("*/scenario.yaml"))
    data = json.loads(report.read_text())
    assert sorted(s["name"] for s in data["scenarios"]) == names
    assert {s["verdict"] for s in data["scenarios"]} == {"skipped"}


def test_xdist_live_results_reach_the_json_report_junit_and_the_summary(
    tmp_path: Path, inner_pytest: InnerPytest
) -> None:
    # The fake live plugin as the conftest.py of copies of the two scenarios: every
    # pytest-xdist worker loads it as it collects them (a `-p` plugin would have to be on the
    # sys.path the controller's interpreter started with: xdist gives its workers that one).
    for name in ("ambient-authz-l4", "sidecar-authz-l4"):
        copy_scenario(name, tmp_path, name)
    (tmp_path / "scenarios" / "conftest.py").write_text(FAKE_LIVE)
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    # One worker: each result crosses from the worker to the controller's reports, which is
    # the point here (results of two workers merging: the test above).
    proc = inner_pytest(
        "scenarios/ambient-authz-l4",
        "scenarios/sidecar-authz-l4",
        "-n",
        "1",
        # What this repository's pyproject.toml disables (start-up cost only), for each worker.
        *("-p", "no:pytest-kind-ng", "-p", "no:anyio"),
        "--cluster=kind",
        f"--junitxml={junit}",
        f"--report-json={report}",
        cwd=tmp_path,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "1 failed, 1 passed" in out
    assert "ambient-harness: failed probes" in out
    assert "expected denied-l4, saw allowed (200, ratings-v1) ×300" in out
    root = ET.parse(junit).getroot()
    assert sorted(c.get("name") for c in root.iter("testcase")) == [
        "ambient-authz-l4",
        "sidecar-authz-l4",
    ]
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props.get("istio_version") == "1.30.3", props
    data = json.loads(report.read_text())
    assert data["environment"]["istio_version"] == "1.30.3"
    assert {s["name"]: s["verdict"] for s in data["scenarios"]} == {
        "ambient-authz-l4": "fail",
        "sidecar-authz-l4": "pass",
    }


# --- features are markers for selection, never for outcomes -----------------------------------


def test_features_are_registered_markers(inner_pytest: InnerPytest) -> None:
    proc = inner_pytest("--markers")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    features = {
        f.replace("-", "_")
        for path in (REPO / "scenarios").glob("*/scenario.yaml")
        for f in load_scenario(path).features
    }
    assert features
    for feature in features:
        assert f"@pytest.mark.{feature}: scenario feature" in proc.stdout, feature


def test_a_reserved_feature_never_becomes_a_marker(
    tmp_path: Path, inner_pytest: InnerPytest
) -> None:
    # pytest's and well-known plugins' markers are refused by the scenario loader: the file
    # does not load (a collection error, as for a test module that does not import).
    for feature in ("skip", "xfail", "timeout"):
        copy_scenario("ambient-authz-l4", tmp_path, f"feature-{feature}", features=[feature])
    (tmp_path / "fake_live.py").write_text(FAKE_LIVE)
    proc = inner_pytest("scenarios", "--cluster=kind", fake_live=tmp_path, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "3 errors" in out.splitlines()[-1], out
    for feature in ("skip", "xfail", "timeout"):
        assert f"features[0]: {feature!r} is reserved" in out
    assert "skipped" not in out and "xfail" not in out.splitlines()[-1]


MARKER_PLUGIN = """
def pytest_configure(config):
    config.addinivalue_line("markers", "slowpoke(seconds): a plugin's own marker")
"""


def test_a_feature_named_like_a_marker_of_this_run_is_an_error_item(
    tmp_path: Path, inner_pytest: InnerPytest
) -> None:
    # A marker no static list knows, registered by a plugin of this run, is refused too.
    copy_scenario("ambient-authz-l4", tmp_path, "feature-slowpoke", features=["slowpoke"])
    copy_scenario("ambient-authz-l4", tmp_path, "feature-fine", features=["authz"])
    (tmp_path / "fake_live.py").write_text(FAKE_LIVE)
    (tmp_path / "marker_plugin.py").write_text(MARKER_PLUGIN)
    report = tmp_path / "report.json"
    proc = inner_pytest(
        "scenarios",
        "--cluster=kind",
        "-p",
        "marker_plugin",
        f"--report-json={report}",
        fake_live=tmp_path,
        cwd=tmp_path,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "1 passed, 1 error" in out, out
    assert "feature 'slowpoke' is a marker" in out
    verdicts = {s["name"]: s["verdict"] for s in json.loads(report.read_text())["scenarios"]}
    assert verdicts == {"feature-fine": "pass", "feature-slowpoke": "error"}


# --- lint first: nothing of a rejected scenario is applied ------------------------------------


def test_a_scenario_lint_rejects_is_an_error_item_and_never_run(
    tmp_path: Path, inner_pytest: InnerPytest
) -> None:
    copy_scenario("ambient-authz-l4", tmp_path, "typo", edit={"action: ALLOW": "acton: ALLOW"})
    copy_scenario("ambient-authz-l4", tmp_path, "fine")
    (tmp_path / "fake_live.py").write_text(FAKE_LIVE)
    report = tmp_path / "report.json"
    proc = inner_pytest(
        "scenarios", "--cluster=kind", f"--report-json={report}", fake_live=tmp_path, cwd=tmp_path
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "1 passed, 1 error" in out, out
    assert "nothing of it was applied" in out and "acton" in out
    scenarios = {s["name"]: s for s in json.loads(report.read_text())["scenarios"]}
    assert scenarios["typo"]["verdict"] == "error"
    assert scenarios["typo"]["steps"] == []  # the fake session never ran it
    assert scenarios["fine"]["verdict"] == "pass"


# --- where scenarios are collected from ---------------------------------------------------------


def scenario_items(proc: Ran) -> list[str]:
    return sorted(line for line in proc.stdout.splitlines() if "scenario.yaml::" in line)


def test_a_directory_of_scenarios_is_collected_whatever_its_name(
    tmp_path: Path, inner_pytest: InnerPytest
) -> None:
    copy_scenario("ambient-authz-l4", tmp_path, "mine")
    copy_scenario("sidecar-authz-l4", tmp_path, "theirs")
    (tmp_path / "scenarios").rename(tmp_path / "my-scenarios")
    # Deeper too, as pytest finds test modules: a team's folder of folders.
    (tmp_path / "my-scenarios" / "team").mkdir()
    (tmp_path / "my-scenarios" / "theirs").rename(tmp_path / "my-scenarios" / "team" / "theirs")
    proc = inner_pytest("my-scenarios", "-q", "--co", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert scenario_items(proc) == [
        "my-scenarios/mine/scenario.yaml::mine",
        "my-scenarios/team/theirs/scenario.yaml::theirs",
    ]
    # One scenario directory, or its file, named on its own.
    proc = inner_pytest("my-scenarios/team/theirs", "-q", "--co", cwd=tmp_path)
    assert scenario_items(proc) == ["my-scenarios/team/theirs/scenario.yaml::theirs"]


ROOTS_PROJECT = """
[tool.pytest.ini_options]
testpaths = ["tests"]
scenario_roots = [{roots}]
"""


def test_scenario_roots_in_the_ini_file_are_collected_when_no_path_is_given(
    tmp_path: Path, inner_pytest: InnerPytest
) -> None:
    copy_scenario("ambient-authz-l4", tmp_path, "platform-policy")
    (tmp_path / "scenarios").rename(tmp_path / "platform")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_unit.py").write_text("def test_unit():\n    pass\n")
    (tmp_path / "pyproject.toml").write_text(ROOTS_PROJECT.format(roots='"platform"'))
    proc = inner_pytest("-q", "--co", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert scenario_items(proc) == ["platform/platform-policy/scenario.yaml::platform-policy"]
    assert "tests/test_unit.py::test_unit" in proc.stdout
    # From a subdirectory too: the roots are relative to the ini file, not the shell.
    proc = inner_pytest("-q", "--co", cwd=tmp_path / "tests")
    assert len(scenario_items(proc)) == 1, proc.stdout + proc.stderr
    # An explicit path means only that path, as with testpaths.
    proc = inner_pytest("tests", "-q", "--co", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert scenario_items(proc) == []
    # A root given on the command line as well is collected once.
    proc = inner_pytest("platform", "-q", "--co", cwd=tmp_path)
    assert len(scenario_items(proc)) == 1, proc.stdout


def test_a_scenario_root_that_does_not_exist_is_a_usage_error(
    tmp_path: Path, inner_pytest: InnerPytest
) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_unit.py").write_text("def test_unit():\n    pass\n")
    (tmp_path / "pyproject.toml").write_text(ROOTS_PROJECT.format(roots='"platfrom"'))
    proc = inner_pytest("-q", "--co", cwd=tmp_path)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert f"{tmp_path / 'pyproject.toml'}: scenario_roots: no such directory" in proc.stderr
    assert str(tmp_path / "platfrom") in proc.stderr


def test_the_malformed_corpus_is_never_collected_as_scenarios(inner_pytest: InnerPytest) -> None:
    # Its cases are broken on purpose (tests/lint checks them); as items each would be an error.
    proc = inner_pytest("tests/malformed", "-q", "--co")
    assert proc.returncode == 5, proc.stdout + proc.stderr  # no tests collected
    assert "scenario.yaml" not in proc.stdout + proc.stderr
    assert len(list((REPO / "tests" / "malformed").glob("*/scenario.yaml"))) > 50
