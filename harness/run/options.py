"""The options of a run, typed and frozen: built once at the face (harness/cli/options.py from
argparse, harness/pytest_plugin/session.py from pytest's config) and passed down unchanged, so
nothing below the face reads an argparse `Namespace` or a `pytest.Config`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.host import versions
from harness.host.cluster import DEFAULT_CLUSTER_NAME, ClusterProvider
from harness.host.images import ImagePlan, image_plan
from harness.host.providers import provider_from_options
from harness.run.errors import NoClusterChosen

NO_CLUSTER_HINT = "no cluster: pass --cluster=kind, --context=CONTEXT or --kubeconfig=PATH"


@dataclass(frozen=True)
class SessionOptions:
    """Which cluster, which mesh, what to keep and where diagnostics go."""

    cluster: str | None = None  # "kind" | "existing" | None (then a context/kubeconfig decides)
    cluster_name: str = DEFAULT_CLUSTER_NAME
    kube_context: str | None = None
    kubeconfig: str | None = None
    keep_cluster: bool = False
    keep: bool = False  # the scenario namespaces
    istio_version: str | None = None
    artifacts: Path = Path("artifacts")
    kind_image: str | None = None
    kind_bin: str | None = None
    skip_doctor: bool = False  # --skip-doctor: no host/cluster checks before set-up
    image_registry: str | None = None  # --image-registry: a hub (mirror) for the Istio images
    ready_timeout: float | None = None  # --ready-timeout: seconds per readiness wait (pulls aside)

    def image_plan(self) -> ImagePlan:
        return image_plan(self.istio, self.image_registry)

    @property
    def existing_requested(self) -> bool:
        """A context or kubeconfig names a cluster that already exists."""
        return bool(self.kube_context or self.kubeconfig)

    @property
    def cluster_requested(self) -> bool:
        """Any of --cluster, --context, --kubeconfig: a live run was asked for."""
        return bool(self.cluster) or self.existing_requested

    @property
    def istio(self) -> str:
        return self.istio_version or versions.ISTIO_VERSION

    def provider(self) -> ClusterProvider:
        """The cluster provider these options select; `NoClusterChosen` if none,
        `host.providers.ClusterOptionError` if they contradict each other."""
        provider = provider_from_options(
            self.cluster,
            self.kube_context,
            self.kubeconfig,
            self.keep_cluster,
            self.cluster_name,
            kind_image=self.kind_image,
            kind_path=Path(self.kind_bin) if self.kind_bin else None,
        )
        if provider is None:
            raise NoClusterChosen(NO_CLUSTER_HINT)
        return provider
