"""The lint tests see the real pinned CRDs, and the suite's index cache (tests/conftest.py:
never the user's, built once per run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _crds(crd_dir: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(crd_dir))
