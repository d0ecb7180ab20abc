"""`ambient-harness demo`: the talk, live. Each scenario is narrated step by step.

For every step the speaker sees the manifests being applied, then a table of the probes: who
called whom, what was expected, what the mesh did, and which component enforced it. At the
end, the *mental-model matrix* puts each sidecar scenario beside its ambient twin: the same
policy, a different enforcement point.

`DemoObserver` only renders what the runner reports (harness/run/events.py), so it is tested from
constructed results; `demo_command` checks Docker before anything slow happens.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final, TextIO

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.status import Status
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from harness.cli.demo_tables import (
    INFERENCE_NOTE,
    STYLE,
    Attributor,
    longest_word,
    marked,
    probe_table,
)
from harness.cli.exitcodes import EXIT_FAILED, EXIT_NO_DOCKER, EXIT_USAGE
from harness.cli.options import session_options
from harness.errors import HarnessError
from harness.judge.enforcement import attribute, scenario_attribution
from harness.model.results import Environment, ProbeResult, RunResult, ScenarioResult, StepResult
from harness.model.scenario import Scenario, Step
from harness.report.comparison import comparison_rows, pair_scenarios
from harness.report.document import write_json_report
from harness.report.summary import failure_summary, summarize, summary_line
from harness.report.words import (
    SYMBOL,
    describe_observed,
    environment_line,
    seconds,
    steps_passed,
)
from harness.run.events import RunObserver

# The order in which the talk tells the story; scenarios not listed follow alphabetically.
TALK_ORDER: Final = (
    "sidecar-authz-l4",
    "ambient-authz-l4",
    "sidecar-authz-l7",
    "ambient-authz-l7-no-waypoint",
    "ambient-authz-l7-waypoint",
    "sidecar-fault-vs-authz",
    "ambient-fault-vs-authz",
    "sidecar-traffic-shift",
    "ambient-traffic-shift",
    "ambient-routing-header",
    "ambient-tcproute",
    "ambient-mtls-strict",
    "ambient-l7-features",
)
VERDICT_WORD: Final = {"pass": "passed", "fail": "failed", "skipped": "skipped", "error": "error"}


def _paragraphs(text: str) -> str:
    """YAML block text keeps its line breaks; let the terminal wrap paragraphs instead."""
    blocks = [" ".join(b.split()) for b in text.strip().split("\n\n")]
    return "\n\n".join(b for b in blocks if b)


def _step_number(scenario: Scenario, step: Step) -> int:
    for i, s in enumerate(scenario.steps, start=1):
        if s.name == step.name:
            return i
    return 0


class DemoObserver(RunObserver):
    """Narrates a run on a rich console; `stream` answers the --interactive pauses."""

    def __init__(
        self,
        console: Console | None = None,
        *,
        interactive: bool = False,
        stream: TextIO | None = None,
    ) -> None:
        self.console = console if console is not None else Console()
        self.interactive = interactive
        self.stream: TextIO = stream if stream is not None else sys.stdin
        self.scenarios: dict[str, Scenario] = {}
        self.results: list[ScenarioResult] = []
        self._status: Status | None = None
        self._probes_done = 0

    # --- progress -------------------------------------------------------------------------

    def _spin(self, message: str) -> None:
        """A spinner on a terminal; nothing in a log (the outcome line follows anyway)."""
        self.stop_progress()
        if self.console.is_terminal:
            self._status = self.console.status(Text(message))
            self._status.start()

    def stop_progress(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def phase(self, message: str) -> None:
        if self.console.is_terminal:
            self._spin(f"{message} …")
        else:
            self.console.print(Text.assemble(("▸ ", "cyan"), message, " …"))

    def phase_done(self, message: str, elapsed_s: float) -> None:
        self.stop_progress()
        self.console.print(
            Text.assemble(("✔ ", "green"), message, (f" ({elapsed_s:.1f} s)", "dim"))
        )

    # --- scenarios and steps ----------------------------------------------------------------

    def scenario_started(self, scenario: Scenario) -> None:
        self.stop_progress()
        self.scenarios[scenario.name] = scenario
        self.show_scenario(
            scenario.name,
            scenario.title,
            scenario.description,
            scenario.references,
            scenario.dataplane,
        )

    def show_scenario(
        self,
        name: str,
        title: str,
        description: str,
        references: Sequence[str],
        dataplane: str,
        *,
        banner: Text | None = None,
    ) -> None:
        """The scenario's screen: its title, description and references."""
        self.console.print()
        if banner is not None:
            self.console.print(banner)
        self.console.rule(Text(title, style="bold"))
        body: list[RenderableType] = [Text(_paragraphs(description))]
        if references:
            refs = Text("\n".join(f"• {r}" for r in references), style="dim")
            body += [Text(""), refs]
        self.console.print(
            Panel(
                Group(*body),
                title=Text(name, style="bold"),
                title_align="left",
                subtitle=Text(f"{dataplane} data plane"),
                subtitle_align="right",
                box=box.ROUNDED,
            )
        )

    def step_started(self, scenario: Scenario, step: Step, manifests: dict[str, str]) -> None:
        self.stop_progress()
        number, total = _step_number(scenario, step), len(scenario.steps)
        self.show_step(number, total, step.title, step.narrative, manifests, step.delete)
        if self.interactive:
            self.pause(f"press Enter to run step {number}/{total}: {step.title}")
        self._probes_done = 0
        self._spin(f"step {number}/{total}: applying and probing …")

    def show_step(
        self,
        number: int,
        total: int,
        title: str,
        narrative: str | None,
        manifests: Mapping[str, str],
        deleted: Sequence[str],
        *,
        banner: Text | None = None,
    ) -> None:
        """A step's screen, up to its probes: the title, the narrative, each manifest."""
        self.console.print()
        if banner is not None:
            self.console.print(banner)
        self.console.print(Text.assemble((f"Step {number}/{total} ", "bold cyan"), (title, "bold")))
        if narrative:
            self.console.print(Text(_paragraphs(narrative), style="italic"))
        for path, text in manifests.items():
            verb = "delete" if path in deleted else "apply"
            self.console.print(
                Panel(
                    Syntax(text.rstrip("\n"), "yaml", theme="ansi_dark", word_wrap=True),
                    title=Text(f"{verb} {path}"),
                    title_align="left",
                    box=box.ROUNDED,
                )
            )

    def pause(self, prompt: str) -> None:
        self.console.print(Text(f"⏸  {prompt} ", style="bold yellow"), end="")
        line = self.stream.readline()
        if not self.stream.isatty():
            self.console.print()  # nobody typed the newline on screen
        if line == "":
            # End of input (e.g. stdin closed): carry on rather than spin on an empty stream.
            self.interactive = False
            self.console.print(Text("(no more input: continuing without pauses)", style="dim"))

    def probe_finished(self, scenario: Scenario, step: Step, result: ProbeResult) -> None:
        self._probes_done += 1
        if self._status is not None:
            mark = SYMBOL[result.verdict]
            self._status.update(
                Text(f"probed {self._probes_done}/{len(step.probes)}: {result.client} {mark}")
            )

    def step_finished(self, scenario: Scenario, result: StepResult) -> None:
        self.stop_progress()
        self.show_results(result, lambda p: scenario_attribution(scenario, p), scenario.namespace)

    def show_results(
        self, result: StepResult, attribution: Attributor, home: str | None = None
    ) -> None:
        """The probe table of a step, each failure's message, and the step's error."""
        if result.skipped_reason:
            self.console.print(Text(result.skipped_reason, style="dim"))
        elif result.probes:
            self.console.print(probe_table(result.probes, attribution, home))
        for p in result.probes:
            if p.verdict != "pass" and p.message:
                self.console.print(Text(f"{p.client}: {p.message}", style="red"))
        if result.error:
            self.console.print(Text(f"step error: {result.error}", style="bold red"))

    def scenario_finished(self, result: ScenarioResult) -> None:
        self.stop_progress()
        self.results.append(result)
        verdict = result.verdict
        line = Text.assemble(
            (f"{SYMBOL[verdict]} {result.name} {VERDICT_WORD[verdict]}", f"bold {STYLE[verdict]}"),
            f" ({steps_passed(result)} steps, {seconds(result.duration_s)})",
        )
        self.console.print(line)
        for reason in (result.skipped_reason, result.error):
            if reason:
                self.console.print(Text(reason, style=STYLE[verdict]))

    # --- the end ----------------------------------------------------------------------------

    def enforcement(self, result: ScenarioResult, probe: ProbeResult) -> str:
        scenario = self.scenarios.get(result.name)
        if scenario is not None:
            return marked(scenario_attribution(scenario, probe))
        return marked(attribute(result.dataplane, probe, probe.waypoint))

    def render_matrix(self, results: Sequence[ScenarioResult] | None = None) -> None:
        """Sidecar and ambient twins side by side: same policy, different enforcement point."""
        pairs = pair_scenarios(self.results if results is None else results)
        if not pairs:
            return
        self.console.print()
        self.console.rule(Text("The mental model: same policy, different enforcement point"))
        for pair in pairs:
            table = Table(
                title=Text(f"{pair.topic}: {pair.sidecar.name} vs {pair.ambient.name}"),
                box=box.SIMPLE_HEAVY,
                show_lines=True,
                show_edge=False,
                expand=True,
                caption=Text(INFERENCE_NOTE, style="dim"),
                caption_justify="right",
            )
            rows = comparison_rows(pair)
            table.add_column(
                "step: client → destination",
                ratio=4,
                overflow="fold",
                width=longest_word([r.target for r in rows]),
            )
            table.add_column("sidecar", ratio=5)
            table.add_column("ambient", ratio=5)
            for row in rows:
                table.add_row(
                    Text.assemble((row.step, "dim"), "\n", row.target),
                    self._matrix_cell(pair.sidecar, row.sidecar),
                    self._matrix_cell(pair.ambient, row.ambient),
                )
            self.console.print(table)

    def _matrix_cell(self, result: ScenarioResult, probe: ProbeResult | None) -> Text:
        if probe is None:
            return Text("—", style="dim")
        return Text.assemble(
            describe_observed(probe), "\n", ("→ " + self.enforcement(result, probe), "cyan")
        )

    def finish(self, run: RunResult) -> None:
        """The matrix, the tally and, if anything failed, expected vs observed."""
        self.stop_progress()
        self.render_matrix(run.scenarios or self.results)
        s = summarize(run)
        self.console.print()
        style = "bold green" if s.failed == s.errors == 0 else "bold red"
        self.console.print(Text(summary_line(s), style=style))
        self.console.print(Text(environment_line(run.environment), style="dim"))
        failures = failure_summary(run)
        if failures:
            self.console.print(Text(failures))


