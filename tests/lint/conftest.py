"""The lint tests see the real pinned CRDs and a private index cache (never the user's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _crds(crd_dir: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: Any) -> None:
    monkeypatch.setenv("AMBIENT_HARNESS_CRD_DIR", str(crd_dir))
    monkeypatch.setenv("AMBIENT_HARNESS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
