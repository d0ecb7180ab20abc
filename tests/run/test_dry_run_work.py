"""What `run --dry-run` does to print its plan: each scenario linted once, no repeated work."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from helpers import CRDS, REPO, SHIPPED_SCENARIOS

import harness.lint
from harness.cli import main as cli
from harness.lint.findings import Findings


def test_the_dry_run_lints_each_scenario_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(CRDS))
    monkeypatch.chdir(REPO)
    linted: Counter[str] = Counter()
    real = harness.lint.lint_files

    def counting(files: list[Path], *args: object, **kwargs: object) -> list[Findings]:
        linted.update(f.resolve().parent.name for f in files)
        return real(files, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(harness.lint, "lint_files", counting)
    code = cli.main(["run", "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0, err
    for name in SHIPPED_SCENARIOS:
        assert f"\nscenario {name} — " in out
        assert linted[name] == 1, f"{name} linted {linted[name]} times"