# --- the command ------------------------------------------------------------------------------


class DemoError(HarnessError):
    """A problem with the demo's input (unknown scenario names, a broken scenario)."""


def talk_order(names: Iterable[str]) -> list[str]:
    """The talk's order first, then any other scenario alphabetically."""
    known = set(names)
    first = [n for n in TALK_ORDER if n in known]
    return first + sorted(known - set(first))


def catalogue_dir() -> Path:
    """./scenarios when run from a checkout, else the one beside the package."""
    here = Path("scenarios")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[2] / "scenarios"


def select_scenarios(directory: Path, wanted: Sequence[str] | None) -> list[Scenario]:
    """Load the catalogue in talk order, only `wanted` (names) when given."""
    from harness.model.scenario import SCENARIO_FILE, load_scenario
    from harness.model.source import SourceError

    available = {p.name: p for p in directory.iterdir() if (p / SCENARIO_FILE).is_file()}
    if wanted:
        unknown = [w for w in wanted if w not in available]
        if unknown:
            raise DemoError(
                f"unknown scenario(s): {', '.join(unknown)}; "
                f"available: {', '.join(talk_order(available))}"
            )
    names = talk_order(wanted if wanted else available)
    scenarios = []
    for name in names:
        try:
            scenarios.append(load_scenario(available[name]))
        except SourceError as exc:
            raise DemoError("\n".join(str(p) for p in exc.problems)) from None
    if not scenarios:
        raise DemoError(f"no scenarios found in {directory}")
    return scenarios


