"""`ambient-harness demo --replay REPORT`: re-narrate a recorded run offline.

The speaker's fallback when the venue network fails: the same screens as the live demo
(scenario, each step with its manifests, the probe table, the mental-model matrix), read from
a JSON report (`--report-json`), each screen marked as a replay of that run: when, where and
with which versions. Nothing is contacted: no cluster, no Docker, no network.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from rich.text import Text

from harness.cli.demo import DemoObserver, observer_for, save_cast, talk_order
from harness.cli.demo_style import style
from harness.cli.exitcodes import EXIT_OK, EXIT_USAGE
from harness.judge.enforcement import attribute
from harness.model.results import RunResult, ScenarioResult
from harness.report.document import ReportError, load_json_report

REPLAY_MARK = "⟲ REPLAY"


def replay_banner(run: RunResult, width: int = 100) -> Text:
    """`⟲ REPLAY of 2026-06-10T09:00:00Z · kind-ambient-harness · Istio 1.30.3 · ...`: when,
    which cluster and as many of the versions as one line of `width` holds (the full
    environment closes the replay)."""
    env = run.environment
    parts = [run.started_at or "an unrecorded date", env.context or f"provider {env.provider}"]
    mark = f" {REPLAY_MARK} "
    for label, value in (
        ("Istio", env.istio_version),
        ("Kubernetes", env.kubernetes_version),
        ("Gateway API", env.gateway_api_version),
    ):
        if value and len(mark + " of " + " · ".join([*parts, f"{label} {value}"])) <= width:
            parts.append(f"{label} {value}")
    return Text.assemble((mark, style("banner")), (" of " + " · ".join(parts), style("title")))


def _ordered(run: RunResult) -> list[ScenarioResult]:
    by_name = {s.name: s for s in run.scenarios}
    return [by_name[n] for n in talk_order(by_name)]


def replay_scenario(observer: DemoObserver, sc: ScenarioResult) -> None:
    observer.show_scenario(
        sc.name,
        sc.title,
        sc.description or "(the report does not record the description)",
        sc.references,
        sc.dataplane,
    )
    total = len(sc.steps)
    for number, st in enumerate(sc.steps, start=1):
        observer.show_step(number, total, st.title, st.narrative, st.manifests, st.deleted)
        observer.writer.boundary(f"show step {number}/{total}: {st.title}")
        observer.open_results(number, total, st.title)
        # Scenario namespaces start with the scenario's name; the first is the name itself.
        observer.show_results(st, lambda p: attribute(sc.dataplane, p, p.waypoint), sc.name)
    observer.scenario_finished(sc)


def replay(run: RunResult, observer: DemoObserver) -> None:
    """Every recorded scenario in the talk's order, then the matrix and the tally; every
    screen opens with the replay's banner."""
    observer.banner = replay_banner(run, observer.console.width)
    ordered = _ordered(run)
    for sc in ordered:
        replay_scenario(observer, sc)
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
    wanted = getattr(args, "scenario", None)
    if wanted:
        recorded = {s.name for s in run.scenarios}
        unknown = [w for w in wanted if w not in recorded]
        if unknown:
            print(
                f"error: {args.replay} does not record scenario(s) {', '.join(unknown)}; "
                f"it records: {', '.join(talk_order(recorded))}",
                file=sys.stderr,
            )
            return EXIT_USAGE
        run = dataclasses.replace(run, scenarios=[s for s in run.scenarios if s.name in wanted])
    observer, cast = observer_for(args)
    replay(run, observer)
    when = run.started_at or "an unrecorded date"
    save_cast(cast, observer, args, f"ambient-harness demo --replay (run of {when})")
    return EXIT_OK
