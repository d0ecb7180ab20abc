"""Older JSON reports, migrated on load to the current shape, one version at a time, so
`ambient-harness report` and `demo --replay` still read them.

- 1 -> 2: version 1 measured `time_to_consistency_s` from the step's apply only, and recorded
  nothing of the scenario beyond its name, title and data plane;
- 2 -> 3: version 2 recorded no prediction of the mesh model: such probes read back with none
  (`predicted`, `observed` and `model` null), and the run has no model finding.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    yield from (v for v in _list(value) if isinstance(v, dict))


def _probes(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for sc in _dicts(data.get("scenarios")):
        for st in _dicts(sc.get("steps")):
            yield from _dicts(st.get("probes"))


def _from_v1(data: dict[str, Any]) -> dict[str, Any]:
    for p in _probes(data):
        p["time_to_consistency_from_apply_s"] = p.get("time_to_consistency_s")
        p["time_to_consistency_s"] = None  # not measured by version 1
        p.update(identity=None, waypoint=None)
    for sc in _dicts(data.get("scenarios")):
        sc.update(description="", references=[])
        for st in _dicts(sc.get("steps")):
            st.update(narrative=None, manifests={})
    return data


def _from_v2(data: dict[str, Any]) -> dict[str, Any]:
    for p in _probes(data):
        p.update(predicted=None, observed=None, model=None)
    summary = data.get("summary")
    if isinstance(summary, dict):
        summary["model_findings"] = 0
    return data


_STEPS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _from_v1, 2: _from_v2}


def migrate(data: dict[str, Any], version: int, current: int) -> dict[str, Any]:
    """`data` of `version` in the shape of `current` (a copy; the input is left as it was)."""
    if version == current:
        return data
    data = copy.deepcopy(data)
    for v in range(version, current):
        data = _STEPS[v](data)
    return {**data, "schema_version": current}
