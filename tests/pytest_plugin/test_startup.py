"""Start-up cost of the pytest plugin: pytest-kind-ng's plugin (which imports pykube and
requests at every start) and anyio's are blocked in this repository, the harness declares the
kind options itself, so `--cluster-name`, `--kind-image`... keep their meaning, and httpx is
imported only where a download or a probe starts."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

from harness.model import source

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
