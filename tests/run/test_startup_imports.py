"""The offline commands never import the Kubernetes client stack (`kubernetes` ~0.45 s and
urllib3 ~0.04 s of start-up each time): only a path that talks to a cluster loads it. Nor
lint's process pool (~12 ms) for fewer files than lint forks for. And the CLI itself imports
no scenario model (pydantic) nor lint before a command needs them (~0.2 s): `--help`, a usage
error, `agent` answer at once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import fresh_python_json

# One fresh interpreter runs every command's code path in turn, so the first one that pulls
# the client in is named (any of them would leave it in sys.modules for the rest).
PROBE = """
import contextlib, io, json, sys
from harness.cli import main as cli

LATER = ("pydantic", "yaml", "harness.model.scenario", "harness.lint")
HEAVY = ("kubernetes", "urllib3", "multiprocessing", "concurrent.futures")
commands = json.loads(sys.argv[1])
seen = {"": {"rc": 0, "imported": [m for m in LATER + HEAVY if m in sys.modules]}}
for argv in commands:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if argv[0] == "pytest":
            import pytest
            code = int(pytest.main(argv[1:]))
        else:
            code = cli.main(argv)
    seen[" ".join(argv)] = {"rc": code, "imported": [m for m in HEAVY if m in sys.modules]}
print(json.dumps(seen))
"""

COMMANDS = [
    ["lint", "scenarios/ambient-authz-l4"],
    ["plan", "scenarios/ambient-authz-l4"],
    ["explain", "ambient-authz-l4"],
    ["schema"],
    ["report", "tests/fixtures/report.json"],
    ["demo", "--replay", "tests/fixtures/report.json"],
    ["run", "ambient-traffic-shift", "--dry-run"],
    ["pytest", "-p", "no:cacheprovider", "--collect-only", "-q", "scenarios/ambient-authz-l4"],
]


@pytest.fixture(scope="module")
def imported() -> dict[str, dict[str, Any]]:
    """What each command had imported when it returned (the key "": the CLI module alone)."""
    # The CRD directory: tests/conftest.py puts it in the environment every child inherits.
    seen: dict[str, dict[str, Any]] = fresh_python_json(PROBE, json.dumps(COMMANDS))
    return seen


def test_the_cli_imports_no_scenario_model_lint_or_cluster_client_at_start_up(
    imported: dict[str, dict[str, Any]],
) -> None:
    assert imported[""] == {"rc": 0, "imported": []}


def test_offline_commands_and_scenario_collection_never_import_the_kubernetes_client(
    imported: dict[str, dict[str, Any]],
) -> None:
    commands = {key: seen for key, seen in imported.items() if key}
    assert commands == {" ".join(argv): {"rc": 0, "imported": []} for argv in COMMANDS}
