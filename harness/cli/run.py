"""`ambient-harness run`: load the scenarios, then a dry run or a live session; the exit code.

SIGTERM (CI timeouts, `kill`) is turned into a KeyboardInterrupt for the live run, so
namespaces and port-forwards are cleaned up as on Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TextIO

from harness.cli.exitcodes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NO_DOCKER, EXIT_OK, EXIT_USAGE
from harness.cli.loading import load_for_command
from harness.cli.options import session_options
from harness.errors import HarnessError
from harness.host.docker import DockerUnavailable
from harness.model.results import Environment, ProbeResult, RunResult, ScenarioResult, StepResult
from harness.model.scenario import Scenario, Step
from harness.report.summary import (
    failure_summary,
    model_findings_summary,
    summarize,
    summary_line,
)
from harness.run.dryrun import dry_run
from harness.run.events import RunObserver
from harness.run.options import SessionOptions
from harness.run.runner import describe_error
from harness.run.session import run_scenarios

NO_CLUSTER_MESSAGE = (
    "error: `run` needs a cluster. Choose one:\n"
    "  --cluster kind                      create (or reuse) the kind cluster "
    "'ambient-harness' (needs Docker)\n"
    "  --context CONTEXT [--kubeconfig PATH]\n"
    "                                      use a cluster you already have\n"
    "  --dry-run                           print every action of the run, touch nothing"
)


class PrintObserver(RunObserver):
    """Plain progress lines on stderr for `run` (the demo has the rich narration)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def phase(self, message: str) -> None:
        self.out.write(f"… {message}\n")
        self.out.flush()

    def phase_done(self, message: str, elapsed_s: float) -> None:
        self.out.write(f"✔ {message} ({elapsed_s:.1f}s)\n")

    def probe_finished(self, scenario: Scenario, step: Step, result: ProbeResult) -> None:
        # As it happens: Istio did not do what the model says (the verdict stands as judged).
        if result.model_finding is not None:
            self.out.write(f"  {scenario.name} / {step.name}: {result.model_finding}\n")

    def step_finished(self, scenario: Scenario, result: StepResult) -> None:
        self.out.write(f"  {result.verdict:5} {scenario.name} / {result.name}\n")

    def scenario_finished(self, result: ScenarioResult) -> None:
        self.out.write(f"{result.verdict:5} {result.name} ({result.duration_s:.1f}s)\n")
        self.out.flush()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (CI timeouts, `kill`) cleans up like Ctrl-C instead of dying mid-way."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_command(args: argparse.Namespace) -> int:
    """`ambient-harness run [SCENARIO...] [--dry-run] [--report-json PATH] [cluster options]`."""
    options = session_options(args)
    if args.dry_run and args.report_json is not None:
        # A report records what a cluster did; a dry run asks nothing of one.
        print(
            "error: --report-json records a live run; --dry-run runs nothing (use one of them)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    scenarios = load_for_command(list(args.scenarios or []))
    if scenarios is None:
        return EXIT_USAGE
    if args.dry_run:
        try:
            dry_run(scenarios, options, sys.stdout)
        except HarnessError as exc:  # conflicting cluster options (lint passed above)
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return EXIT_OK
    if not options.cluster_requested:
        print(NO_CLUSTER_MESSAGE, file=sys.stderr)
        return EXIT_USAGE
    return run_live(scenarios, options, args.report_json)


def run_live(
    scenarios: Sequence[Scenario], options: SessionOptions, report_json: Path | None
) -> int:
    # Here: the report's pydantic models cost ~25 ms that a dry run never needs.
    from harness.report.document import write_json_report

    run = RunResult(Environment(provider=options.cluster or "existing"))
    code = EXIT_OK
    try:
        with sigterm_as_interrupt():
            run_scenarios(scenarios, options, PrintObserver(sys.stderr), into=run)
    except KeyboardInterrupt:
        print(
            "interrupted: namespaces, port-forwards and cluster cleaned up as configured",
            file=sys.stderr,
        )
        code = EXIT_INTERRUPTED
    except DockerUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = EXIT_NO_DOCKER
    except HarnessError as exc:
        # The session's own work failed (cluster, tools, Gateway API, Istio, or deleting the
        # cluster): scenario failures never get here, the runner records them.
        print(f"error: {describe_error(exc)}", file=sys.stderr)
        code = EXIT_FAILED
    if run.scenarios:
        # Quiet on success: the tally; on failure, each failed probe, expected vs observed.
        failures = failure_summary(run)
        if failures:
            print(failures)
        # Model findings whether or not the run passed: they change no verdict, no exit code.
        findings = model_findings_summary(run)
        if findings:
            print(findings)
        print(summary_line(summarize(run)))
    if report_json is not None:
        write_json_report(run, report_json)
        print(f"report: {report_json}", file=sys.stderr)
    if code == EXIT_OK and any(s.verdict in ("fail", "error") for s in run.scenarios):
        code = EXIT_FAILED
    return code
