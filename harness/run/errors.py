"""What a run refuses or cannot do, as `HarnessError`s (the tree is in harness/errors.py)."""

from __future__ import annotations

from harness.errors import HarnessError


class RunError(HarnessError):
    """A run could not start or continue (not a scenario's verdict: those are results)."""


class NoClusterChosen(RunError):
    """A live run was asked for without `--cluster`, `--context` or `--kubeconfig`."""


class NoScenarioFound(RunError):
    """The paths or names given hold no scenario."""


class SessionSetupFailed(RunError):
    """The session (cluster, Gateway API, Istio) could not be set up; no scenario ran."""
