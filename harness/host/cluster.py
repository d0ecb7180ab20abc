"""The ClusterProvider port: where the harness gets a Kubernetes cluster.

Two implementations: `harness.host.kind.KindProvider` (a kind cluster the harness creates or
reuses) and `harness.host.existing.ExistingProvider` (a kubeconfig/context you already have,
never deleted). `harness.host.providers.provider_from_options` picks one from the options.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol, runtime_checkable

from harness.errors import HarnessError

# The one definition: the CLI, the pytest plugin and the run options default to it.
DEFAULT_CLUSTER_NAME: Final = "ambient-harness"


class ClusterError(HarnessError):
    """A cluster could not be created, reached or deleted."""


@dataclass(frozen=True)
class ClusterStatus:
    """What `ambient-harness cluster status` prints."""

    provider: str
    name: str
    exists: bool
    reachable: bool | None
    context: str | None
    kubeconfig: Path | None
    detail: str = ""


@runtime_checkable
class ClusterProvider(Protocol):
    """One way of providing a cluster. `up`/`down` return a one-line summary for the user."""

    @property
    def kubeconfig(self) -> Path | None: ...

    @property
    def context(self) -> str | None: ...

    def up(self) -> str: ...

    def down(self) -> str: ...

    def status(self) -> ClusterStatus: ...

    def describe(self) -> str: ...

    def commands(self) -> list[list[str]]: ...
