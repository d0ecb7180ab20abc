"""Shared test set-up: the CRD schema directory and the repo paths."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_apiserver import FakeApiServer

from harness.kube import Kube

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


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    """An in-process fake Kubernetes API server on loopback (see fake_apiserver.py)."""
    with FakeApiServer() as server:
        yield server


@pytest.fixture
def kube(api: FakeApiServer) -> Iterator[Kube]:
    """A `Kube` talking to the fake API server, polling fast."""
    k = Kube(api.api_client(), poll_interval=0.005)
    yield k
    k.close()
