"""Running lint in-process on corpus cases and scenario directories (shared by the lint tests)."""

from __future__ import annotations

import io
from pathlib import Path

from harness.lint.command import run_lint

CORPUS = Path(__file__).resolve().parents[1] / "malformed"
# Every directory is a case, but not the __pycache__ pytest writes for the corpus's conftest.py
# whenever bytecode is written (a second run would find it and fail on it).
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir() and p.name != "__pycache__")


def lint_output(
    targets: list[Path], strip: Path | None = None, use_schemas: bool = True
) -> tuple[int, str]:
    buf = io.StringIO()
    rc = run_lint(targets, buf, use_schemas=use_schemas)
    text = buf.getvalue()
    # Paths as `ambient-harness lint .` run inside the case directory prints them.
    return rc, text.replace(f"{strip}/", "").replace(str(strip), ".") if strip else text


def case_targets(case: Path) -> list[Path]:
    """A case is a scenario directory, or loose manifest files linted on their own."""
    manifests = sorted(case.glob("*.yaml"))
    if (case / "scenario.yaml").is_file() or not manifests:
        return [case]
    return manifests
