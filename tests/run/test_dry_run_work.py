"""What `run --dry-run` does to print its plan: each scenario linted once, no repeated work."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import CRDS, REPO, SHIPPED_SCENARIOS

import harness.lint
from harness import mesh
from harness.cli import main as cli
from harness.host import versions
from harness.kube import objects
from harness.kube.objects import load_manifests
from harness.lint import crds
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


def test_the_bundles_crds_are_awaited_as_the_full_load_names_them_without_loading_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(CRDS))
    monkeypatch.chdir(REPO)
    bundle = CRDS / versions.GATEWAY_API_CRDS.filename
    expected = [f"wait {c}" for c in mesh.gateway_api_readiness(load_manifests(bundle))]
    assert len(expected) > 5
    crds.load_index()  # lint's parsed index, as any earlier lint left it: not this test's concern
    def refusing(real: Any) -> Any:
        def no_bundle(stream: Any, *args: Any, **kwargs: Any) -> Any:
            # ~35 ms for a name per CRD (~90 ms with PyYAML's constructor).
            assert Path(getattr(stream, "name", "")).name != bundle.name, "the bundle was loaded"
            return real(stream, *args, **kwargs)

        return no_bundle

    # Either way of loading it whole: load_manifests' (libyaml's events) and PyYAML's own.
    monkeypatch.setattr(objects, "load_all_plain", refusing(objects.load_all_plain))
    monkeypatch.setattr(yaml, "load_all", refusing(yaml.load_all))
    code = cli.main(["run", "ambient-authz-l4", "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0, err
    waits = [line.strip() for line in out.splitlines() if "CustomResourceDefinition" in line]
    assert waits == expected
