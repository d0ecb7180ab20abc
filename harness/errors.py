"""The harness's exceptions: one root, so the CLI and the pytest plugin catch what the harness
raises on purpose and let everything else (a bug) show its traceback.

    HarnessError                      every error the harness raises on purpose
    (the tree below it is completed by each package; see the docstring's end)
    ├── run.errors.RunError           a run could not start or continue
    │   ├── NoClusterChosen           a live run without --cluster/--kube-context/--kubeconfig
    │   ├── NoScenarioFound           the paths or names given hold no scenario
    │   ├── AgentNotReady             no ready agent pod to port-forward to
    │   └── SessionSetupFailed        cluster, Gateway API or Istio set-up failed (client errors)
    └── pytest_plugin.items.ScenarioFailed   a scenario item did not pass (carries its result)
"""

from __future__ import annotations


class HarnessError(Exception):
    """Root of every error the harness raises on purpose (never a bug)."""
