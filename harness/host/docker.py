"""The container engine kind drives (docker, or podman/nerdctl via KIND_EXPERIMENTAL_PROVIDER):
is it there and answering."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from typing import Final

from harness.host.cluster import ClusterError

DOCKER_TIMEOUT_S: Final = 5.0

NO_CLUSTER_HINT: Final = (
    "Without a cluster, `ambient-harness lint` and `ambient-harness plan` work offline; "
    "to use a cluster you already have, pass --context (and --kubeconfig)."
)


class DockerUnavailable(ClusterError):
    """kind needs a running container engine and there is none."""


def container_engine(env: Mapping[str, str] | None = None) -> str:
    """The CLI kind drives: docker, unless KIND_EXPERIMENTAL_PROVIDER names podman/nerdctl."""
    env = os.environ if env is None else env
    return env.get("KIND_EXPERIMENTAL_PROVIDER") or "docker"


def first_line(text: str) -> str:
    """The first non-blank line of a CLI's output (its error, usually)."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def check_docker(
    *,
    engine: str | None = None,
    search_path: str | None = None,
    timeout_s: float = DOCKER_TIMEOUT_S,
) -> None:
    """Raise `DockerUnavailable` quickly when the container engine cannot be used."""
    engine = engine or container_engine()
    binary = shutil.which(engine, path=search_path)
    if binary is None:
        raise DockerUnavailable(
            f"kind runs Kubernetes nodes as containers, but `{engine}` is not on PATH. "
            "Install Docker (Docker Desktop on macOS; Docker Engine on Linux: "
            "https://docs.docker.com/engine/install/) and start it. " + NO_CLUSTER_HINT
        )
    try:
        done = subprocess.run(
            [binary, "info"], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise DockerUnavailable(
            f"`{engine} info` did not answer within {timeout_s:g}s: the {engine} engine is "
            "not responding. Restart it and retry. " + NO_CLUSTER_HINT
        ) from None
    except OSError as exc:
        raise DockerUnavailable(f"cannot run {binary}: {exc}. " + NO_CLUSTER_HINT) from exc
    if done.returncode != 0:
        reason = first_line(done.stderr) or first_line(done.stdout) or f"exit {done.returncode}"
        raise DockerUnavailable(
            f"the {engine} CLI is installed but its engine is not reachable ({reason}). "
            "Start it (Docker Desktop, or `sudo systemctl start docker` on Linux) and check "
            f"that `{engine} info` works for your user. " + NO_CLUSTER_HINT
        )
