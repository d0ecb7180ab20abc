"""Start-up cost of the pytest plugin: pytest-kind-ng's plugin (which imports pykube and
requests at every start) and anyio's are blocked in this repository, the harness declares the
kind options itself, so `--cluster-name`, `--kind-image`... keep their meaning, and httpx is
imported only where a download or a probe starts. The plugin itself imports the scenario model
(pydantic), lint, the mesh model and the run options only when a scenario file is collected or
a feature is asked for: every pytest process (each xdist worker) loads it."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

from harness.model import source
from harness.model.files import SCENARIO_FILE
from harness.model.scenario import load_scenario

PROBE = """
import json, sys
import pytest
from harness.pytest_plugin.session import session_options

class Capture:
    def pytest_configure(self, config):
        o = session_options(config)
        Capture.seen = {"cluster_name": o.cluster_name, "kind_image": o.kind_image,
                        "kind_bin": o.kind_bin, "keep_cluster": o.keep_cluster,
                        "kubeconfig": o.kubeconfig,
                        "kubectl_bin": config.getoption("kind_kubectl_bin")}

rc = pytest.main(sys.argv[1:], plugins=[Capture()])
heavy = ("pykube", "requests", "httpx", "anyio")
print(json.dumps({"rc": int(rc), **Capture.seen,
                  "imported": [m for m in heavy if m in sys.modules]}))
"""


def test_collection_imports_no_http_client_and_the_kind_options_keep_their_meaning() -> None:
    argv = [
        "-p",
        "no:cacheprovider",
        "--collect-only",
        "-q",
        "scenarios/ambient-authz-l4",
        "--cluster-name=demo",
        "--kind-image=kindest/node:v1.35.0",
        "--kind-bin=/opt/kind",
        "--kind-kubectl-bin=/opt/kubectl",
        "--keep-cluster",
        "--kubeconfig=/tmp/kc",
    ]
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {
        "rc": 0,
        "imported": [],
        "cluster_name": "demo",
        "kind_image": "kindest/node:v1.35.0",
        "kind_bin": "/opt/kind",
        "keep_cluster": True,
        "kubeconfig": "/tmp/kc",
        "kubectl_bin": "/opt/kubectl",
    }


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

LOADED = """
import json, sys
before = set(sys.modules)
if sys.argv[1] == "import":
    import harness.pytest_plugin
    rc = 0
else:
    import pytest
    rc = int(pytest.main(sys.argv[2:]))
deferred = json.loads(sys.argv[1] if sys.argv[1] != "import" else sys.argv[2])
print(json.dumps({"rc": rc, "imported": [m for m in deferred if m in sys.modules]}))
"""


def _loaded(*argv: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", LOADED, *argv], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_the_plugin_imports_no_scenario_model_lint_or_run_options_at_start_up() -> None:
    assert _loaded("import", json.dumps(DEFERRED)) == {"rc": 0, "imported": []}


def test_a_run_of_plain_test_modules_never_imports_the_scenario_model() -> None:
    """The repository's own scenarios/ sits beside tests/: collecting a test module of no
    scenario still must not read them (nor lint, nor build the run options)."""
    collect = ["-p", "no:cacheprovider", "--collect-only", "-q", "tests/test_errors.py"]
    assert _loaded(json.dumps(DEFERRED), *collect) == {"rc": 0, "imported": []}


def test_a_feature_in_m_is_still_a_known_marker_when_no_scenario_is_collected() -> None:
    """Features are registered when the first scenario file is collected, or at once when `-m`
    (or `--markers`) may name one: --strict-markers must accept `-m l7` on any run."""
    feature = next(
        f.replace("-", "_")
        for path in sorted((REPO / "scenarios").glob(f"*/{SCENARIO_FILE}"))
        for f in load_scenario(path).features
    )
    argv = ["-p", "no:cacheprovider", "--strict-markers", "--collect-only", "-q"]
    result = _loaded(json.dumps([]), *argv, "-m", feature, "tests/test_errors.py")
    # 5: every test deselected, nothing collected; a usage error (unknown marker) would be 4.
    assert result == {"rc": 5, "imported": []}
