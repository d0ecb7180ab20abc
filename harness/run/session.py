"""The live session: one cluster with Gateway API and Istio, any number of scenarios run on it.

`LiveSession` is shared by `ambient-harness run` and `demo` (through `run_scenarios`) and the
pytest plugin (harness/pytest_plugin/session.py, once per pytest run, even under xdist).

Cluster lifetime: a kind cluster is deleted at the end only if this run created it (a
cluster that already existed, e.g. from `ambient-harness cluster up`, is reused and left
running) and `--keep-cluster` was not given; an existing (kubeconfig/context) cluster is
never deleted.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from harness import mesh
from harness.host import paths, tools, versions
from harness.host.cluster import ClusterProvider
from harness.host.docker import container_engine
from harness.host.existing import unreachable_text
from harness.host.images import preload_images
from harness.host.kind import KindProvider, default_kind_config
from harness.host.portforward import close_all
from harness.kube.client import Kube
from harness.lint import lint_or_raise
from harness.mesh.doctor import preflight
from harness.model.results import Environment, RunResult, ScenarioResult
from harness.model.scenario import Scenario
from harness.run import diagnostics as diag
from harness.run.checker import EventuallyChecker
from harness.run.errors import SessionSetupFailed
from harness.run.events import RunObserver
from harness.run.options import SessionOptions
from harness.run.runner import Runner, describe_error

if TYPE_CHECKING:
    from harness.run.live import LiveOps

ISTIO_READY_TIMEOUT_S = 300.0  # install_istio's own default, unless --ready-timeout
PROGRESS_EVERY_S = 10.0  # a line per this many seconds of any long wait


def _client_errors() -> tuple[type[Exception], ...]:
    """Raised by the kubernetes client and urllib3 for an unreachable or refusing API server
    (imported when asked: the client costs ~0.45 s of start-up, and `run --dry-run` imports
    this module without needing it)."""
    import urllib3
    from kubernetes.client.exceptions import OpenApiException
    from kubernetes.config import ConfigException

    return (OSError, OpenApiException, ConfigException, urllib3.exceptions.HTTPError)


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
        scenarios: Sequence[Scenario] = (),
    ) -> None:
        self.options = options
        self.scenarios = list(scenarios)  # for the doctor's warnings about istiod settings
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
        kind = isinstance(provider, KindProvider)
        if kind:
            self.doctor(provider)  # before anything is created: DoctorFailed leaves no trace
        try:
            with self._phase(f"cluster: {provider.describe()}"):
                self.say(provider.up())
            if isinstance(provider, KindProvider):
                self.preload_images(provider)
        finally:
            self.created_cluster = isinstance(provider, KindProvider) and provider.created
        if not kind:
            # An existing cluster's `up` only checks that its API server answers (one short
            # line when not); the doctor then reads its Istio, still before any write.
            self.doctor(provider)
        return self.created_cluster

    def preload_images(self, provider: KindProvider) -> None:
        """Pull the run's images once on the host and load them into the nodes."""
        plan = self.options.image_plan()
        kind = Path(self.options.kind_bin) if self.options.kind_bin else tools.ensure_tool("kind")
        with self._phase(f"images: {len(plan.images)} pulled on the host, loaded into the nodes"):
            preload_images(
                plan, engine=container_engine(), kind=kind, cluster=provider.name, output=self.say
            )

    def doctor(self, provider: ClusterProvider) -> None:
        """The doctor's checks for this provider, findings through `say`; `DoctorFailed`
        on a failed one (unless --skip-doctor)."""
        if self.options.skip_doctor:
            self.say("doctor skipped (--skip-doctor)")
            return
        kind = isinstance(provider, KindProvider)
        opened: list[Kube] = []

        def connect() -> Kube:
            opened.append(Kube.from_kubeconfig(provider.kubeconfig, provider.context))
            return opened[-1]

        try:
            with self._phase("doctor: host and cluster checks"):
                preflight(
                    kind=kind,
                    cache_dir=paths.cache_root(),
                    kind_config=default_kind_config() if kind else None,
                    engine=container_engine(),
                    kube=None if kind else connect,
                    scenarios=self.scenarios,
                    output=self.say,
                )
        finally:
            for kube in opened:
                kube.close()

    def install_mesh(self) -> Environment:
        """Tools, Gateway API CRDs, Istio (unless present), readiness; the run's Environment.

        The kubernetes client's and the network's own errors leave as `SessionSetupFailed`.
        """
        try:
            return self._install_mesh()
        except _client_errors() as exc:
            raise SessionSetupFailed(unreachable_text(exc) or describe_error(exc)) from exc

    def _install_mesh(self) -> Environment:
        o = self.options
        provider = self.provider
        assert provider is not None
        kube = self.kube = Kube.from_kubeconfig(
            provider.kubeconfig,
            provider.context,
            progress=lambda what, elapsed: self.say(f"{what} ({elapsed:.0f}s so far)"),
            progress_every=PROGRESS_EVERY_S,
            notice=self.say,  # fields a forced apply took over from another manager
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
            setup = mesh.install_istio(
                kube,
                istioctl,
                o.istio,
                output=self.say,
                sets=o.image_plan().istioctl_sets(),
                ready_timeout=o.ready_timeout or ISTIO_READY_TIMEOUT_S,
            )
        from harness.run.live import LiveOps  # with httpx: not for `run --dry-run`'s start-up

        self.ops = LiveOps(kube, kubectl, istioctl, o.artifacts, output=self.say)
        if o.ready_timeout:
            self.ops.ready_timeout_s = self.ops.waypoint_timeout_s = o.ready_timeout
        kind = isinstance(provider, KindProvider)
        self.environment = Environment(
            provider="kind" if kind else "existing",
            kubernetes_version=kube.server_version() or None,
            istio_version=setup.install.version,
            gateway_api_version=versions.GATEWAY_API_VERSION,
            kind_version=versions.KIND_VERSION if kind else None,
            node_image=node_image(o, provider),
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


def node_image(o: SessionOptions, provider: ClusterProvider) -> str | None:
    """What the kind nodes run: read from a reused cluster's nodes, else what was asked."""
    if not isinstance(provider, KindProvider):
        return None
    found = sorted(set(provider.node_images.values()))
    return ", ".join(found) if found else (o.kind_image or versions.NODE_IMAGE.ref)


def _to_stderr(line: str) -> None:
    # sys.stderr looked up per call: the demo's spinner swaps it for a proxy while it spins.
    print(f"  {line}", file=sys.stderr, flush=True)


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def run_scenarios(
    scenarios: Sequence[Scenario],
    options: SessionOptions,
    observer: RunObserver,
    *,
    into: RunResult | None = None,
) -> RunResult:
    """Bring up the session (cluster, mesh), run each scenario, tear the session down.

    Raises `LintFailed` before anything is done if a scenario fails lint, `DoctorFailed` if a
    doctor check fails (also before anything is created); `NoClusterChosen`,
    `ClusterOptionError`, `DockerUnavailable` / `ClusterError` when
    there is no cluster, and the set-up's `HarnessError`s.
    `into` receives results as they come, so a caller still has them after a Ctrl-C.
    """
    lint_or_raise([s.directory for s in scenarios])  # nothing of a rejected scenario is applied
    run = into if into is not None else RunResult(Environment(provider="none"))
    run.started_at = run.started_at or now_rfc3339()
    session = LiveSession(options, observer, scenarios=scenarios)
    try:
        session.prepare()
        for s in scenarios:
            run.scenarios.append(session.run(s))
    finally:
        run.environment = session.environment
        run.finished_at = now_rfc3339()
        session.close()
    return run
