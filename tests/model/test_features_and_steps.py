"""Feature names (they become pytest markers) and the order of a step's actions, as the
loader (`load_scenario`, used by plan, run and the pytest plugin) refuses them."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import SCENARIOS

from harness.model.scenario import (
    RESERVED_FEATURES,
    feature_problem,
    load_scenario,
)
from harness.model.source import SourceError

BASE = (SCENARIOS / "ambient-authz-l4" / "scenario.yaml").read_text()


def write(tmp_path: Path, text: str) -> Path:
    directory = tmp_path / "ambient-authz-l4"
    (directory / "manifests").mkdir(parents=True)
    for f in (SCENARIOS / "ambient-authz-l4" / "manifests").iterdir():
        (directory / "manifests" / f.name).write_text(f.read_text())
    (directory / "scenario.yaml").write_text(text)
    return directory


def problems_of(directory: Path) -> list[tuple[int, str]]:
    with pytest.raises(SourceError) as info:
        load_scenario(directory)
    return [(p.line, p.message) for p in info.value.problems]


@pytest.mark.parametrize(
    "name", ["skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings",
             "timeout", "flaky", "asyncio", "django-db", "order", "dependency"]
)  # fmt: skip
def test_markers_pytest_or_plugins_act_on_are_reserved(name: str) -> None:
    problem = feature_problem(name)
    assert problem is not None and problem.startswith(f"{name!r} is reserved: ")
    assert name.replace("-", "_") in RESERVED_FEATURES


@pytest.mark.parametrize("name", ["authz", "l7", "traffic-shift", "timeouts", "skipping"])
def test_ordinary_feature_names_are_fine(name: str) -> None:
    assert feature_problem(name) is None


def test_a_reserved_feature_is_a_located_error(tmp_path: Path) -> None:
    assert "features: [authz, l4]\n" in BASE
    text = BASE.replace("features: [authz, l4]\n", "features: [authz, xfail]\n")
    line = text.splitlines().index("features: [authz, xfail]") + 1
    assert problems_of(write(tmp_path, text)) == [
        (line, f"features[1]: {feature_problem('xfail')}")
    ]


def test_the_catalogue_uses_no_reserved_feature() -> None:
    for file in sorted(SCENARIOS.glob("*/scenario.yaml")):
        assert all(feature_problem(f) is None for f in load_scenario(file).features), file


def test_delete_written_before_apply_is_refused(tmp_path: Path) -> None:
    manifest = sorted((SCENARIOS / "ambient-authz-l4" / "manifests").iterdir())[0].name
    step = (
        '  - name: swap\n    title: "Swap the policy"\n'
        f"    delete: [manifests/{manifest}]\n    apply: [manifests/{manifest}]\n"
    )
    text = BASE.rstrip("\n") + "\n" + step
    line = len(BASE.rstrip("\n").splitlines()) + 3
    (problem,) = [p for p in problems_of(write(tmp_path, text)) if "written before" in p[1]]
    assert problem[0] == line
    assert problem[1].endswith(
        "delete: written before apply, but a step applies first and deletes after: "
        "split it into two steps (one that deletes, then one that applies)"
    )
    # The same actions written in the order they run load fine.
    tmp2 = tmp_path / "ok"
    tmp2.mkdir()
    ok = text.replace(
        f"    delete: [manifests/{manifest}]\n    apply: [manifests/{manifest}]\n",
        f"    apply: [manifests/{manifest}]\n    delete: [manifests/{manifest}]\n",
    )
    load_scenario(write(tmp2, ok))


def test_a_manifest_linked_from_outside_the_scenario_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.yaml"
    outside.write_text("apiVersion: v1\nkind: ConfigMap\n")
    directory = write(tmp_path, BASE)
    manifest = sorted((directory / "manifests").iterdir())[0]
    manifest.unlink()
    manifest.symlink_to(outside)
    rel = f"manifests/{manifest.name}"
    assert any(
        message.endswith(f"{rel!r}: must be a path inside the scenario (a link to {outside})")
        for _, message in problems_of(directory)
    )
