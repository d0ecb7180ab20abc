"""The scenario JSON Schema for editors: generated from the model, shipped as generated, and
accepting what the loader accepts on the catalogue (and refusing a typo the loader refuses)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers import SCENARIOS

from harness.cli.main import main
from harness.model.json_schema import SCHEMA_FILE, render, scenario_json_schema

# jsonschema (~90 ms of imports with referencing and attrs) is imported by the tests that
# validate: every pytest-xdist worker imports this module, few run those tests.


def test_the_shipped_schema_is_the_generated_one() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render(), (
        "regenerate: python -m harness.model.json_schema"
    )


def test_the_schema_command_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    # In this process: `python -m harness` is run as a subprocess by tests/report/test_plan.
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == scenario_json_schema()


CATALOGUE = sorted(SCENARIOS.glob("*/scenario.yaml"))


class EditorSchema:
    """`jsonschema.validate(instance, scenario_json_schema())` (same validator class, same
    error raised), with the schema generated and checked against its meta-schema once."""

    def __init__(self) -> None:
        import jsonschema

        schema = scenario_json_schema()
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        self.validator = cls(schema)

    def validate(self, instance: object) -> None:
        import jsonschema

        error = jsonschema.exceptions.best_match(self.validator.iter_errors(instance))
        if error is not None:
            raise error


@pytest.fixture(scope="module")
def editor_schema() -> EditorSchema:
    return EditorSchema()


@pytest.mark.parametrize("path", CATALOGUE, ids=[p.parent.name for p in CATALOGUE])
def test_every_catalogue_scenario_is_valid_for_the_editor(
    path: Path, editor_schema: EditorSchema
) -> None:
    editor_schema.validate(yaml.safe_load(path.read_text()))


def test_an_unknown_field_and_the_outcome_shorthand(editor_schema: EditorSchema) -> None:
    data = yaml.safe_load((SCENARIOS / "ambient-authz-l4" / "scenario.yaml").read_text())
    probe = data["steps"][1]["probes"][1]
    assert probe["expect"] == "denied-l4"  # the shorthand is accepted (validated above)
    probe["expcet"] = probe.pop("expect")
    import jsonschema

    with pytest.raises(jsonschema.ValidationError, match="expcet"):
        editor_schema.validate(data)
