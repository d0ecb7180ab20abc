"""`ambient-harness run --dry-run`: every action of a live run, in order, touching nothing.

The same `Runner` drives it as a live run; `DryRunOps` and `PlanChecker` print each action
(the kind and istioctl command lines, each object applied with its namespace, each wait and
its condition, each probe and what it expects) instead of doing it. No cluster, Docker or
network is needed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from harness import mesh
from harness.host import argv as commands
from harness.host import paths, tools, versions
from harness.host.cluster import ClusterProvider
from harness.host.docker import container_engine
from harness.host.images import preload_lines
from harness.host.kind import KindProvider
from harness.host.portforward import port_forward_argv
from harness.judge.derived import derived_words, split_check
from harness.kube.heads import load_heads
from harness.kube.objects import FIELD_MANAGER, Manifest, ObjectRef, sort_for_apply
from harness.model.describe import describe_expect
from harness.model.outcome import Outcome
from harness.model.results import ProbeResult, ScenarioResult, StepResult
from harness.model.scenario import Probe, Scenario, Step
from harness.model.topology import AGENT_PORT, AgentPlan, NamespacePlan, Topology, WaypointPlan
from harness.probe.link import AgentLink
from harness.run.checker import SPLIT_BATCH, probe_result
from harness.run.events import RunObserver
from harness.run.options import SessionOptions
from harness.run.runner import Runner


class Printer:
    """Numbered action lines for the dry run."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.indent = 0

    def line(self, text: str) -> None:
        self.out.write("  " * self.indent + text + "\n")

    @contextmanager
    def section(self, title: str) -> Iterator[None]:
        self.line(title)
        self.indent += 1
        try:
            yield
        finally:
            self.indent -= 1


def timing_words(probe: Probe) -> str:
    t = probe.timing
    text = f"{t.streak} in a row within {t.budget:g}s, polling every {t.interval:g}s"
    if t.hold:
        text += f", then holding for {t.hold:g}s"
    return text


@dataclass
class PlanChecker:
    """Prints what a probe would check; nothing is sent."""

    printer: Printer
    topology: Topology | None = None  # None: the worst case (see EventuallyChecker)

    def with_topology(self, topology: Topology) -> PlanChecker:
        return replace(self, topology=topology)

    def check(self, link: AgentLink, probe: Probe, since: float) -> ProbeResult:
        hdrs = "".join(f" -H '{k}: {v}'" for k, v in probe.headers.items())
        self.printer.line(
            f"probe {probe.from_} -> {probe.method} {probe.url}{hdrs}: "
            f"expect {describe_expect(probe.expect)} ({timing_words(probe)})"
        )
        if probe.expect.split is not None:
            if probe.gate is not None:
                self.printer.line(f"  first gate on {describe_expect(probe.gate)}, then sample")
            self.printer.line(
                f"  sample up to {split_check(probe).max_samples} requests ({SPLIT_BATCH} at a "
                f"time) into a sequential split check, ±{probe.expect.tolerance:g} points"
            )
        for words in derived_words(probe, self.topology):  # the derived streak and split cap
            self.printer.line(f"  {words}")
        return probe_result(probe, "skipped", message="dry run")


class _NoLink:
    def probe(self, method: str, url: str, headers: Mapping[str, str], timeout: float) -> Outcome:
        raise RuntimeError("dry run: nothing is sent")

    def sample(
        self, method: str, url: str, n: int, headers: Mapping[str, str], timeout: float
    ) -> list[Outcome]:
        raise RuntimeError("dry run: nothing is sent")


SSA = f"server-side, field manager {FIELD_MANAGER}"


def _ref_text(doc: Manifest, default_namespace: str | None = None) -> str:
    ref = ObjectRef.of(doc)
    ns = ref.namespace or default_namespace
    return f"{ref.kind} {ns}/{ref.name}" if ns else f"{ref.kind} {ref.name}"


