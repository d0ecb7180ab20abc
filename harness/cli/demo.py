"""`ambient-harness demo`: the talk, live. Each scenario is narrated step by step, a screen at
a time (harness/cli/demo_observer.py); `demo_command` checks Docker before anything slow
happens.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Final, TextIO

from harness.cli.demo_cast import CastRecorder
from harness.cli.demo_observer import DemoObserver
from harness.cli.exitcodes import EXIT_FAILED, EXIT_NO_DOCKER, EXIT_USAGE
from harness.cli.options import session_options
from harness.errors import HarnessError
from harness.model.results import Environment, RunResult
from harness.model.scenario import Scenario
from harness.report.document import write_json_report

__all__ = ["TALK_ORDER", "DemoError", "DemoObserver", "demo_command", "talk_order"]

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
    from harness.model.files import SCENARIO_FILE
    from harness.model.scenario import load_scenario
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
            "  ambient-harness demo --cluster existing --context CONTEXT",
        ]
    )


def _cluster_mode(args: argparse.Namespace) -> argparse.Namespace:
    """`demo --context X` means an existing cluster even though the default is kind."""
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
    observer, cast = observer_for(args)
    title = "ambient-harness demo"
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
        save_cast(cast, observer, args, title)
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
    save_cast(cast, observer, args, title)
    return 0 if all(s.verdict in ("pass", "skipped") for s in run.scenarios) else EXIT_FAILED


def _write_report(run: RunResult, args: argparse.Namespace) -> None:
    """`--report-json`: the recording `demo --replay` re-narrates (record at the rehearsal)."""
    path = getattr(args, "report_json", None)
    if path is not None:
        write_json_report(run, Path(path))
        print(f"report: {path} (replay it with `ambient-harness demo --replay {path}`)")


def observer_for(
    args: argparse.Namespace,
    *,
    out: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[DemoObserver, CastRecorder | None]:
    """The narration as the options ask: colours, screen size, pauses, and a recorder between
    the console and the terminal for `--cast`."""
    from harness.cli.demo_style import demo_console

    out = out if out is not None else sys.stdout
    cast = CastRecorder(out, clock) if getattr(args, "cast", None) is not None else None
    console = demo_console(
        cast if cast is not None else out,  # type: ignore[arg-type]
        color=getattr(args, "color", "auto"),
        width=getattr(args, "width", None),
        height=getattr(args, "height", None),
    )
    interactive = bool(getattr(args, "interactive", False))
    observer = DemoObserver(
        console,
        interactive=interactive,
        height=getattr(args, "height", None),
        on_boundary=cast.pause if cast is not None and not interactive else None,
    )
    return observer, cast


def save_cast(
    cast: CastRecorder | None,
    observer: DemoObserver,
    args: argparse.Namespace,
    title: str,
    now: Callable[[], float] = time.time,
) -> None:
    if cast is None:
        return
    path = Path(args.cast)
    cast.save(
        path,
        width=observer.console.width,
        height=observer.writer.height,
        title=title,
        timestamp=int(now()),
    )
    print(f"cast: {path} (play it with `asciinema play {path}`)", file=sys.stderr)
