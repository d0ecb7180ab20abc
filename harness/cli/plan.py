"""`ambient-harness plan SCENARIO... [-o text|json|yaml]`: what a run would do, offline.

A scenario is named by its directory, its scenario.yaml, a directory of scenarios, or its
name in the catalogue (as `demo --scenario` takes it). Lint runs first: a plan of a scenario
lint rejects would describe something the cluster would not do.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml

from harness.cli.exitcodes import EXIT_OK, EXIT_USAGE
from harness.cli.loading import load_for_command
from harness.report.plan import plan_dict, plan_text


def plan_command(args: argparse.Namespace) -> int:
    scenarios = load_for_command(list(args.scenarios))
    if scenarios is None:
        return EXIT_USAGE
    if args.output == "text":
        print("\n\n".join(plan_text(s) for s in scenarios))
        return EXIT_OK
    # One scenario: its plan, as before; several: a list of them.
    plans = [plan_dict(s) for s in scenarios]
    data: Any = plans[0] if len(plans) == 1 else plans
    if args.output == "json":
        print(json.dumps(data, indent=2))
    else:
        # Through JSON: the plan holds str enums (outcome words), plain strings in YAML.
        plain = json.loads(json.dumps(data))
        print(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True), end="")
    return EXIT_OK
