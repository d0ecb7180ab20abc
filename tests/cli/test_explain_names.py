"""`explain` takes scenarios as `plan` and `run` do (catalogue names, directories) and
`-o yaml` prints the JSON document YAML-dumped, key order kept."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from helpers import SCENARIOS

from harness.cli.exitcodes import EXIT_OK, EXIT_USAGE
from harness.cli.main import main


def _out(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["explain", *args]) == EXIT_OK, capsys.readouterr().err
    return capsys.readouterr().out


def _key_orders(value: Any) -> list[list[str]]:
    """Every mapping's keys, in order, depth first: the order JSON and YAML must share."""
    if isinstance(value, dict):
        return [list(value), *(o for v in value.values() for o in _key_orders(v))]
    if isinstance(value, list):
        return [o for v in value for o in _key_orders(v)]
    return []


def test_a_catalogue_name_is_explained_like_its_directory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    by_name = _out(capsys, "ambient-authz-l4")
    assert by_name.startswith("ambient-authz-l4 — ")
    assert by_name == _out(capsys, str(SCENARIOS / "ambient-authz-l4"))


def test_several_names_give_a_list(capsys: pytest.CaptureFixture[str]) -> None:
    docs = json.loads(_out(capsys, "ambient-authz-l4", "sidecar-authz-l4", "-o", "json"))
    assert [d["scenario"] for d in docs] == ["ambient-authz-l4", "sidecar-authz-l4"]


def test_yaml_is_the_json_document_in_the_same_key_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    as_json = json.loads(_out(capsys, "ambient-traffic-shift", "-o", "json"))
    as_yaml = yaml.safe_load(_out(capsys, "ambient-traffic-shift", "-o", "yaml"))
    assert as_yaml == as_json
    assert _key_orders(as_yaml) == _key_orders(as_json)
    assert list(as_yaml) == ["scenario", "dataplane", "steps"]


def test_an_unknown_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "ambient-no-such-scenario"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "ambient-no-such-scenario" in err and "file not found" not in err
