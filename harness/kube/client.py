"""`Kube`: the client callers use, for one cluster: connection and CRUD (harness.kube.api),
waits and awaited deletes (harness.kube.wait), server-side apply and the step preflight
(harness.kube.apply). One class, so a caller holds one object; each layer is its own module.
"""

from __future__ import annotations

from harness.kube.apply import KubeApply


class Kube(KubeApply):
    """One cluster: `Kube(api_client, ...)` or `Kube.from_kubeconfig(path, context)`; see
    `KubeApi` for the options."""
