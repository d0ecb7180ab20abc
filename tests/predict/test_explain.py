"""`ambient-harness explain`: golden text and JSON for every catalogue scenario, the JSON
shape of the issue, and a bad scenario reported as usage error.

Regenerate the golden files after an intended change of the model or its wording with
`AMBIENT_HARNESS_UPDATE_GOLDEN=1 pytest tests/predict/test_explain.py` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import SCENARIOS, shipped_catalogue

from harness.cli.exitcodes import EXIT_OK, EXIT_USAGE
from harness.cli.main import main

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "explain"
UPDATE = os.environ.get("AMBIENT_HARNESS_UPDATE_GOLDEN") == "1"
CATALOGUE = [p.name for p in shipped_catalogue(SCENARIOS)]
PREDICTED_KEYS = {
    "outcome", "status", "served_by", "split", "l7", "attempts", "headers", "backend_saw",
    "path", "enforced_by", "because",
}  # fmt: skip


def _explain(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["explain", *args]) == EXIT_OK
    return capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("name", CATALOGUE)
def test_golden(name: str, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = _explain(capsys, str(SCENARIOS / name), "-o", fmt)
    golden = GOLDEN / f"{name}.{'txt' if fmt == 'text' else 'json'}"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(out, encoding="utf-8")
    assert out == golden.read_text(encoding="utf-8"), (
        f"explain {name} -o {fmt} changed; if intended, regenerate with "
        "AMBIENT_HARNESS_UPDATE_GOLDEN=1"
    )


def test_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(_explain(capsys, str(SCENARIOS / "ambient-traffic-shift"), "-o", "json"))
    assert doc["scenario"] == "ambient-traffic-shift"
    assert [s["name"] for s in doc["steps"]] == ["weighted-90-10", "weighted-50-50", "all-to-v2"]
    first = doc["steps"][0]["probes"][0]
    assert {"from", "method", "url", "headers", "expect", "predicted"} <= set(first)
    assert first["expect"] == {"split": {"v1": 90.0, "v2": 10.0}, "l7": True, "tolerance": 5.0}
    predicted = first["predicted"]
    assert set(predicted) <= PREDICTED_KEYS
    assert predicted["split"] == {"v1": 90.0, "v2": 10.0}
    assert "served_by" not in predicted  # keys absent when they do not apply
    assert predicted["headers"] == {"x-route": "reviews-90-10"}
    assert predicted["enforced_by"] == "waypoint ambient-traffic-shift/waypoint"
    last = doc["steps"][2]["probes"][0]["predicted"]
    assert (last["served_by"], "split" in last) == ("reviews-v2", False)


def test_a_denial_has_no_backend_keys(capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(_explain(capsys, str(SCENARIOS / "ambient-authz-l4"), "-o", "json"))
    denied = doc["steps"][1]["probes"][1]["predicted"]
    assert denied["outcome"] == "denied-l4"
    assert not {"status", "served_by", "l7", "attempts"} & set(denied)
    assert denied["enforced_by"] == "destination ztunnel"
    assert "ratings-allow-productpage" in denied["because"]


def test_a_bad_scenario_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "scenario.yaml"
    bad.write_text("name: x\n", encoding="utf-8")
    assert main(["explain", str(bad)]) == EXIT_USAGE
    assert "required field missing" in capsys.readouterr().err
