"""The JSON Schema of scenario.yaml, generated from the scenario model, for editors.

`ambient-harness schema` prints it; the package ships it as `scenario.schema.json` (regenerate
with `python -m harness.model.json_schema`). With the YAML language server (VS Code's YAML
extension), a first line `# yaml-language-server: $schema=<path>` completes and checks a
scenario as it is typed. Lint remains the authority: cross-references, files and the mesh
model are beyond a schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from harness.model.outcome import OUTCOMES
from harness.model.scenario import Scenario

SCHEMA_FILE: Final = Path(__file__).with_name("scenario.schema.json")


def scenario_json_schema() -> dict[str, Any]:
    schema = Scenario.model_json_schema(by_alias=True)
    schema["properties"].pop("directory", None)  # set by the loader, never written in YAML
    defs = schema["$defs"]
    # `expect: denied-l4` is short for `expect: {outcome: denied-l4}`.
    defs["Expect"] = {
        "anyOf": [defs["Expect"], {"type": "string", "enum": [str(o) for o in OUTCOMES]}],
        "description": defs["Expect"].get("description", ""),
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "ambient-harness scenario (scenario.yaml)",
    }


def render() -> str:
    return json.dumps(scenario_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(render(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")
