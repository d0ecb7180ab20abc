"""pytest plugin: every `scenario.yaml` pytest is pointed at (or finds under a directory it is
pointed at) is a test item; the ini option `scenario_roots` adds directories collected when
pytest is given no path, beside `testpaths`.

Registered through the `pytest11` entry point. Items carry markers for their data plane and
features (`-m ambient`, `-m "authz and l7"`), ids are the scenario names (`-k traffic-shift`),
and without a cluster they skip with the reason. Steps are reported as sections of the item.

The hooks here stay thin: the items are in items.py, the run's state (options, live session,
results and the reports written from them) in session.py's `HarnessSession`, registered here.

Every pytest process on the machine loads this plugin (each xdist worker too), so at start-up
it imports only pytest's needs (options, hooks): the scenario model (pydantic) when a scenario
file is collected or a feature is asked for (`-m`, `--markers`), lint when a scenario item is
set up (each worker lints only the scenarios it runs), the run options when a live session
starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.model.files import SCENARIO_FILE
from harness.pytest_plugin.markers import register_features, registered_markers
from harness.pytest_plugin.session import PLUGIN_NAME, HarnessSession, cluster_requested

if TYPE_CHECKING:
    from harness.pytest_plugin.items import NO_CLUSTER, ScenarioFile, ScenarioItem

__all__ = ["NO_CLUSTER", "ScenarioFile", "ScenarioItem", "cluster_requested"]


def __getattr__(name: str) -> Any:
    # The items (and with them the scenario model) on first use of these names.
    if name in ("NO_CLUSTER", "ScenarioFile", "ScenarioItem"):
        from harness.pytest_plugin import items

        return getattr(items, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    g.addoption(
        "--image-registry",
        default=None,
        help="hub for the Istio images (a mirror such as gcr.io/istio-release)",
    )
    g.addoption(
        "--ready-timeout",
        type=float,
        default=None,
        help="seconds each readiness wait may take (image pulls in progress not counted)",
    )
    g.addoption(
        "--skip-doctor",
        action="store_true",
        help="set up the cluster without the host and cluster checks (ambient-harness doctor)",
    )
    parser.addini(
        SCENARIO_ROOTS_INI,
        type="paths",
        default=[],
        help="directories of scenarios collected (beside testpaths) when pytest is given no "
        "path; relative to the ini file",
    )


SCENARIO_ROOTS_INI = "scenario_roots"


def _add_scenario_roots(config: pytest.Config) -> None:
    """Collect the ini file's extra scenario roots unless the command line named paths: as
    `testpaths`, an explicit path means "only this". A root that does not exist is a usage error
    (testpaths would skip it silently, and a run that silently tests nothing is a false green)."""
    roots: list[Path] = config.getini(SCENARIO_ROOTS_INI)
    if not roots or config.args_source == pytest.Config.ArgsSource.ARGS:
        return
    missing = [str(r) for r in roots if not r.is_dir()]
    if missing:
        where = config.inipath or "the ini file"
        raise pytest.UsageError(
            f"{where}: {SCENARIO_ROOTS_INI}: no such directory: {', '.join(missing)} "
            "(expected directories holding <name>/scenario.yaml)"
        )
    # After testpaths; a root already given (or inside one given) is collected once.
    given = [Path(a.split("::", 1)[0]) for a in config.args]
    given = [g if g.is_absolute() else config.invocation_params.dir / g for g in given]
    for root in roots:
        if not any(root.resolve().is_relative_to(g.resolve()) for g in given):
            config.args.append(str(root))


@pytest.hookimpl(trylast=True)  # after the other plugins registered their markers
def pytest_configure(config: pytest.Config) -> None:
    _add_scenario_roots(config)
    state = HarnessSession(config)
    state.foreign_markers = registered_markers(config)
    config.pluginmanager.register(state, PLUGIN_NAME)
    for marker in ("ambient", "sidecar"):
        config.addinivalue_line("markers", f"{marker}: scenario on the {marker} data plane")
    config.addinivalue_line("markers", "scenario: a scenario (a scenario.yaml file)")
    # Each scenario's features, so `pytest --markers` lists them and --strict-markers accepts
    # them in `-m`: now if either is asked for, else when the first scenario file is collected
    # (a run of test modules only never reads a scenario).
    if config.option.markers or config.option.markexpr:
        register_features(config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    # Any scenario.yaml pytest reaches, whatever its folder is called; a tree of files that
    # only look like scenarios (tests/malformed/, the lint corpus) opts out with its own
    # conftest.py `collect_ignore_glob`, as any pytest test directory would.
    if file_path.name == SCENARIO_FILE:
        from harness.pytest_plugin.items import ScenarioFile

        register_features(parent.config)
        return ScenarioFile.from_parent(parent, path=file_path)
    return None