class DryRunOps:
    """`ClusterOps` that prints each action (with its exact command or object) and does nothing.

    `kubectl` is the path the live run would use, for the port-forward command lines.
    """

    def __init__(
        self,
        printer: Printer,
        *,
        kubectl: Path,
        kubeconfig: Path | None = None,
        context: str | None = None,
        artifacts: Path = Path("artifacts"),
    ) -> None:
        self.p = printer
        self.kubectl = kubectl
        self.kubeconfig = kubeconfig
        self.context = context
        self.artifacts = artifacts
        self._forwards = 0

    def create_namespace(self, plan: NamespacePlan) -> None:
        labels = ", ".join(f"{k}={v}" for k, v in plan.labels.items()) or "not enrolled"
        self.p.line(f"namespace {plan.name} [{labels}] (a leftover one is deleted first; {SSA})")

    def apply_workloads(self, objects: Sequence[Manifest]) -> None:
        for doc in sort_for_apply(objects):
            self.p.line(f"apply {_ref_text(doc)} ({SSA}, preflight dryRun=All)")

    def wait_available(self, deployments: Sequence[tuple[str, str]]) -> None:
        for ns, name in deployments:
            self.p.line(f"wait Deployment {ns}/{name}: Available=True")

    def check_enrollment(self, plan: NamespacePlan) -> None:
        if plan.mode == "ambient":
            self.p.line(f"check pods in {plan.name} annotated ambient.istio.io/redirection=enabled")
        elif plan.mode == "sidecar":
            self.p.line(f"check pods in {plan.name} have the istio-proxy sidecar")

    def setup_waypoint(self, plan: WaypointPlan) -> None:
        self.p.line(
            f"apply {_ref_text(mesh.waypoint_manifest(plan))} "
            f"(class istio-waypoint, for {plan.traffic_type}; {SSA}, "
            "preflight dryRun=All)"
        )
        self.p.line(f"wait Gateway {plan.namespace}/{plan.name}: Programmed=True")
        self.p.line(
            f"wait a pod in {plan.namespace} with {mesh.waypoint_pod_selector(plan)}: Ready"
        )
        for change in mesh.use_waypoint_labels(plan):
            self.p.line(f"label {change}")

    def connect(self, agent: AgentPlan) -> AgentLink:
        argv = port_forward_argv(
            self.kubectl,
            agent.namespace,
            f"pod/<ready pod of {agent.deployment}>",
            AGENT_PORT,
            kubeconfig=self.kubeconfig,
            context=self.context,
        )
        self.p.line(
            f"port-forward for client {agent.client} ({agent.principal}): " + " ".join(argv)
        )
        self.p.line("  wait GET /healthz on the forwarded port: 200")
        self._forwards += 1
        return _NoLink()

    def apply_step(self, objects: Sequence[Manifest], namespace: str) -> list[ObjectRef]:
        self.p.line(
            f"preflight the step: server-side apply with dryRun=All of {len(objects)} "
            "object(s); nothing is applied if one is rejected"
        )
        for doc in sort_for_apply(objects):
            self.p.line(f"apply {_ref_text(doc, namespace)} ({SSA}, preflight dryRun=All)")
        return []

    def delete(self, objects: Sequence[Manifest], namespace: str) -> list[ObjectRef]:
        for doc in reversed(sort_for_apply(objects)):
            self.p.line(f"delete {_ref_text(doc, namespace)} (wait until gone)")
        return []

    def diagnostics(
        self, scenario: Scenario, step: StepResult | None, manifests: Mapping[str, str]
    ) -> str | None:
        return None

    def delete_namespaces(self, names: Sequence[str], *, wait: bool) -> None:
        for name in names:
            self.p.line(f"delete namespace {name} (wait until gone)")

    def disconnect(self) -> None:
        if self._forwards:
            self.p.line(f"stop {self._forwards} port-forward(s)")
        self._forwards = 0


class _DryObserver(RunObserver):
    """Headlines the dry run's sections; steps are indented under their scenario."""

    def __init__(self, printer: Printer) -> None:
        self.p = printer

    def scenario_started(self, scenario: Scenario) -> None:
        self.p.line("")
        self.p.line(f"scenario {scenario.name} — {scenario.title} ({scenario.dataplane})")
        self.p.indent += 1

    def step_started(self, scenario: Scenario, step: Step, manifests: dict[str, str]) -> None:
        number = next(i for i, s in enumerate(scenario.steps, 1) if s.name == step.name)
        self.p.line(f"step {number}/{len(scenario.steps)} {step.name} — {step.title}")
        self.p.indent += 1

    def probe_finished(self, scenario: Scenario, step: Step, result: ProbeResult) -> None:
        # Under the probe's line: who the mesh model says decides, so a dry run reads as the
        # talk's slide (`ambient-harness explain` has the whole path).
        pr = result.predicted
        if pr is None:
            return
        said = f"  the model predicts {pr.describe()}"
        if pr.uncertain:
            said += f" (uncertain: {pr.uncertain})"
        elif pr.enforced_by:
            said += f", decided by the {pr.enforced_by}: {pr.because}"
        if result.model is not None and result.model.model_gap:
            said += f"; the scenario expects otherwise: {result.model.model_gap}"
        self.p.line(said)

    def step_finished(self, scenario: Scenario, result: StepResult) -> None:
        self.p.indent -= 1

    def scenario_finished(self, result: ScenarioResult) -> None:
        self.p.indent -= 1


