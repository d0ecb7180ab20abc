"""Lint asks the model once: each file is parsed once and each probe predicted once per lint of
a scenario (issue 15: the silent-mistake checks and the contradictions each predicted the whole
scenario again, and every world step re-read its manifests)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from helpers import SCENARIOS, SHIPPED_SCENARIOS

import harness.predict.agreement as agreement
from harness.lint.checks import lint_scenario
from harness.lint.crds import no_index
from harness.model import source
from harness.model.scenario import load_scenario
from harness.model.source import Document


@pytest.mark.parametrize("name", SHIPPED_SCENARIOS)
def test_lint_parses_each_file_once_and_predicts_each_probe_once(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: Counter[Path] = Counter()
    predicted: list[str] = []
    real_parse, real_predict = source.parse_documents, agreement.predict_probe

    def parse(file: Path, text: str) -> list[Document]:
        parsed[file] += 1
        return real_parse(file, text)

    def predict(world: object, probe: object) -> object:
        predicted.append(repr(probe))
        return real_predict(world, probe)  # type: ignore[arg-type]

    scenario = load_scenario(SCENARIOS / name)
    probes = sum(len(st.probes) for st in scenario.steps)
    monkeypatch.setattr(source, "parse_documents", parse)
    monkeypatch.setattr(agreement, "predict_probe", predict)
    findings = lint_scenario(SCENARIOS / name / "scenario.yaml", no_index())
    assert findings.problems == []
    assert parsed and set(parsed.values()) == {1}, parsed
    # Every file the scenario references (scenario.yaml and each manifest) was read.
    refs = {st_rel for st in scenario.steps for st_rel in (*st.apply, *st.delete)}
    assert len(parsed) == 1 + len(refs)
    assert len(predicted) == probes


def test_a_file_changed_between_two_lints_is_read_again(tmp_path: Path) -> None:
    """No cache outlives a lint run: the second lint sees the edited manifest."""
    import shutil

    directory = tmp_path / "ambient-authz-l4"
    shutil.copytree(SCENARIOS / "ambient-authz-l4", directory)
    file = directory / "scenario.yaml"
    assert lint_scenario(file, no_index()).problems == []
    for manifest in (directory / "manifests").glob("*.yaml"):
        text = manifest.read_text(encoding="utf-8")
        manifest.write_text(text.replace("action: ALLOW", "action: DENY"), encoding="utf-8")
    assert lint_scenario(file, no_index()).problems != []
