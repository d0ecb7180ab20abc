"""Images pulled once on this machine and loaded into the kind nodes.

Every kind node would otherwise pull `python:3.12-slim` and the `istio/*` images itself,
anonymously: a host `docker login` does not reach the containerd inside the nodes, and three
nodes triple the pulls counted against an anonymous rate limit. So the harness pulls each
image once with the host's engine (and its credentials, mirror and cache) and hands it to
every node with `kind load docker-image`. Pods use `imagePullPolicy: IfNotPresent`, so a
loaded image is never pulled again.

`--image-registry` points the Istio images at a mirror (Istio publishes one at
`gcr.io/istio-release`) or a local registry (`localhost:5001/istio` after
`docker tag`/`docker push`), and is handed to istioctl as `--set hub=...`.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from harness.errors import HarnessError
from harness.host import versions
from harness.host.docker import first_line

DEFAULT_ISTIO_HUB: Final = "docker.io/istio"
ISTIO_MIRROR_HUB: Final = "gcr.io/istio-release"
# The images an ambient install runs: istiod, ztunnel, istio-cni and the waypoints' proxy.
ISTIO_AMBIENT_IMAGES: Final = ("pilot", "ztunnel", "install-cni", "proxyv2")


class ImageError(HarnessError):
    """An image could not be pulled on the host or loaded into the nodes."""


@dataclass(frozen=True)
class ImagePlan:
    """Which images a run preloads: Istio's from `istio_hub`, and the agent/echo image."""

    istio_version: str = versions.ISTIO_VERSION
    istio_hub: str = DEFAULT_ISTIO_HUB
    agent_image: str = versions.AGENT_IMAGE.ref

    @property
    def images(self) -> list[str]:
        hub = self.istio_hub.rstrip("/")
        istio = [f"{hub}/{name}:{self.istio_version}" for name in ISTIO_AMBIENT_IMAGES]
        return [*istio, self.agent_image]

    def istioctl_sets(self) -> tuple[str, ...]:
        """`--set` values for istioctl: the hub, unless it is Istio's default."""
        if self.istio_hub.rstrip("/") == DEFAULT_ISTIO_HUB:
            return ()
        return (f"hub={self.istio_hub.rstrip('/')}",)


def image_plan(
    istio_version: str | None = None,
    image_registry: str | None = None,
    agent_image: str | None = None,
) -> ImagePlan:
    """The plan for `--istio-version`, `--image-registry` (a hub for the Istio images)."""
    return ImagePlan(
        istio_version or versions.ISTIO_VERSION,
        image_registry or DEFAULT_ISTIO_HUB,
        agent_image or versions.AGENT_IMAGE.ref,
    )


def pull_argv(engine: str, image: str) -> list[str]:
    return [engine, "pull", image]


def kind_load_argv(kind: Path, cluster: str, images: Sequence[str]) -> list[str]:
    """`kind load docker-image` copies images from the host engine into every node."""
    return [str(kind), "load", "docker-image", f"--name={cluster}", *images]


def repo_digests_argv(engine: str, image: str) -> list[str]:
    return [engine, "image", "inspect", "--format", "{{json .RepoDigests}}", image]


def preload_steps(plan: ImagePlan, *, engine: str, kind: Path, cluster: str) -> list[list[str]]:
    """Every command of the preload, in order: one pull per image, then one load."""
    return [pull_argv(engine, image) for image in plan.images] + [
        kind_load_argv(kind, cluster, plan.images)
    ]


def preload_lines(plan: ImagePlan, *, engine: str, kind: Path, cluster: str) -> list[str]:
    """What a dry run prints for the preload (`harness.run.dryrun` prints these lines)."""
    lines = [
        f"preload {len(plan.images)} images: pulled once by the host's {engine} (its login "
        "and mirrors apply), loaded into every node; pods use imagePullPolicy IfNotPresent"
    ]
    lines += [
        "run " + " ".join(argv)
        for argv in preload_steps(plan, engine=engine, kind=kind, cluster=cluster)
    ]
    if plan.istioctl_sets():
        lines.append(f"istioctl install gets --set {plan.istioctl_sets()[0]} (--image-registry)")
    return lines


def _repository(ref: str) -> str:
    """`python` for `docker.io/library/python:3.12-slim`: no digest, tag or default prefix."""
    name = ref.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    if ":" in last:
        last = last.split(":", 1)[0]
    name = f"{head}/{last}" if head else last
    return name.removeprefix("docker.io/").removeprefix("library/")


def pinned_by_digest(image: str, repo_digests: Sequence[str]) -> str | None:
    """`repo:tag@sha256:...` for `image` from the engine's RepoDigests after a pull."""
    for entry in repo_digests:
        repo, _, digest = entry.partition("@")
        if digest.startswith("sha256:") and _repository(repo) == _repository(image):
            return f"{image.split('@', 1)[0]}@{digest}"
    return None


Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def preload_images(
    plan: ImagePlan,
    *,
    engine: str,
    kind: Path,
    cluster: str,
    output: Callable[[str], None],
    run: Runner = _run,
) -> dict[str, str]:
    """Pull each image on the host (saying which, i of n), load them all into the nodes.

    Returns each image's digest-pinned reference as the host engine resolved it (for the
    report: what the run really ran). Raises `ImageError` naming the image and the reason.
    """
    resolved: dict[str, str] = {}
    images = plan.images
    for i, image in enumerate(images, 1):
        output(f"pulling image {i}/{len(images)}: {image}")
        done = run(pull_argv(engine, image))
        if done.returncode != 0:
            raise ImageError(
                f"`{engine} pull {image}` failed: {first_line(done.stderr) or done.returncode}; "
                "behind a rate limit, `docker login` on this machine (the nodes never pull "
                "themselves), or use a mirror: --image-registry gcr.io/istio-release"
            )
        inspected = run(repo_digests_argv(engine, image))
        try:
            digests = json.loads(inspected.stdout) if inspected.returncode == 0 else []
        except ValueError:
            digests = []
        pinned = pinned_by_digest(image, digests if isinstance(digests, list) else [])
        if pinned is not None:
            resolved[image] = pinned
    output(f"loading {len(images)} images into the nodes of kind cluster {cluster!r}")
    done = run(kind_load_argv(kind, cluster, images))
    if done.returncode != 0:
        raise ImageError(
            f"`kind load docker-image` failed: {first_line(done.stderr) or done.returncode}"
        )
    return resolved
