"""Executes scenarios: set-up -> steps (preflight, apply, delete, probe, expect) -> clean-up.

The runner owns the *order* of things and the bookkeeping (results, timings, observer
hooks); what each action does to a cluster is behind `ClusterOps`, so the same runner
drives three implementations:

- `harness.run.live.LiveOps`: harness.kube, harness.mesh, port-forwards and the probe
  against a cluster (`harness.run.session.LiveSession` builds it);
- `harness.run.dryrun.DryRunOps`: prints every action in order and touches nothing (`--dry-run`);
- scripted fakes in the tests.

How a probe is judged is behind `Checker`: `EventuallyChecker` polls through an agent until
the expectation holds (`harness.judge.eventually.eventually`; split probes gate first, then sample
into a `SplitCheck`); `harness.run.dryrun.PlanChecker` only prints what would be checked.

Policy decisions, in one place:
- namespaces are created with their enrollment labels *before* any workload (sidecar
  injection only happens at pod creation);
- a step is preflighted as a whole (server-side dry run) before anything of it is applied;
- a failing probe does not stop the other probes of its step, but a failed step stops the
  scenario: later steps build on earlier ones, so their results would mislead. Steps not
  run are recorded with every probe `skipped` and a message naming the failed step;
- namespaces are always deleted at the end (also on failure and on Ctrl-C), unless `keep`;
  then port-forwards are closed;
- on a failed step or set-up, diagnostics are collected and their location is attached to
  the result;
- every probe result carries the mesh model's prediction (computed once per scenario, offline)
  and the observation judged against it (`harness.run.findings`): a model finding of its own,
  which changes no verdict.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from harness.kube.errors import api_error_text
from harness.kube.objects import Manifest, load_manifests
from harness.model.results import ProbeResult, ScenarioResult, StepResult
from harness.model.scenario import Probe, Scenario, Step
from harness.model.topology import Topology, topology
from harness.probe.link import AgentLink
from harness.report.record import record_scenario, record_step
from harness.run.checker import probe_result
from harness.run.events import RunObserver
from harness.run.findings import ProbePrediction, scenario_predictions, with_model
from harness.run.ports import Checker, ClusterOps, checker_for
from harness.run.workloads import deployments, workload_manifests

Clock = Callable[[], float]
Sleep = Callable[[float], None]
Predictions = dict[tuple[int, int], ProbePrediction]

# --- the runner -----------------------------------------------------------------------------


@dataclass
class Runner:
    ops: ClusterOps
    checker: Checker
    observer: RunObserver
    keep: bool = False
    clock: Clock = time.monotonic

    def run(self, scenario: Scenario) -> ScenarioResult:
        result = ScenarioResult(scenario.name, scenario.title, scenario.dataplane)
        self.observer.scenario_started(scenario)
        started = self.clock()
        topo = topology(scenario)
        touched: list[str] = []
        interrupted = False
        predictions = _predictions(scenario)
        try:
            links = self._set_up(scenario, topo, touched, result)
            if links is not None:
                checker = checker_for(self.checker, topo)
                self._run_steps(scenario, links, result, checker, predictions)
        except KeyboardInterrupt:
            interrupted = True
            result.error = "interrupted (Ctrl-C)"
            raise
        finally:
            self._clean_up(touched, interrupted)
            result.duration_s = self.clock() - started
            record_scenario(result, scenario)
            self.observer.scenario_finished(result)
        return result

    # --- set-up ----------------------------------------------------------------------------

    @contextmanager
    def _phase(self, message: str) -> Iterator[None]:
        self.observer.phase(message)
        t0 = self.clock()
        yield
        self.observer.phase_done(message, self.clock() - t0)

    def _set_up(
        self, s: Scenario, topo: Topology, touched: list[str], result: ScenarioResult
    ) -> dict[str, AgentLink] | None:
        try:
            with self._phase(f"{s.name}: namespaces"):
                for ns in topo.namespaces:
                    touched.append(ns.name)  # before the call: a half-created one is cleaned up
                    self.ops.create_namespace(ns)
            with self._phase(f"{s.name}: agents and backends ready"):
                self.ops.apply_workloads(workload_manifests(topo))
                self.ops.wait_available(deployments(topo))
                for ns in topo.namespaces:
                    self.ops.check_enrollment(ns)
            if topo.waypoints:
                with self._phase(f"{s.name}: waypoints programmed"):
                    for wp in topo.waypoints:
                        self.ops.setup_waypoint(wp)
            with self._phase(f"{s.name}: port-forwards to the agents"):
                return {a.client: self.ops.connect(a) for a in topo.agents}
        except Exception as exc:
            result.error = f"set-up failed: {describe_error(exc)}"
            where = self._diagnose(s, None, {})
            if where:
                result.error += f"\ndiagnostics: {where}"
            return None

    def _clean_up(self, namespaces: list[str], interrupted: bool) -> None:
        # Namespaces first (what matters on a shared cluster), then the local processes.
        try:
            if namespaces and not self.keep:
                with self._phase(f"deleting namespaces {', '.join(namespaces)}"):
                    # On Ctrl-C: ask for deletion and go; the namespace controller finishes.
                    self.ops.delete_namespaces(namespaces, wait=not interrupted)
        except Exception as exc:
            print(
                f"warning: clean-up of {', '.join(namespaces)}: {describe_error(exc)}",
                file=sys.stderr,
            )
        finally:
            self.ops.disconnect()

    def _diagnose(
        self, s: Scenario, step: StepResult | None, manifests: Mapping[str, str]
    ) -> str | None:
        try:
            return self.ops.diagnostics(s, step, manifests)
        except Exception as exc:  # diagnostics must never hide the failure they explain
            return f"(could not collect diagnostics: {describe_error(exc)})"

    # --- steps -----------------------------------------------------------------------------

    def _run_steps(
        self,
        s: Scenario,
        links: dict[str, AgentLink],
        result: ScenarioResult,
        checker: Checker,
        predictions: Predictions,
    ) -> None:
        def of(i: int) -> list[ProbePrediction | None]:
            return [predictions.get((i, j)) for j in range(len(s.steps[i].probes))]

        for i, step in enumerate(s.steps):
            sr = self._run_step(s, step, links, checker, of(i))
            result.steps.append(sr)
            if sr.verdict != "pass":
                reason = f"not run: step {step.name!r} failed"
                result.steps += [
                    _not_run(s.steps[k], reason, of(k)) for k in range(i + 1, len(s.steps))
                ]
                return

    def _run_step(
        self,
        s: Scenario,
        step: Step,
        links: dict[str, AgentLink],
        checker: Checker,
        predicted: Sequence[ProbePrediction | None],
    ) -> StepResult:
        texts = {
            p: s.manifest_path(p).read_text(encoding="utf-8") for p in (*step.apply, *step.delete)
        }
        self.observer.step_started(s, step, texts)
        t0 = self.clock()
        sr = StepResult(step.name, step.title)
        try:
            if step.apply:
                docs = _load(s, step.apply)
                self.ops.apply_step(docs, s.namespace)
                sr.applied = list(step.apply)
            if step.delete:
                docs = _load(s, step.delete)
                self.ops.delete(docs, s.namespace)
                sr.deleted = list(step.delete)
        except Exception as exc:
            sr.error = f"apply failed: {describe_error(exc)}"
        if sr.error is None:
            since = self.clock()
            for probe, pp in zip(step.probes, predicted, strict=True):
                pr = with_model(self._probe(checker, links, probe, since), probe, pp)
                sr.probes.append(pr)
                self.observer.probe_finished(s, step, pr)
        sr.duration_s = self.clock() - t0
        if sr.verdict != "pass":
            where = self._diagnose(s, sr, texts)
            if where:
                self._attach(sr, f"diagnostics: {where}")
        record_step(sr, step, s)
        self.observer.step_finished(s, sr)
        return sr

    @staticmethod
    def _probe(
        checker: Checker, links: dict[str, AgentLink], probe: Probe, since: float
    ) -> ProbeResult:
        try:
            return checker.check(links[probe.from_], probe, since)
        except Exception as exc:  # an agent that cannot be reached is an error, not a fail
            return probe_result(
                probe, "error", message=f"probe could not run: {describe_error(exc)}"
            )

    @staticmethod
    def _attach(sr: StepResult, line: str) -> None:
        if sr.error is not None:
            sr.error += f"\n{line}"
        for p in sr.probes:
            if p.verdict in ("fail", "error"):
                p.message = f"{p.message}\n{line}" if p.message else line


def describe_error(exc: BaseException) -> str:
    """`Type: message`, with the API server's own words for a kubernetes client error."""
    text = api_error_text(exc) or str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _load(s: Scenario, paths: Sequence[str]) -> list[Manifest]:
    docs: list[Manifest] = []
    for p in paths:
        docs += load_manifests(s.manifest_path(p))
    return docs


def _not_run(step: Step, reason: str, predicted: Sequence[ProbePrediction | None]) -> StepResult:
    return StepResult(
        step.name,
        step.title,
        probes=[
            with_model(probe_result(p, "skipped", message=reason), p, pp)
            for p, pp in zip(step.probes, predicted, strict=True)
        ],
        skipped_reason=reason,
    )


def _predictions(s: Scenario) -> Predictions:
    """The mesh model's prediction for every probe, once per scenario (pure and offline, so
    dry runs and scripted runs carry it too). A defect of the model must not stop a run: the
    probes then carry no prediction, and the warning says why."""
    try:
        return scenario_predictions(s)
    except Exception as exc:
        print(f"warning: {s.name}: no model predictions: {describe_error(exc)}", file=sys.stderr)
        return {}
