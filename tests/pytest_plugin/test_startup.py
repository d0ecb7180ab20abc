"""Start-up cost of the pytest plugin: pytest-kind-ng's plugin (which imports pykube and
requests at every start) and anyio's are blocked in this repository, the harness declares the
kind options itself, so `--cluster-name`, `--kind-image`... keep their meaning, and httpx is
imported only where a download or a probe starts. The plugin itself imports the scenario model
(pydantic), lint, the mesh model and the run options only when a scenario file is collected or
a feature is asked for: every pytest process (each xdist worker) loads it."""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO, fresh_python_json

from harness.model import source
from harness.model.files import SCENARIO_FILE
from harness.model.scenario import load_scenario

# What a pytest process that never meets a scenario must not import (the plugin's start-up).
DEFERRED = (
    "pydantic",
    "harness.model.scenario",
    "harness.lint",
    "harness.predict",
    "harness.run.options",
    "harness.host.providers",
    "harness.pytest_plugin.items",
)
HTTP_CLIENTS = ("pykube", "requests", "httpx", "anyio")

# One fresh interpreter runs every start-up check (it starts and imports pytest once, not once
# per check), each step in a process of its own forked from it: every step starts from the
# same modules (the interpreter's own and pytest's, which imports none of those watched), sees
# only what it imported itself, and fails alone. Forked, not run in turn: a module dropped
# from sys.modules cannot always be imported again (compiled extensions refuse it).
STEPS = r"""
import contextlib, io, json, os, sys, traceback

import pytest


class Capture:
    seen = {}

    def pytest_configure(self, config):
        from harness.pytest_plugin.session import session_options

        o = session_options(config)
        Capture.seen = {"cluster_name": o.cluster_name, "kind_image": o.kind_image,
                        "kind_bin": o.kind_bin, "keep_cluster": o.keep_cluster,
                        "kubeconfig": o.kubeconfig,
                        "kubectl_bin": config.getoption("kind_kubectl_bin")}


def run(step):
    if step["argv"] is None:
        import harness.pytest_plugin
        result = {"rc": 0}
    else:
        plugins = [Capture()] if step["capture"] else []
        result = {"rc": int(pytest.main(step["argv"], plugins=plugins))}
        if step["capture"]:
            result.update(Capture.seen)
    result["imported"] = [m for m in step["watch"] if m in sys.modules]
    return result


results = {}
for name, step in json.loads(sys.argv[1]).items():
    sys.stdout.flush()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                result = run(step)
        except BaseException:
            result = {"error": traceback.format_exc()}
        result["output"] = out.getvalue()
        with os.fdopen(write, "w") as pipe:
            json.dump(result, pipe)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    _, status = os.waitpid(pid, 0)
    results[name] = json.loads(text) if text else {"error": f"wait status {status}", "output": ""}
print(json.dumps(results))
"""

KIND_OPTIONS = [
    "--cluster-name=demo",
    "--kind-image=kindest/node:v1.35.0",
    "--kind-bin=/opt/kind",
    "--kind-kubectl-bin=/opt/kubectl",
    "--keep-cluster",
    "--kubeconfig=/tmp/kc",
]
COLLECT = ["-p", "no:cacheprovider", "--collect-only", "-q"]
# A test module of no scenario, in this repository (its scenarios/ beside tests/), without
# tests/conftest.py: what the plugin imports is the question, not what the suite's fixtures
# import (the fakes, the CEL engine: ~0.1 s of each step).
PLAIN = [*COLLECT, "--noconftest", "tests/test_errors.py"]


def _first_feature() -> str:
    return next(
        f.replace("-", "_")
        for path in sorted((REPO / "scenarios").glob(f"*/{SCENARIO_FILE}"))
        for f in load_scenario(path).features
    )


@pytest.fixture(scope="module")
def started() -> dict[str, dict[str, Any]]:
    """Every step's result: its exit status, what it imported of what it watches, its output."""
    steps = {
        "import": {"argv": None, "watch": DEFERRED, "capture": False},
        "plain": {"argv": PLAIN, "watch": DEFERRED, "capture": False},
        "marker": {
            "argv": [*PLAIN, "--strict-markers", "-m", _first_feature()],
            "watch": [],
            "capture": False,
        },
        "kind": {
            "argv": [*COLLECT, "scenarios/ambient-authz-l4", *KIND_OPTIONS],
            "watch": HTTP_CLIENTS,
            "capture": True,
        },
    }
    results: dict[str, dict[str, Any]] = fresh_python_json(STEPS, json.dumps(steps))
    return results


def step(started: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    """A step's result without its output (shown when the step failed)."""
    result = dict(started[name])
    output = result.pop("output")
    assert "error" not in result, result["error"] + output
    return result


def test_collection_imports_no_http_client_and_the_kind_options_keep_their_meaning(
    started: dict[str, dict[str, Any]],
) -> None:
    assert step(started, "kind") == {
        "rc": 0,
        "imported": [],
        "cluster_name": "demo",
        "kind_image": "kindest/node:v1.35.0",
        "kind_bin": "/opt/kind",
        "keep_cluster": True,
        "kubeconfig": "/tmp/kc",
        "kubectl_bin": "/opt/kubectl",
    }, started["kind"]["output"]


def test_collection_parses_each_scenario_file_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plugin reads every scenario at configure time (its features become markers), then
    collects and lints it: one parse serves both. (In this process: pytester restores the
    modules after the run, monkeypatch the parser.)"""
    count = len(list((REPO / "scenarios").glob("*/scenario.yaml")))
    parsed: collections.Counter[str] = collections.Counter()
    real = source.parse_documents

    def counting(file: Path, text: str) -> list[source.Document]:
        parsed[file.name] += 1
        return real(file, text)

    monkeypatch.setattr(source, "parse_documents", counting)
    monkeypatch.chdir(REPO)
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--collect-only", "-q", "scenarios"
    )
    assert {"rc": int(result.ret), "scenario.yaml": parsed["scenario.yaml"]} == {
        "rc": 0,
        "scenario.yaml": count,
    }, result.outlines


def test_the_plugin_imports_no_scenario_model_lint_or_run_options_at_start_up(
    started: dict[str, dict[str, Any]],
) -> None:
    assert step(started, "import") == {"rc": 0, "imported": []}, started["import"]["output"]


def test_a_run_of_plain_test_modules_never_imports_the_scenario_model(
    started: dict[str, dict[str, Any]],
) -> None:
    """The repository's own scenarios/ sits beside tests/: collecting a test module of no
    scenario still must not read them (nor lint, nor build the run options)."""
    assert step(started, "plain") == {"rc": 0, "imported": []}, started["plain"]["output"]


def test_a_feature_in_m_is_still_a_known_marker_when_no_scenario_is_collected(
    started: dict[str, dict[str, Any]],
) -> None:
    """Features are registered when the first scenario file is collected, or at once when `-m`
    (or `--markers`) may name one: --strict-markers must accept `-m l7` on any run."""
    # 5: every test deselected, nothing collected; a usage error (unknown marker) would be 4.
    assert step(started, "marker") == {"rc": 5, "imported": []}, started["marker"]["output"]
