"""`ambient-harness explain SCENARIO... [-o text|json|yaml]`: what the mesh model predicts for
every probe of a scenario, and who decides (offline, no cluster).

Scenarios are named as `plan` and `run` take them (catalogue name, directory, scenario.yaml,
a directory of scenarios) and linted first, through the same `load_for_command`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from harness.cli.exitcodes import EXIT_OK, EXIT_USAGE


def explain_command(args: argparse.Namespace) -> int:
    # Imported here for start-up cost only (every import points down).
    import yaml

    from harness.cli.loading import load_for_command
    from harness.predict.explain import explain_dict, explain_text

    scenarios = load_for_command(list(args.scenarios))
    if scenarios is None:
        return EXIT_USAGE
    if args.output == "text":
        print("\n\n".join(explain_text(s) for s in scenarios))
    else:
        # One scenario: its document, as before; several: a list of them (as `plan`).
        docs = [explain_dict(s) for s in scenarios]
        data: Any = docs[0] if len(docs) == 1 else docs
        if args.output == "json":
            print(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            # Through JSON, as `plan -o yaml`: str enums become plain strings; key order kept.
            plain = json.loads(json.dumps(data))
            print(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True), end="")
    return EXIT_OK


def add_explain_parser(sub: Any) -> None:
    """Register `explain` on the main parser's subcommands."""
    p = sub.add_parser("explain", help="predict each probe's path, decider and outcome (offline)")
    p.add_argument(
        "scenarios",
        nargs="+",
        help="scenario names, scenario directories or scenario.yaml files, directories of them",
    )
    p.add_argument(
        "-o",
        "--output",
        choices=["text", "json", "yaml"],
        default="text",
        help="output format (default: text)",
    )
    p.set_defaults(handler=explain_command)