def print_session_plan(p: Printer, options: SessionOptions, provider: ClusterProvider) -> None:
    """The cluster and mesh set-up a live run performs, with exact command lines."""
    istio = options.istio
    with p.section("session set-up"):
        if options.skip_doctor:
            p.line("doctor: skipped (--skip-doctor)")
        else:
            p.line(
                "doctor: the host checks (`ambient-harness doctor`: Python, container engine "
                "and its memory, inotify, cgroup, disk, ports; an existing cluster's Istio and "
                "Gateway API) print their findings; a failed one stops before anything is created"
            )
        p.line(f"cluster: {provider.describe()}")
        for argv in provider.commands():
            p.line("run " + " ".join(argv))
        if isinstance(provider, KindProvider):
            for line in preload_lines(
                options.image_plan(),
                engine=container_engine(),
                kind=tools.planned_path("kind"),
                cluster=provider.name,
            ):
                p.line(line)
        bundle = paths.crd_dir() / versions.GATEWAY_API_CRDS.filename
        p.line(
            f"apply Gateway API {versions.GATEWAY_API_VERSION} ({versions.GATEWAY_API_CHANNEL} "
            f"channel) from {bundle} ({SSA}, preflight dryRun=All; "
            f"downloaded from {versions.GATEWAY_API_CRDS.artifact.url} if missing; "
            "skipped if the cluster has a newer Gateway API)"
        )
        if bundle.is_file():
            # The CRDs' names only: their heads, not the whole ~1 MB bundle parsed.
            for check in mesh.gateway_api_readiness(load_heads(bundle)):
                p.line(f"wait {check}")
        else:
            p.line("wait every CustomResourceDefinition of the bundle: Established=True")
        istioctl = tools.planned_path("istioctl", istio_version=istio)
        argv = mesh.istio_install_command(
            istioctl,
            istio,
            kubeconfig=provider.kubeconfig,
            context=provider.context,
            sets=options.image_plan().istioctl_sets(),
        )
        p.line(f"unless an istiod is already installed: run {' '.join(argv)}")
        for check in mesh.istio_readiness():
            p.line(f"wait {check}")


def print_session_teardown(p: Printer, options: SessionOptions, provider: ClusterProvider) -> None:
    with p.section("session teardown"):
        p.line("stop any port-forward still open")
        if isinstance(provider, KindProvider):
            if options.keep_cluster:
                p.line(f"keep kind cluster {provider.name!r} (--keep-cluster)")
            else:
                argv = commands.kind_delete(
                    tools.planned_path("kind"), provider.name, kubeconfig=provider.kubeconfig
                )
                p.line("if this run created the kind cluster: run " + " ".join(argv))
        else:
            p.line("leave the existing cluster as it is")


def dry_run(scenarios: Sequence[Scenario], options: SessionOptions, out: TextIO) -> None:
    """Print every action of a run, in order; needs no cluster, Docker or network.

    `scenarios` come linted, as `run.scenarios.load_scenarios` returns them (a plan of a
    rejected scenario misleads; linting them again here cost as much as the rest of the dry
    run). Without a cluster chosen, the plan is the one of `--cluster kind`. Raises
    `ClusterOptionError` for contradicting cluster options.
    """
    if not options.cluster_requested:
        options = replace(options, cluster="kind")
    provider = options.provider()
    p = Printer(out)
    p.line("dry run: every action of `ambient-harness run`, in order; nothing is executed")
    print_session_plan(p, options, provider)
    ops = DryRunOps(
        p,
        kubectl=tools.planned_path("kubectl"),
        kubeconfig=provider.kubeconfig,
        context=provider.context,
    )
    runner = Runner(ops, PlanChecker(p), _DryObserver(p), keep=options.keep)
    for s in scenarios:
        runner.run(s)
        if options.keep:
            p.line(f"  keep namespaces of {s.name} (--keep)")
    p.line("")
    print_session_teardown(p, options, provider)
