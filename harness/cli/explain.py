"""`ambient-harness explain SCENARIO [-o text|json]`: what the mesh model predicts for every
probe of a scenario, and who decides (offline, no cluster)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.cli.exitcodes import EXIT_OK, EXIT_USAGE


def explain_command(args: argparse.Namespace) -> int:
    # Imported here for start-up cost only (every import points down).
    from harness.model.scenario import load_scenario
    from harness.model.source import SourceError
    from harness.predict.explain import explain_json, explain_text

    try:
        scenario = load_scenario(args.scenario)
        out = explain_json(scenario) if args.output == "json" else explain_text(scenario)
    except SourceError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        return EXIT_USAGE
    print(out)
    return EXIT_OK


def add_explain_parser(sub: Any) -> None:
    """Register `explain` on the main parser's subcommands."""
    p = sub.add_parser("explain", help="predict each probe's path, decider and outcome (offline)")
    p.add_argument("scenario", type=Path, help="scenario directory or scenario.yaml")
    p.add_argument("-o", "--output", choices=["text", "json"], default="text")
    p.set_defaults(handler=explain_command)
