"""The live path: one session per run (cluster, Gateway API, Istio), scenarios run against it.

`LiveSession` is shared by `ambient-harness run/demo` (through `runner.run_scenarios`) and the
pytest plugin (through `live_session(config)`, once per pytest session). `LiveOps` is the
`runner.ClusterOps` over harness.kube, harness.mesh, diagnostics.py, port-forwards and probe.py.

Cluster lifetime: a kind cluster is deleted at the end only if this run created it (a
cluster that already existed, e.g. from `ambient-harness cluster up`, is reused and left
running) and `--keep-cluster` was not given; an existing (kubeconfig/context) cluster is
never deleted.

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

import argparse
import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import mesh
from harness.host import paths, tools, versions
from harness.host.cluster import ClusterProvider
from harness.host.kind import KindProvider
from harness.host.portforward import PortForward, close_all
from harness.host.providers import provider_from_options
from harness.kube.client import Kube
from harness.kube.objects import Manifest, ObjectRef, namespace_ref
from harness.kube.status import ready_pod
from harness.model.results import Environment, ScenarioResult, StepResult
from harness.model.scenario import Scenario
from harness.model.topology import AGENT_PORT, AgentPlan, NamespacePlan, WaypointPlan, topology
from harness.probe.forwarded import ForwardedAgent
from harness.probe.link import AgentLink
from harness.run import diagnostics as diag
from harness.run.checker import EventuallyChecker
from harness.run.events import RunObserver
from harness.run.runner import Runner

if TYPE_CHECKING:
    import pytest

NAMESPACE_GONE_TIMEOUT_S = 180.0
READY_TIMEOUT_S = 180.0
WAYPOINT_TIMEOUT_S = 180.0  # Programmed, then a Ready proxy: its image may still be pulling
ENROLLMENT_TIMEOUT_S = 30.0
PROGRESS_EVERY_S = 10.0  # a line per this many seconds of any long wait


# --- ClusterOps over a real cluster --------------------------------------------------------


@dataclass
class LiveOps:
    """`runner.ClusterOps` against a cluster reachable through `kube`."""

    kube: Kube
    kubectl: Path
    istioctl: Path | None = None
    artifacts: Path | None = Path("artifacts")
    ready_timeout_s: float = READY_TIMEOUT_S
    enrollment_timeout_s: float = ENROLLMENT_TIMEOUT_S
    links: list[ForwardedAgent] = field(default_factory=list)
    collected: dict[str, list[diag.Diagnostics]] = field(default_factory=dict)

    def create_namespace(self, plan: NamespacePlan) -> None:
        ref = namespace_ref(plan.name)
        if self.kube.get(ref) is not None:
            # A leftover (an earlier --keep run, or still terminating): its policies would
            # change this run's results, so start from an empty namespace.
            self.kube.delete_namespace(plan.name, wait=True, timeout=NAMESPACE_GONE_TIMEOUT_S)
        mesh.enroll_namespace(self.kube, plan)

    def apply_workloads(self, objects: Sequence[Manifest]) -> None:
        self.kube.apply_step(objects)

    def wait_available(self, deployments: Sequence[tuple[str, str]]) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        for ns, name in deployments:
            left = max(1.0, deadline - time.monotonic())
            self.kube.wait_deployment_available(ns, name, timeout=left)

    def check_enrollment(self, plan: NamespacePlan) -> None:
        if plan.mode == "ambient":
            mesh.wait_ambient_redirection(self.kube, plan.name, timeout=self.enrollment_timeout_s)
        elif plan.mode == "sidecar":
            mesh.require_sidecars(self.kube, plan.name)

    def setup_waypoint(self, plan: WaypointPlan) -> None:
        mesh.apply_waypoint(self.kube, plan, timeout=WAYPOINT_TIMEOUT_S)

    def _agent_pod(self, agent: AgentPlan) -> str:
        pod = ready_pod(self.kube.pods(agent.namespace, f"app={agent.deployment}"))
        if pod is None:
            raise RuntimeError(f"no ready pod of Deployment {agent.namespace}/{agent.deployment}")
        return pod

    def connect(self, agent: AgentPlan) -> AgentLink:
        forward = PortForward(
            self.kubectl,
            agent.namespace,
            f"pod/{self._agent_pod(agent)}",
            AGENT_PORT,
            kubeconfig=self.kube.kubeconfig,
            context=self.kube.context,
            resolve=lambda: f"pod/{self._agent_pod(agent)}",
        )
        forward.start()
        link = ForwardedAgent(forward)
        self.links.append(link)
        link.wait_healthy()
        return link

    def apply_step(self, objects: Sequence[Manifest], namespace: str) -> list[ObjectRef]:
        return self.kube.apply_step(objects, default_namespace=namespace)

    def delete(self, objects: Sequence[Manifest], namespace: str) -> list[ObjectRef]:
        return self.kube.delete(objects, wait=True, default_namespace=namespace)

    def diagnostics(
        self, scenario: Scenario, step: StepResult | None, manifests: Mapping[str, str]
    ) -> str | None:
        topo = topology(scenario)
        request = diag.Request(
            scenario=scenario.name,
            step=step.name if step is not None else "set-up",
            namespaces=[n.name for n in topo.namespaces],
            manifests=dict(manifests),
            probes=list(step.probes) if step is not None else [],
            waypoints=topo.waypoints,
        )
        found = diag.collect(
            self.kube, request, artifacts_dir=self.artifacts, istioctl=self.istioctl
        )
        self.collected.setdefault(scenario.name, []).append(found)
        if found.directory is not None:
            return str(found.directory)
        return found.write_error

    def delete_namespaces(self, names: Sequence[str], *, wait: bool) -> None:
        # All deletions are requested first, then awaited within one budget.
        refs = [namespace_ref(name) for name in names]
        self.kube.delete(refs, wait=wait, timeout=NAMESPACE_GONE_TIMEOUT_S)

    def disconnect(self) -> None:
        links, self.links = self.links, []
        for link in links:
            link.close()


# --- session options -----------------------------------------------------------------------


@dataclass(frozen=True)
class SessionOptions:
    cluster: str | None
    cluster_name: str
    kube_context: str | None = None
    kubeconfig: str | None = None
    keep_cluster: bool = False
    keep: bool = False
    istio_version: str | None = None
    artifacts: Path = Path("artifacts")
    kind_image: str | None = None
    kind_bin: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> SessionOptions:
        from harness.host.cluster import DEFAULT_CLUSTER_NAME

        return cls(
            cluster=getattr(args, "cluster", None),
            cluster_name=getattr(args, "cluster_name", None) or DEFAULT_CLUSTER_NAME,
            kube_context=getattr(args, "kube_context", None),
            kubeconfig=getattr(args, "kubeconfig", None),
            keep_cluster=bool(getattr(args, "keep_cluster", False)),
            keep=bool(getattr(args, "keep", False)),
            istio_version=getattr(args, "istio_version", None),
            artifacts=Path(getattr(args, "artifacts", None) or "artifacts"),
        )

    @classmethod
    def from_pytest(cls, config: pytest.Config) -> SessionOptions:
        from harness.pytest_plugin import cluster_name

        def opt(name: str) -> Any:
            return config.getoption(name, default=None)

        return cls(
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

    @property
    def istio(self) -> str:
        return self.istio_version or versions.ISTIO_VERSION

    def provider(self) -> ClusterProvider:
        provider = provider_from_options(
            self.cluster,
            self.kube_context,
            self.kubeconfig,
            self.keep_cluster,
            self.cluster_name,
            kind_image=self.kind_image,
            kind_path=Path(self.kind_bin) if self.kind_bin else None,
        )
        if provider is None:
            from harness.pytest_plugin import NO_CLUSTER

            raise ValueError(NO_CLUSTER)
        return provider


# --- the session -----------------------------------------------------------------------------


class LiveSession:
    """One cluster with the mesh installed; `run(scenario)` any number of times, then `close()`.

    Set-up failures are kept (`setup_error`) and every later `run` reports them at once, so a
    pytest session with a broken cluster fails each scenario quickly with the real reason.
    """

    def __init__(
        self,
        options: SessionOptions,
        observer: RunObserver | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.options = options
        self.observer = observer or RunObserver()
        # Detail lines of long set-up work (istioctl's output, "still waiting for X (40s)").
        self.say = say or _to_stderr
        self.provider: ClusterProvider | None = None
        self.kube: Kube | None = None
        self.ops: LiveOps | None = None
        self.environment = Environment(provider=options.cluster or "existing")
        self.created_cluster = False
        self.setup_error: str | None = None
        self._closed = False

    @classmethod
    def from_args(cls, args: argparse.Namespace, observer: RunObserver) -> LiveSession:
        return cls(SessionOptions.from_args(args), observer)

    @contextlib.contextmanager
    def _phase(self, message: str) -> Iterator[None]:
        self.observer.phase(message)
        t0 = time.monotonic()
        yield
        self.observer.phase_done(message, time.monotonic() - t0)

    def bring_up_cluster(self) -> bool:
        """Create or reuse the cluster; sets and returns `created_cluster`.

        The provider says whether it created the cluster, also when creating failed half-way
        (Ctrl-C during `kind create`): then `close()` removes the remains, which a later run
        would otherwise "reuse".
        """
        provider = self.provider = self.options.provider()
        try:
            with self._phase(f"cluster: {provider.describe()}"):
                self.say(provider.up())
        finally:
            self.created_cluster = isinstance(provider, KindProvider) and provider.created
        return self.created_cluster

    def install_mesh(self) -> Environment:
        """Tools, Gateway API CRDs, Istio (unless present), readiness; the run's Environment."""
        o = self.options
        provider = self.provider
        assert provider is not None
        kube = self.kube = Kube.from_kubeconfig(
            provider.kubeconfig,
            provider.context,
            progress=lambda what, elapsed: self.say(f"{what} ({elapsed:.0f}s so far)"),
            progress_every=PROGRESS_EVERY_S,
        )
        kubectl = tools.ensure_tool("kubectl")
        istioctl = tools.ensure_tool("istioctl", istio_version=o.istio)
        bundle = paths.crd_dir() / versions.GATEWAY_API_CRDS.filename
        with self._phase(
            f"Gateway API {versions.GATEWAY_API_VERSION} ({versions.GATEWAY_API_CHANNEL}) CRDs"
        ):
            if not bundle.is_file():
                tools.fetch_crds(bundles=(versions.GATEWAY_API_CRDS,))
            mesh.install_gateway_api(kube, bundle, output=self.say)
        with self._phase(f"Istio {o.istio} (ambient profile) ready"):
            setup = mesh.install_istio(kube, istioctl, o.istio, output=self.say)
        self.ops = LiveOps(kube, kubectl, istioctl, o.artifacts)
        kind = isinstance(provider, KindProvider)
        self.environment = Environment(
            provider="kind" if kind else "existing",
            kubernetes_version=kube.server_version() or None,
            istio_version=setup.install.version,
            gateway_api_version=versions.GATEWAY_API_VERSION,
            kind_version=versions.KIND_VERSION if kind else None,
            node_image=(o.kind_image or versions.NODE_IMAGE.ref) if kind else None,
            context=provider.context,
        )
        return self.environment

    def prepare(self) -> Environment:
        """Cluster and mesh, in one go (the CLI; pytest splits it around a file lock)."""
        self.bring_up_cluster()
        return self.install_mesh()

    def run(self, scenario: Scenario) -> ScenarioResult:
        if self.setup_error is not None or self.ops is None:
            return ScenarioResult(
                scenario.name,
                scenario.title,
                scenario.dataplane,
                error=f"session set-up failed: {self.setup_error or 'not prepared'}",
            )
        runner = Runner(self.ops, EventuallyChecker(), self.observer, keep=self.options.keep)
        return runner.run(scenario)

    def diagnostics(self, scenario: str) -> list[diag.Diagnostics]:
        """What was collected for a scenario's failures (for pytest report sections)."""
        return list(self.ops.collected.get(scenario, [])) if self.ops is not None else []

    def close_connections(self) -> None:
        if self.ops is not None:
            self.ops.disconnect()
        close_all()
        if self.kube is not None:
            self.kube.close()
            self.kube = None

    def delete_cluster(self, created: bool | None = None) -> str | None:
        """Delete the kind cluster if this run created it (`created`, by default whether this
        session did) and --keep-cluster is off."""
        ours = self.created_cluster if created is None else created
        if self.provider is None or not ours or self.options.keep_cluster:
            return None
        with self._phase("deleting the kind cluster"):
            said = self.provider.down()
        self.say(said)
        return said

    def close(self) -> None:
        """Port-forwards first, then the cluster (unless kept or not ours)."""
        if self._closed:
            return
        self._closed = True
        self.close_connections()
        self.delete_cluster()


def _to_stderr(line: str) -> None:
    # sys.stderr looked up per call: the demo's spinner swaps it for a proxy while it spins.
    print(f"  {line}", file=sys.stderr, flush=True)


# --- pytest: one session per run, even under pytest-xdist ----------------------------------


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
        import tempfile

        return Path(tempfile.gettempdir()) / f"ambient-harness-{os.getuid()}"
    base = Path(factory.getbasetemp())
    return base.parent if hasattr(config, "workerinput") else base


def live_session(config: pytest.Config) -> LiveSession:
    """The pytest run's `LiveSession`, created and prepared once (cached in the stash)."""
    from harness.pytest_plugin import LIVE_KEY

    cached = config.stash.get(LIVE_KEY, None)
    if cached is not None:
        assert isinstance(cached, LiveSession)
        return cached
    options = SessionOptions.from_pytest(config)
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
