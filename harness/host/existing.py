"""`ExistingProvider`: a cluster you already have (kubeconfig/context); never deleted."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Final

from harness.host.cluster import ClusterError, ClusterStatus

_STATUS_TIMEOUT_S: Final = 10.0


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc`, then what caused it (urllib3's `reason`, `__cause__`, `__context__`)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        reason = getattr(e, "reason", None)
        todo += [reason if isinstance(reason, BaseException) else None, e.__cause__, e.__context__]
    return seen


def _why(chain: list[BaseException]) -> str:
    import urllib3  # here, not at module import: ~40 ms that `lint`/`plan`/pytest never need

    # The deepest cause first: urllib3's NewConnectionError is itself a ConnectTimeoutError.
    causes: list[tuple[type[BaseException] | tuple[type[BaseException], ...], str]] = [
        (ConnectionRefusedError, "connection refused"),
        (socket.gaierror, "host name not resolved"),
        (urllib3.exceptions.SSLError, "TLS handshake failed"),
        ((TimeoutError, urllib3.exceptions.TimeoutError), "timed out"),
    ]
    for kind, words in causes:
        if any(isinstance(e, kind) for e in chain):
            return words
    for e in reversed(chain):
        if isinstance(e, OSError) and e.strerror:
            return e.strerror.lower()
    return type(chain[-1]).__name__


def unreachable_text(exc: BaseException) -> str | None:
    """`API server https://HOST:PORT: connection refused` for an API server the client could
    not reach (urllib3's own text is hundreds of characters of object reprs); None for any
    other error."""
    import urllib3

    chain = _chain(exc)
    retry = next((e for e in chain if isinstance(e, urllib3.exceptions.MaxRetryError)), None)
    if retry is None:
        return None
    pool = retry.pool
    where = f"{pool.scheme}://{pool.host}:{pool.port}" if pool is not None else "(unknown)"
    return f"API server {where}: {_why(chain)}"


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
        short = unreachable_text(exc)
        return False, short or f"API server not reachable: {type(exc).__name__}: {exc}"
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
