"""docs/scenario-reference.md lists every field of the scenario model, and only those."""

from __future__ import annotations

import re

from helpers import REPO
from pydantic import BaseModel

from harness.model import scenario as m

SECTIONS: dict[str, type[BaseModel]] = {
    "Top level": m.Scenario,
    "namespaces": m.Namespace,
    "backends": m.Backend,
    "clients": m.Client,
    "waypoints": m.Waypoint,
    "steps": m.Step,
    "probes": m.Probe,
    "expect": m.Expect,
    "timing": m.Timing,
}


def documented_fields() -> dict[str, set[str]]:
    text = (REPO / "docs" / "scenario-reference.md").read_text(encoding="utf-8")
    out: dict[str, set[str]] = {}
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        heading, _, body = block.partition("\n")
        out[heading.strip()] = set(re.findall(r"^\| `([a-z0-9_]+)` \|", body, re.M))
    return out


def yaml_names(model: type[BaseModel]) -> set[str]:
    return {
        f.alias or name
        for name, f in model.model_fields.items()
        if not f.exclude  # set by the loader, never written in YAML
    }


def test_every_field_of_the_model_is_in_the_reference() -> None:
    docs = documented_fields()
    for heading, model in SECTIONS.items():
        # The expect section also has the outcome table; its rows are outcome words.
        listed = docs[heading] - ({"allowed", "unreachable"} if heading == "expect" else set())
        assert listed == yaml_names(model), heading
