"""Every ```yaml block of docs/scenario-reference.md is a real fragment of a scenario: its
top-level fields replace those of a minimal scenario, which the real loader must accept."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import REPO

from harness.model.scenario import load_scenario

REFERENCE = REPO / "docs" / "scenario-reference.md"
BLOCKS = re.findall(r"^```yaml\n(.*?)^```$", REFERENCE.read_text(encoding="utf-8"), re.M | re.S)
MANIFEST = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: example
  namespace: example
"""


def minimal() -> dict[str, Any]:
    return {
        "name": "example",
        "title": "t",
        "description": "d",
        "dataplane": "ambient",
        "namespaces": [{"name": "example"}],
        "backends": [{"service": "ratings"}, {"service": "reviews", "versions": ["v1", "v2"]}],
        "clients": [{"name": "productpage"}],
        "steps": [
            {
                "name": "s",
                "title": "t",
                "probes": [
                    {"from": "productpage", "url": "http://ratings:9080/", "expect": "allowed"}
                ],
            }
        ],
    }


def test_the_reference_has_an_example_per_field_group() -> None:
    fields = {key for block in BLOCKS for key in yaml.safe_load(block)}
    assert {"name", "namespaces", "backends", "clients", "waypoints", "steps"} <= fields
    text = "\n".join(BLOCKS)
    words = (
        "compare_with", "versions", "for:", "delete:", "gate:", "streak", "tolerance", "samples",
        "model_gap", "served_by", "backend_saw", "attempts", "hold", "denied-l7", "unreachable",
        "dataplane: none", "method:", "narrative",
    )  # fmt: skip
    for word in words:
        assert word in text, word


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_is_a_valid_fragment(index: int, tmp_path: Path) -> None:
    fragment = yaml.safe_load(BLOCKS[index])
    assert isinstance(fragment, dict) and fragment
    data = {**minimal(), **fragment}
    directory = tmp_path / str(data["name"])
    for step in data["steps"]:
        for rel in [*step.get("apply", []), *step.get("delete", [])]:
            (directory / rel).parent.mkdir(parents=True, exist_ok=True)
            (directory / rel).write_text(MANIFEST, encoding="utf-8")
    directory.mkdir(exist_ok=True)
    (directory / "scenario.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    load_scenario(directory)
