"""Where the harness gets a Kubernetes cluster: a kind cluster it manages, or one you have.

`KindProvider` drives pytest-kind-ng's `KindCluster` with our pinned kind binary and
`kind-config.yaml`, and works around its traps (docs/architecture.md §6): it never lets pytest-kind
download its own (old) kind, and it exports the kubeconfig of a cluster that already exists,
because `KindCluster.create` only touches an empty kubeconfig file when it reuses one.

`ExistingProvider` uses a kubeconfig/context you already have and never deletes anything.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, TextIO, runtime_checkable

import yaml

from harness.host import argv as commands
from harness.host import paths, tools, versions

DEFAULT_CLUSTER_NAME: Final = "ambient-harness"
CLUSTER_CHOICES: Final = ("kind", "existing")
_DOCKER_TIMEOUT_S: Final = 5.0
_STATUS_TIMEOUT_S: Final = 10.0
_REPO_KIND_CONFIG: Final = Path(__file__).resolve().parents[2] / "kind-config.yaml"

# What kind-config.yaml at the repository root says; used when the package runs from an
# installed wheel without the repository (tests keep the two equal).
KIND_CONFIG: Final[Mapping[str, Any]] = {
    "kind": "Cluster",
    "apiVersion": "kind.x-k8s.io/v1alpha4",
    "nodes": [
        {"role": "control-plane", "image": versions.NODE_IMAGE.ref},
        {"role": "worker", "image": versions.NODE_IMAGE.ref},
        {"role": "worker", "image": versions.NODE_IMAGE.ref},
    ],
}


class ClusterError(RuntimeError):
    """A cluster could not be created, reached or deleted."""


class DockerUnavailable(ClusterError):
    """kind needs a running container engine and there is none."""


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


# --- container engine -----------------------------------------------------------------------

_NO_CLUSTER_HINT: Final = (
    "Without a cluster, `ambient-harness lint` and `ambient-harness plan` work offline; "
    "to use a cluster you already have, pass --kube-context (and --kubeconfig)."
)


def container_engine(env: Mapping[str, str] | None = None) -> str:
    """The CLI kind drives: docker, unless KIND_EXPERIMENTAL_PROVIDER names podman/nerdctl."""
    env = os.environ if env is None else env
    return env.get("KIND_EXPERIMENTAL_PROVIDER") or "docker"


def check_docker(
    *,
    engine: str | None = None,
    search_path: str | None = None,
    timeout_s: float = _DOCKER_TIMEOUT_S,
) -> None:
    """Raise `DockerUnavailable` quickly when the container engine cannot be used."""
    engine = engine or container_engine()
    binary = shutil.which(engine, path=search_path)
    if binary is None:
        raise DockerUnavailable(
            f"kind runs Kubernetes nodes as containers, but `{engine}` is not on PATH. "
            "Install Docker (Docker Desktop on macOS; Docker Engine on Linux: "
            "https://docs.docker.com/engine/install/) and start it. " + _NO_CLUSTER_HINT
        )
    try:
        done = subprocess.run(
            [binary, "info"], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise DockerUnavailable(
            f"`{engine} info` did not answer within {timeout_s:g}s: the {engine} engine is "
            "not responding. Restart it and retry. " + _NO_CLUSTER_HINT
        ) from None
    except OSError as exc:
        raise DockerUnavailable(f"cannot run {binary}: {exc}. " + _NO_CLUSTER_HINT) from exc
    if done.returncode != 0:
        reason = _first_line(done.stderr) or _first_line(done.stdout) or f"exit {done.returncode}"
        raise DockerUnavailable(
            f"the {engine} CLI is installed but its engine is not reachable ({reason}). "
            "Start it (Docker Desktop, or `sudo systemctl start docker` on Linux) and check "
            f"that `{engine} info` works for your user. " + _NO_CLUSTER_HINT
        )


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


# --- kind -----------------------------------------------------------------------------------


def default_kind_config() -> Path:
    """The repository's kind-config.yaml, or an identical copy written to the cache."""
    if _REPO_KIND_CONFIG.is_file():
        return _REPO_KIND_CONFIG
    path = paths.cache_root() / "kind-config.yaml"
    text = yaml.safe_dump(dict(KIND_CONFIG), sort_keys=False)
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path


@contextlib.contextmanager
def _no_stray_workdir(name: str) -> Iterator[None]:
    """KindCluster() always creates ./.pytest-kind/<name>; we pass every path, so undo that."""
    workdir = Path(".pytest-kind")
    existed = workdir.exists()
    try:
        yield
    finally:
        if not existed:
            for stray in (workdir / name, workdir):
                with contextlib.suppress(OSError):
                    stray.rmdir()  # only succeeds when empty