def needs_docker(args: argparse.Namespace) -> bool:
    """kind needs Docker; an existing cluster (--cluster existing, a context or kubeconfig) not."""
    if getattr(args, "kube_context", None) or getattr(args, "kubeconfig", None):
        return False
    return getattr(args, "cluster", "kind") in (None, "kind")


def docker_problem() -> str | None:
    """Why Docker cannot be used, or None; answers within seconds (see cluster.check_docker)."""
    from harness.host.docker import DockerUnavailable, check_docker

    try:
        check_docker()
    except DockerUnavailable as exc:
        return str(exc)
    return None


def no_docker_message(problem: str, wanted: Sequence[str] | None) -> str:
    example = wanted[0] if wanted else "ambient-authz-l4"
    # cluster.check_docker ends with a generic "without a cluster" hint; ours is more specific.
    problem = problem.split(" Without a cluster,", 1)[0]
    why = "" if "container" in problem else " (kind runs the cluster's nodes as containers)"
    return "\n".join(
        [
            f"error: `ambient-harness demo` needs a running Docker engine{why}.",
            textwrap.fill(problem, width=96, initial_indent="  ", subsequent_indent="  "),
            "",
            "Without Docker you can still follow the talk offline:",
            f"  ambient-harness plan scenarios/{example}    what the scenario does, step by step",
            "  ambient-harness run --dry-run    every action of a run, touching nothing",
            "With a cluster you already have (no Docker needed):",
            "  ambient-harness demo --cluster existing --kube-context CONTEXT",
        ]
    )


