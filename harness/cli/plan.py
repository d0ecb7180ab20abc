"""`ambient-harness plan SCENARIO... [-o text|json|yaml]`: what a run would do, offline.

A scenario is named by its directory, its scenario.yaml, a directory of scenarios, or its
name in the catalogue (as `demo --scenario` takes it). Lint runs first: a plan of a scenario
lint rejects would describe something the cluster would not do.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from harness.cli.exitcodes import EXIT_OK, EXIT_USAGE
from harness.errors import HarnessError
from harness.lint import LintFailed
from harness.model.source import SourceError
from harness.report.plan import plan_dict, plan_text
from harness.run.scenarios import load_scenarios


def plan_command(args: argparse.Namespace) -> int:
    try:
        scenarios = load_scenarios(list(args.scenarios))
    except (SourceError, LintFailed) as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
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
