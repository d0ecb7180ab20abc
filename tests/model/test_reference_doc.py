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


def readme_fields() -> dict[str, set[str]]:
    """The README's field table: one row per section, its fields in backquotes."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text[text.index("### Field reference") :].split("\n\n")[2]
    rows: dict[str, set[str]] = {}
    for line in table.splitlines()[2:]:
        section, fields = line.strip("|").split("|", 1)
        head = section.strip().strip("`").removesuffix("[]")
        rows[head] = set(re.findall(r"`([a-z0-9_]+)`", fields))
    return rows


README_SECTION = {
    "top level": m.Scenario,
    "namespaces": m.Namespace,
    "backends": m.Backend,
    "clients": m.Client,
    "waypoints": m.Waypoint,
    "steps": m.Step,
    "probes": m.Probe,
    "expect": m.Expect,
    "timing": m.Timing,
}


def test_the_readme_table_names_every_field() -> None:
    rows = readme_fields()
    assert set(rows) == set(README_SECTION)
    for section, model in README_SECTION.items():
        # Values quoted beside a field (defaults, enum words) are not fields.
        assert yaml_names(model) <= rows[section], section
        assert rows[section] - yaml_names(model) <= VALUE_WORDS, section


VALUE_WORDS = {"ambient", "sidecar", "none", "v1", "waypoint", "service", "allowed", "unreachable"}


def test_every_field_of_the_model_is_in_the_reference() -> None:
    docs = documented_fields()
    for heading, model in SECTIONS.items():
        # The expect section also has the outcome table; its rows are outcome words.
        listed = docs[heading] - ({"allowed", "unreachable"} if heading == "expect" else set())
        assert listed == yaml_names(model), heading
