"""`ExistingProvider`: a cluster you already have (kubeconfig/context); never deleted."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from harness.host.cluster import ClusterError, ClusterStatus

_STATUS_TIMEOUT_S: Final = 10.0


def api_reachable(kubeconfig: Path | None, context: str | None) -> tuple[bool, str]:
    """Ask the API server for /version with the given kubeconfig/context."""
    from kubernetes import client, config

    try:
        api = config.new_client_from_config(
            config_file=str(kubeconfig) if kubeconfig else None, context=context
        )
    except Exception as exc:  # the loader raises ConfigException, TypeError, OSError...
        return False, f"cannot load kubeconfig: {exc}"
    try:
        info = client.VersionApi(api).get_code(_request_timeout=_STATUS_TIMEOUT_S)
    except Exception as exc:  # urllib3 and ApiException errors, many types
        return False, f"API server not reachable: {type(exc).__name__}: {exc}"
    finally:
        api.close()
    return True, f"Kubernetes {info.git_version}"


def _current_context(kubeconfig: Path | None) -> str | None:
    """The kubeconfig's current-context (None when it cannot be read: `up` then says why)."""
    from kubernetes import config

    try:
        _, active = config.list_kube_config_contexts(
            config_file=str(kubeconfig) if kubeconfig else None
        )
    except Exception:  # the loader raises ConfigException, OSError, yaml errors...
        return None
    name = (active or {}).get("name")
    return str(name) if name else None


class ExistingProvider:
    """A cluster you already have; the harness never creates or deletes it."""

    def __init__(self, kubeconfig: Path | None = None, context: str | None = None) -> None:
        self._kubeconfig = kubeconfig
        self._context = context

    @property
    def kubeconfig(self) -> Path | None:
        return self._kubeconfig

    @property
    def context(self) -> str | None:
        return self._context

    def _where(self) -> str:
        context = f"context {self._context!r}" if self._context else "the current context"
        source = str(self._kubeconfig) if self._kubeconfig else "the default kubeconfig"
        return f"{context} of {source}"

    def commands(self) -> list[list[str]]:
        return []

    def up(self) -> str:
        if self._kubeconfig is not None and not self._kubeconfig.is_file():
            raise ClusterError(f"kubeconfig {self._kubeconfig} does not exist")
        # Pin the current context now: kubectl/istioctl are run with it explicitly, so a
        # `kubectl config use-context` elsewhere during the run cannot retarget them.
        self._context = self._context or _current_context(self._kubeconfig)
        reachable, detail = api_reachable(self._kubeconfig, self._context)
        if not reachable:
            raise ClusterError(f"existing cluster ({self._where()}): {detail}")
        return f"using existing cluster, {self._where()} ({detail})"

    def down(self) -> str:
        return f"existing cluster ({self._where()}) left as it is: the harness never deletes it"

    def status(self) -> ClusterStatus:
        reachable, detail = api_reachable(self._kubeconfig, self._context)
        return ClusterStatus(
            "existing",
            self._context or "(current context)",
            reachable,
            reachable,
            self._context,
            self._kubeconfig,
            detail,
        )

    def describe(self) -> str:
        return f"existing cluster, {self._where()}; never created or deleted by the harness"
