"""Shared test set-up: the CRD schema directory and the repo paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
# The pinned CRDs live beside the repo (../shared/crds); the project never copies them.
SHARED_CRDS = REPO.parent / "shared" / "crds"

if "AMBIENT_HARNESS_CRD_DIR" not in os.environ and SHARED_CRDS.is_dir():
    os.environ["AMBIENT_HARNESS_CRD_DIR"] = str(SHARED_CRDS)


@pytest.fixture
def crd_dir() -> Path:
    path = Path(os.environ.get("AMBIENT_HARNESS_CRD_DIR", SHARED_CRDS))
    if not path.is_dir():
        pytest.fail(f"CRD schemas not found at {path}: set AMBIENT_HARNESS_CRD_DIR")
    return path
