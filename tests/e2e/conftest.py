"""Live tests: they need a cluster (`--cluster=kind`, `--context=...` or
`--kubeconfig=...`) and skip otherwise.

They share the pytest run's one `LiveSession` with the scenario items (`live_session`), so a
run of `pytest scenarios tests/e2e --cluster=kind` creates the cluster and installs the mesh
once.
"""

from __future__ import annotations

import pytest

from harness.pytest_plugin import NO_CLUSTER
from harness.pytest_plugin.session import cluster_requested, live_session
from harness.run.session import LiveSession


@pytest.fixture(scope="session")
def live(request: pytest.FixtureRequest) -> LiveSession:
    if not cluster_requested(request.config):
        pytest.skip(NO_CLUSTER)
    session = live_session(request.config)
    if session.setup_error is not None:
        pytest.fail(f"live session set-up failed: {session.setup_error}", pytrace=False)
    return session
