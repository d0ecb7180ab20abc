"""The scenarios a command was given, loaded and linted, with every problem printed."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from harness.errors import HarnessError
from harness.lint import LintFailed
from harness.model.scenario import Scenario
from harness.model.source import SourceError
from harness.run.scenarios import load_scenarios


def load_for_command(names: Sequence[str | Path]) -> list[Scenario] | None:
    """Catalogue names, directories or files -> scenarios; None once every problem that
    stops them (file:line messages, or one error) is on stderr: the caller exits 2."""
    try:
        return load_scenarios(list(names))
    except (SourceError, LintFailed) as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
    return None