class KindProvider:
    """A kind cluster named `name` (default ``ambient-harness``), reused when it exists."""

    def __init__(
        self,
        name: str = DEFAULT_CLUSTER_NAME,
        *,
        keep: bool = False,
        config_file: Path | None = None,
        image: str | None = None,
        cache_dir: Path | None = None,
        wait_timeout: str = "180s",
        docker_check: Callable[[], None] = check_docker,
        resolve_tool: Callable[[str], Path] | None = None,
        kind_path: Path | None = None,
        kubectl_path: Path | None = None,
    ) -> None:
        """`kind_path`/`kubectl_path` (pytest-kind's --kind-bin/--kind-kubectl-bin) skip lookup."""
        self.name = name
        self.keep = keep
        self._config_file = config_file
        self.image = image  # None: the digest-pinned images in the config file
        self.cache_dir = cache_dir or paths.cache_root()
        self.wait_timeout = wait_timeout
        self._docker_check = docker_check
        self._resolve_tool = resolve_tool or (lambda tool: tools.ensure_tool(tool, self.cache_dir))
        self._resolved: dict[str, Path] = {}
        # Set by `up`: True when it had to create the cluster (also if the creation then
        # failed half-way), so the caller deletes only what this run made.
        self.created = False
        if kind_path is not None:
            self._resolved["kind"] = kind_path
        if kubectl_path is not None:
            self._resolved["kubectl"] = kubectl_path

    @property
    def kubeconfig(self) -> Path:
        # Our own file: kind's default would rewrite the user's ~/.kube/config.
        return self.cache_dir / "kind" / self.name / "kubeconfig"

    @property
    def context(self) -> str:
        return commands.kind_context(self.name)

    @property
    def config_file(self) -> Path:
        return self._config_file or default_kind_config()

    def _tool(self, name: str) -> Path:
        if name not in self._resolved:
            self._resolved[name] = self._resolve_tool(name)
        return self._resolved[name]

    def _display_tool(self, name: str) -> Path:
        return self._resolved.get(name) or tools.planned_path(name, self.cache_dir)

    def _kind_cluster(self) -> Any:
        from pytest_kind import KindCluster

        with _no_stray_workdir(self.name):
            return KindCluster(
                self.name,
                kubeconfig=self.kubeconfig,
                image=self.image,
                kind_path=self._tool("kind"),
                kubectl_path=self._tool("kubectl"),
            )

    def _existing_clusters(self) -> list[str]:
        try:
            done = subprocess.run(
                commands.kind_get_clusters(self._tool("kind")),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ClusterError("`kind get clusters` did not answer within 60s") from None
        if done.returncode != 0:
            raise ClusterError(f"`kind get clusters` failed: {_first_line(done.stderr)}")
        return [line.strip() for line in done.stdout.splitlines() if line.strip()]

    def commands(self) -> list[list[str]]:
        kind, kubectl = self._display_tool("kind"), self._display_tool("kubectl")
        return [
            [container_engine(), "info"],
            commands.kind_get_clusters(kind),
            commands.kind_create(
                kind,
                self.name,
                kubeconfig=self.kubeconfig,
                image=self.image,
                config=self.config_file,
            ),
            commands.kubectl_wait_nodes_ready(
                kubectl, timeout=self.wait_timeout, kubeconfig=self.kubeconfig, context=self.context
            ),
        ]

    def up(self) -> str:
        self._docker_check()
        cluster = self._kind_cluster()
        reused = self.name in self._existing_clusters()
        self.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        if reused:
            # pytest-kind would reuse the cluster with an empty kubeconfig: write a real one.
            _run_checked(
                commands.kind_export_kubeconfig(
                    self._tool("kind"), self.name, kubeconfig=self.kubeconfig
                ),
                "export the kind kubeconfig",
            )
        self.created = not reused
        try:
            cluster.create(config_file=self.config_file)
        except subprocess.CalledProcessError as exc:
            raise ClusterError(f"`kind create cluster` failed (exit {exc.returncode})") from exc
        _run_checked(
            commands.kubectl_wait_nodes_ready(
                self._tool("kubectl"),
                timeout=self.wait_timeout,
                kubeconfig=self.kubeconfig,
                context=self.context,
            ),
            "wait for the nodes to be Ready",
        )
        verb = "reused existing" if reused else "created"
        return f"{verb} kind cluster {self.name!r} (context {self.context}, {self.kubeconfig})"

    def down(self) -> str:
        if self.keep:
            return (
                f"kept kind cluster {self.name!r} (--keep-cluster); delete it with "
                f"`kind delete cluster --name={self.name}`"
            )
        self._docker_check()
        try:
            self._kind_cluster().delete()
        except subprocess.CalledProcessError as exc:
            raise ClusterError(f"`kind delete cluster` failed (exit {exc.returncode})") from exc
        return f"deleted kind cluster {self.name!r}"

    def status(self) -> ClusterStatus:
        def result(exists: bool, reachable: bool | None, detail: str) -> ClusterStatus:
            return ClusterStatus(
                "kind", self.name, exists, reachable, self.context, self.kubeconfig, detail
            )

        try:
            self._docker_check()
        except DockerUnavailable as exc:
            return result(False, None, str(exc))
        # Status never downloads: without kind at hand it cannot tell.
        kind = self._resolved.get("kind") or tools.locate_tool("kind", self.cache_dir)
        if kind is None:
            return result(False, None, "kind is not installed yet: `ambient-harness tools fetch`")
        self._resolved["kind"] = kind
        if self.name not in self._existing_clusters():
            return result(False, None, "no kind cluster by that name")
        if not self.kubeconfig.is_file():
            return result(True, None, "exists; run `up` to write its kubeconfig")
        reachable, detail = _api_reachable(self.kubeconfig, self.context)
        return result(True, reachable, detail)

    def describe(self) -> str:
        lifecycle = (
            "left running afterwards" if self.keep else "deleted at the end if this run created it"
        )
        image = self.image or versions.NODE_IMAGE.ref
        return (
            f"kind cluster {self.name!r} (kind {versions.KIND_VERSION}, node {image}, "
            f"config {self.config_file}); reused if it exists, {lifecycle}; "
            f"kubeconfig {self.kubeconfig}, context {self.context}"
        )


def _run_checked(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = _first_line(done.stderr) or f"exit {done.returncode}"
        raise ClusterError(f"could not {what}: {reason}")


# --- an existing cluster --------------------------------------------------------------------


def _api_reachable(kubeconfig: Path | None, context: str | None) -> tuple[bool, str]:
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
        reachable, detail = _api_reachable(self._kubeconfig, self._context)
        if not reachable:
            raise ClusterError(f"existing cluster ({self._where()}): {detail}")
        return f"using existing cluster, {self._where()} ({detail})"

    def down(self) -> str:
        return f"existing cluster ({self._where()}) left as it is: the harness never deletes it"

    def status(self) -> ClusterStatus:
        reachable, detail = _api_reachable(self._kubeconfig, self._context)
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


# --- options --------------------------------------------------------------------------------


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
    """Map `--cluster/--kube-context/--kubeconfig/--keep` (and pytest-kind's --kind-image,
    --kind-bin) to a provider; None: no cluster."""
    if cluster is not None and cluster not in CLUSTER_CHOICES:
        raise ValueError(f"--cluster={cluster}: expected one of {', '.join(CLUSTER_CHOICES)}")
    if cluster == "kind":
        if kube_context or kubeconfig:
            raise ValueError(
                "--cluster=kind manages its own kubeconfig and context; "
                "--kube-context/--kubeconfig select an existing cluster instead"
            )
        return KindProvider(name, keep=keep, image=kind_image, kind_path=kind_path)
    if cluster == "existing" or kube_context or kubeconfig:
        path = Path(kubeconfig).expanduser() if kubeconfig else None
        return ExistingProvider(path, kube_context)
    return None


# --- `ambient-harness cluster up|down|status` -----------------------------------------------


def cluster_command(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """The CLI's `cluster` subcommand; errors are printed, not raised. Exit 0 on success."""
    context = getattr(args, "kube_context", None)
    kubeconfig = getattr(args, "kubeconfig", None)
    chosen = getattr(args, "cluster", None)
    # `cluster` defaults to kind; naming a context or kubeconfig means an existing cluster.
    if chosen == "kind" and (context or kubeconfig):
        chosen = "existing"
    action = args.action
    try:
        provider = provider_from_options(
            chosen or "kind",
            context,
            kubeconfig,
            # `cluster up` leaves the cluster running; `cluster down` is a request to delete.
            keep=action == "up"
            or (bool(getattr(args, "keep_cluster", False)) and action != "down"),
            name=getattr(args, "cluster_name", None) or DEFAULT_CLUSTER_NAME,
        )
        assert provider is not None  # a cluster kind is always chosen above
        if action == "up":
            print(provider.describe(), file=out)
            print(provider.up(), file=out)
            return 0
        if action == "down":
            print(provider.down(), file=out)
            return 0
        status = provider.status()
    except (ClusterError, tools.ToolError, versions.UnsupportedPlatform, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    state = "exists" if status.exists else "does not exist"
    reach = {True: "reachable", False: "not reachable", None: "reachability unknown"}
    print(
        f"{status.provider} cluster {status.name!r}: {state}, {reach[status.reachable]}", file=out
    )
    if status.context:
        print(f"  context:    {status.context}", file=out)
    if status.kubeconfig:
        print(f"  kubeconfig: {status.kubeconfig}", file=out)
    if status.detail:
        print(f"  {status.detail}", file=out)
    return 0 if status.exists and status.reachable else 1
