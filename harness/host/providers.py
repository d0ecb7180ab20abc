"""Which `ClusterProvider` the options ask for (--cluster, --context, --kubeconfig, ...)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from harness.host.cluster import DEFAULT_CLUSTER_NAME, ClusterError, ClusterProvider
from harness.host.existing import ExistingProvider
from harness.host.kind import KindProvider

CLUSTER_CHOICES: Final = ("kind", "existing")


class ClusterOptionError(ClusterError, ValueError):
    """The cluster options contradict each other or name an unknown provider."""


def provider_from_options(
    cluster: str | None,
    kube_context: str | None,
    kubeconfig: str | None,
    keep: bool,
    name: str = DEFAULT_CLUSTER_NAME,
    *,
    kind_image: str | None = None,
    kind_path: Path | None = None,
) -> ClusterProvider | None:
    """Map `--cluster/--context/--kubeconfig/--keep` (and pytest-kind's --kind-image,
    --kind-bin) to a provider; None: no cluster."""
    if cluster is not None and cluster not in CLUSTER_CHOICES:
        raise ClusterOptionError(
            f"--cluster={cluster}: expected one of {', '.join(CLUSTER_CHOICES)}"
        )
    if cluster == "kind":
        if kube_context or kubeconfig:
            raise ClusterOptionError(
                "--cluster=kind manages its own kubeconfig and context; "
                "--context/--kubeconfig select an existing cluster instead"
            )
        return KindProvider(name, keep=keep, image=kind_image, kind_path=kind_path)
    if cluster == "existing" or kube_context or kubeconfig:
        path = Path(kubeconfig).expanduser() if kubeconfig else None
        return ExistingProvider(path, kube_context)
    return None
