"""Importing the scenario model builds no validator: pydantic builds each model's schema on its
first use (`defer_build`), so a process that only imports it (the pytest plugin's reporting,
`ambient-harness report`, the JSON report's reader) never pays for the validators (~40 ms)."""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import REPO

PROBE = """
import json
from pathlib import Path
import harness.model.results
from harness.model import scenario

models = sorted(
    name for name, value in vars(scenario).items()
    if isinstance(value, type) and issubclass(value, scenario.Model) and value is not scenario.Model
)
built = lambda: [m for m in models if getattr(scenario, m).__pydantic_complete__]
after_import = built()
loaded = scenario.load_scenario(Path("scenarios/ambient-authz-l4/scenario.yaml"))
print(json.dumps({"models": models, "after_import": after_import,
                  "scenario_built": "Scenario" in built(), "name": loaded.name}))
"""


def test_importing_the_scenario_model_builds_no_validator_until_one_is_used() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "Scenario" in seen["models"] and "Probe" in seen["models"]
    assert {k: seen[k] for k in ("after_import", "scenario_built", "name")} == {
        "after_import": [],
        "scenario_built": True,
        "name": "ambient-authz-l4",
    }