def _cluster_mode(args: argparse.Namespace) -> argparse.Namespace:
    """`demo --kube-context X` means an existing cluster even though the default is kind."""
    if not needs_docker(args) and getattr(args, "cluster", None) == "kind":
        args = argparse.Namespace(**{**vars(args), "cluster": "existing"})
    return args


def demo_command(args: argparse.Namespace) -> int:
    wanted = getattr(args, "scenario", None)
    # Docker first: before any download, cluster or scenario work, so a missing engine is
    # reported within seconds instead of after minutes of set-up.
    if needs_docker(args):
        problem = docker_problem()
        if problem is not None:
            print(no_docker_message(problem, wanted), file=sys.stderr)
            return EXIT_NO_DOCKER
    args = _cluster_mode(args)
    try:
        scenarios = select_scenarios(catalogue_dir(), wanted)
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    observer = DemoObserver(interactive=bool(getattr(args, "interactive", False)))
    from harness.host.cluster import ClusterError
    from harness.host.docker import DockerUnavailable
    from harness.run.session import run_scenarios

    run = RunResult(Environment(provider="none"))
    try:
        run_scenarios(scenarios, session_options(args), observer, into=run)
    except KeyboardInterrupt:
        # Show what ran so far (the matrix of the finished pairs); the CLI reports the ^C.
        observer.finish(run)
        _write_report(run, args)
        raise
    except DockerUnavailable as exc:
        observer.stop_progress()
        print(no_docker_message(str(exc), wanted), file=sys.stderr)
        return EXIT_NO_DOCKER
    except ClusterError as exc:
        observer.stop_progress()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    observer.finish(run)
    _write_report(run, args)
    return 0 if all(s.verdict in ("pass", "skipped") for s in run.scenarios) else EXIT_FAILED


def _write_report(run: RunResult, args: argparse.Namespace) -> None:
    """`--report-json`: the recording `demo --replay` re-narrates (record at the rehearsal)."""
    path = getattr(args, "report_json", None)
    if path is not None:
        write_json_report(run, Path(path))
        print(f"report: {path} (replay it with `ambient-harness demo --replay {path}`)")
