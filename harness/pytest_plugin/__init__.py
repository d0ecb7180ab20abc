"""pytest plugin: every `scenarios/<name>/scenario.yaml` is a test item.

Registered through the `pytest11` entry point. Items carry markers for their data plane and
features (`-m ambient`, `-m "authz and l7"`), ids are the scenario names (`-k traffic-shift`),
and without a cluster they skip with the reason. Steps are reported as sections of the item.

The hooks here stay thin: the items are in items.py, the run's state (options, live session,
results and the reports written from them) in session.py's `HarnessSession`, registered here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.model.scenario import SCENARIO_FILE
from harness.pytest_plugin.items import NO_CLUSTER, ScenarioFile, ScenarioItem
from harness.pytest_plugin.markers import features_in, registered_markers
from harness.pytest_plugin.session import PLUGIN_NAME, HarnessSession, cluster_requested

__all__ = ["NO_CLUSTER", "ScenarioFile", "ScenarioItem", "cluster_requested"]


# pytest-kind-ng's plugin imports its cluster module (pykube, requests: ~80 ms) at every pytest
# start; the harness uses only its KindCluster, lazily. Blocked with `-p no:pytest-kind-ng`
# (this repository's addopts), its options are declared here instead, with the same meaning.
KIND_PLUGIN = "pytest-kind-ng"


def _kind_options(group: pytest.OptionGroup) -> None:
    group.addoption("--cluster-name", default=None, help="name of the kind cluster")
    group.addoption("--keep-cluster", action="store_true", help="keep the kind cluster")
    group.addoption("--kubeconfig", default=None, help="use this kubeconfig")
    group.addoption("--kind-image", default=None, help="kind node image (kindest/node:...)")
    group.addoption("--kind-bin", default=None, help="the kind binary to use")
    group.addoption("--kind-kubectl-bin", default=None, help="the kubectl binary to use")


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    g = parser.getgroup("ambient-harness", "Istio ambient scenario harness")
    if pluginmanager.is_blocked(KIND_PLUGIN):
        _kind_options(g)
    g.addoption(
        "--cluster",
        choices=["kind", "existing"],
        default=os.environ.get("AMBIENT_HARNESS_CLUSTER"),
        help="kind: create or reuse a kind cluster; existing: the current kubeconfig context",
    )
    # --cluster-name, --keep-cluster, --kubeconfig, --kind-image and --kind-bin: pytest-kind-ng's
    # plugin declares them when it is loaded; we read them rather than clash.
    g.addoption(
        "--context",
        "--kube-context",
        dest="kube_context",
        default=None,
        help="run against this kubeconfig context (as kubectl's --context)",
    )
    g.addoption("--keep", action="store_true", help="keep scenario namespaces after the run")
    g.addoption("--istio-version", default=None, help="Istio version to install (default: pin)")
    g.addoption(
        "--artifacts",
        default="artifacts",
        help="directory for failure diagnostics (default: artifacts/)",
    )
    g.addoption("--report-json", default=None, help="write the JSON run report to this path")


@pytest.hookimpl(trylast=True)  # after the other plugins registered their markers
def pytest_configure(config: pytest.Config) -> None:
    state = HarnessSession(config)
    state.foreign_markers = registered_markers(config)
    config.pluginmanager.register(state, PLUGIN_NAME)
    for marker in ("ambient", "sidecar"):
        config.addinivalue_line("markers", f"{marker}: scenario on the {marker} data plane")
    config.addinivalue_line("markers", "scenario: a scenario from scenarios/")
    # Each scenario's features, so `pytest --markers` lists them and --strict-markers accepts
    # them; one that is already a marker is refused when its scenario is collected.
    for feature, scenarios in sorted(features_in(config).items()):
        if feature not in state.foreign_markers:
            config.addinivalue_line(
                "markers", f"{feature}: scenario feature ({', '.join(sorted(scenarios))})"
            )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name == SCENARIO_FILE and file_path.parent.parent.name == "scenarios":
        return ScenarioFile.from_parent(parent, path=file_path)
    return None
