"""`ambient-harness demo --replay REPORT`: re-narrate a recorded run offline.

The speaker's fallback when the venue network fails: the same screens as the live demo
(scenario, each step with its manifests, the probe table, the mental-model matrix), read from
a JSON report (`--report-json`), each screen marked as a replay of that run: when, where and
with which versions. Nothing is contacted: no cluster, no Docker, no network.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.text import Text

from harness.cli.demo import DemoObserver, talk_order
from harness.cli.exitcodes import EXIT_OK, EXIT_USAGE
from harness.judge.enforcement import attribute
from harness.model.results import RunResult, ScenarioResult
from harness.report.document import ReportError, load_json_report
from harness.report.words import environment_line

REPLAY_MARK = "⟲ REPLAY"


def replay_banner(run: RunResult) -> Text:
    """`⟲ REPLAY of 2026-06-10T09:00:00Z · kind-ambient-harness · Istio 1.30.3 · ...`: when,
    which cluster and which versions (the full environment closes the replay)."""
    env = run.environment
    parts = [run.started_at or "an unrecorded date", env.context or f"provider {env.provider}"]
    for label, value in (
        ("Istio", env.istio_version),
        ("Kubernetes", env.kubernetes_version),
        ("Gateway API", env.gateway_api_version),
    ):
        if value:
            parts.append(f"{label} {value}")
    return Text.assemble((f" {REPLAY_MARK} ", "bold reverse"), (" of " + " · ".join(parts), "bold"))


def _ordered(run: RunResult) -> list[ScenarioResult]:
    by_name = {s.name: s for s in run.scenarios}
    return [by_name[n] for n in talk_order(by_name)]


def replay_scenario(observer: DemoObserver, sc: ScenarioResult, banner: Text) -> None:
    observer.show_scenario(
        sc.name,
        sc.title,
        sc.description or "(the report does not record the description)",
        sc.references,
        sc.dataplane,
        banner=banner,
    )
    total = len(sc.steps)
    for number, st in enumerate(sc.steps, start=1):
        observer.show_step(
            number, total, st.title, st.narrative, st.manifests, st.deleted, banner=banner
        )
        if observer.interactive:
            observer.pause(f"press Enter to show step {number}/{total}: {st.title}")
        # Scenario namespaces start with the scenario's name; the first is the name itself.
        observer.show_results(st, lambda p: attribute(sc.dataplane, p, p.waypoint), sc.name)
    observer.scenario_finished(sc)


def replay(run: RunResult, observer: DemoObserver) -> None:
    """Every recorded scenario in the talk's order, then the matrix and the tally."""
    banner = replay_banner(run)
    ordered = _ordered(run)
    for sc in ordered:
        replay_scenario(observer, sc, banner)
    observer.console.print()
    observer.console.print(banner)
    observer.console.print(Text(environment_line(run.environment), style="dim"))
    observer.finish(RunResult(run.environment, ordered, run.started_at, run.finished_at))


def replay_command(args: argparse.Namespace) -> int:
    """`demo --replay REPORT [--interactive]`; exit 2 when the report cannot be read."""
    try:
        run = load_json_report(Path(args.replay))
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not run.scenarios:
        print(f"error: {args.replay}: the report records no scenario", file=sys.stderr)
        return EXIT_USAGE
    replay(run, DemoObserver(interactive=bool(getattr(args, "interactive", False))))
    return EXIT_OK
