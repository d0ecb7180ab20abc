"""The offline commands never import the Kubernetes client stack (`kubernetes` ~0.45 s and
urllib3 ~0.04 s of start-up each time): only a path that talks to a cluster loads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import CRDS, REPO

# One fresh interpreter runs every command's code path in turn, so the first one that pulls
# the client in is named (any of them would leave it in sys.modules for the rest).
PROBE = """
import contextlib, io, json, sys
from harness.cli import main as cli

HEAVY = ("kubernetes", "urllib3")
commands = json.loads(sys.argv[1])
seen = {}
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


def test_offline_commands_and_scenario_collection_never_import_the_kubernetes_client() -> None:
    env = {**os.environ, "AMBIENT_HARNESS_CRD_DIR": str(CRDS)}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(COMMANDS)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {" ".join(argv): {"rc": 0, "imported": []} for argv in COMMANDS}
