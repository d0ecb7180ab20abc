"""`KindProvider`: a kind cluster the harness creates, or reuses when it exists.

It drives pytest-kind-ng's `KindCluster` with our pinned kind binary and `kind-config.yaml`,
and works around its traps (docs/architecture.md §6): it never lets pytest-kind download its
own (old) kind, and it exports the kubeconfig of a cluster that already exists, because
`KindCluster.create` only touches an empty kubeconfig file when it reuses one.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from harness.host import argv as commands
from harness.host import paths, tools, versions
from harness.host.cluster import DEFAULT_CLUSTER_NAME, ClusterError, ClusterStatus
from harness.host.docker import DockerUnavailable, check_docker, container_engine, first_line
from harness.host.existing import api_reachable

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
        engine: str | None = None,
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
        # Set by `up` for a reused cluster: the image of each node container, and what is off.
        self.node_images: dict[str, str] = {}
        self.warnings: list[str] = []
        self.engine = engine or container_engine()
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
            raise ClusterError(f"`kind get clusters` failed: {first_line(done.stderr)}")
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
        summary = f"{verb} kind cluster {self.name!r} (context {self.context}, {self.kubeconfig})"
        if reused:
            # A reused cluster may have been made with another node image (another Kubernetes):
            # read it, so the report records what runs rather than the pin.
            self.node_images = self._node_images()
            problem = node_image_problem(self.expected_node_images(), self.node_images)
            if problem is not None:
                self.warnings.append(problem)
                summary += f"; warning: {problem}"
        return summary

    def expected_node_images(self) -> set[str]:
        """The node image(s) this provider asks kind for: --kind-image, else the config's."""
        if self.image:
            return {self.image}
        try:
            config = yaml.safe_load(self.config_file.read_text()) or {}
        except (OSError, yaml.YAMLError):
            return {versions.NODE_IMAGE.ref}
        found = {str(n["image"]) for n in config.get("nodes") or [] if n.get("image")}
        return found or {versions.NODE_IMAGE.ref}

    def _node_images(self) -> dict[str, str]:
        """node container -> image, from the engine; empty when it cannot be read."""
        nodes = subprocess.run(
            commands.kind_get_nodes(self._tool("kind"), self.name),
            capture_output=True,
            text=True,
            check=False,
        )
        names = [n.strip() for n in nodes.stdout.splitlines() if n.strip()]
        if nodes.returncode != 0 or not names:
            return {}
        inspected = subprocess.run(
            commands.container_images(self.engine, names),
            capture_output=True,
            text=True,
            check=False,
        )
        if inspected.returncode != 0:
            return {}
        found = {}
        for line in inspected.stdout.splitlines():
            container, _, image = line.strip().partition(" ")
            if image:
                found[container.lstrip("/")] = image
        return found

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
        reachable, detail = api_reachable(self.kubeconfig, self.context)
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
        reason = first_line(done.stderr) or f"exit {done.returncode}"
        raise ClusterError(f"could not {what}: {reason}")


def node_image_problem(expected: set[str], found: dict[str, str]) -> str | None:
    """What is off with a reused cluster's node images (None: they are the expected ones)."""
    if not found:
        return "could not read the node containers' image: the report records the pinned one"
    other = {node: image for node, image in sorted(found.items()) if image not in expected}
    if not other:
        return None
    shown = ", ".join(f"{node} runs {image}" for node, image in other.items())
    return (
        f"this cluster was created with another node image ({shown}; expected "
        f"{' or '.join(sorted(expected))}); results describe that Kubernetes. Recreate it "
        "with the pin: `ambient-harness cluster down` then `ambient-harness cluster up`"
    )
