"""harness.host.images: pulled once on the host, loaded into the nodes; the dry run's lines."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness.host import images
from harness.host.images import ImageError, image_plan

KIND = Path("/cache/bin/kind-v0.33.0")


def test_the_plan_names_every_ambient_image_and_the_agent() -> None:
    assert image_plan().images == [
        "docker.io/istio/pilot:1.30.3",
        "docker.io/istio/ztunnel:1.30.3",
        "docker.io/istio/install-cni:1.30.3",
        "docker.io/istio/proxyv2:1.30.3",
        "python:3.12-slim",
    ]
    assert image_plan().istioctl_sets() == ()


def test_a_mirror_moves_the_istio_images_and_tells_istioctl() -> None:
    plan = image_plan("1.29.9", "gcr.io/istio-release/")
    assert plan.images[0] == "gcr.io/istio-release/pilot:1.29.9"
    assert plan.istioctl_sets() == ("hub=gcr.io/istio-release",)


def test_dry_run_lines_pull_each_image_once_then_load_them_all() -> None:
    lines = images.preload_lines(
        image_plan(image_registry="localhost:5001/istio"),
        engine="docker",
        kind=KIND,
        cluster="demo",
    )
    assert lines[0].startswith("preload 5 images: pulled once by the host's docker")
    assert lines[1:6] == [
        "run docker pull localhost:5001/istio/pilot:1.30.3",
        "run docker pull localhost:5001/istio/ztunnel:1.30.3",
        "run docker pull localhost:5001/istio/install-cni:1.30.3",
        "run docker pull localhost:5001/istio/proxyv2:1.30.3",
        "run docker pull python:3.12-slim",
    ]
    assert lines[6] == (
        "run /cache/bin/kind-v0.33.0 load docker-image --name=demo "
        "localhost:5001/istio/pilot:1.30.3 localhost:5001/istio/ztunnel:1.30.3 "
        "localhost:5001/istio/install-cni:1.30.3 localhost:5001/istio/proxyv2:1.30.3 "
        "python:3.12-slim"
    )
    assert lines[7] == "istioctl install gets --set hub=localhost:5001/istio (--image-registry)"


@pytest.mark.parametrize(
    ("image", "digests", "expected"),
    [
        ("python:3.12-slim", ["python@sha256:" + "a" * 64], "python:3.12-slim@sha256:" + "a" * 64),
        (
            "docker.io/istio/pilot:1.30.3",
            ["istio/pilot@sha256:" + "b" * 64],
            "docker.io/istio/pilot:1.30.3@sha256:" + "b" * 64,
        ),
        ("localhost:5001/istio/pilot:1.30.3", ["istio/pilot@sha256:" + "b" * 64], None),
        ("python:3.12-slim", [], None),
    ],
)
def test_pinned_by_digest(image: str, digests: list[str], expected: str | None) -> None:
    assert images.pinned_by_digest(image, digests) == expected


class Engine:
    """Records what the preload runs; answers like docker/kind (pull, inspect, load)."""

    def __init__(self, fail_pull: str | None = None) -> None:
        self.ran: list[list[str]] = []
        self.fail_pull = fail_pull

    def __call__(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        self.ran.append(argv)
        if argv[1] == "pull" and argv[2] == self.fail_pull:
            err = (
                "Error response from daemon: toomanyrequests: You have reached your pull rate limit"
            )
            return subprocess.CompletedProcess(argv, 1, "", err + "\n")
        if argv[1:3] == ["image", "inspect"]:
            repo = argv[-1].rsplit(":", 1)[0].removeprefix("docker.io/")
            return subprocess.CompletedProcess(
                argv, 0, json.dumps([f"{repo}@sha256:{'c' * 64}"]), ""
            )
        return subprocess.CompletedProcess(argv, 0, "", "")


def test_preload_pulls_each_image_once_then_loads_them_into_the_nodes() -> None:
    engine = Engine()
    said: list[str] = []
    resolved = images.preload_images(
        image_plan(), engine="docker", kind=KIND, cluster="demo", output=said.append, run=engine
    )
    pulls = [argv for argv in engine.ran if argv[1] == "pull"]
    assert [argv[2] for argv in pulls] == image_plan().images
    assert engine.ran[-1] == images.kind_load_argv(KIND, "demo", image_plan().images)
    assert said[0] == "pulling image 1/5: docker.io/istio/pilot:1.30.3"
    assert said[-1] == "loading 5 images into the nodes of kind cluster 'demo'"
    assert resolved["python:3.12-slim"] == "python:3.12-slim@sha256:" + "c" * 64


def test_a_failed_pull_stops_before_loading_and_says_what_to_do() -> None:
    engine = Engine(fail_pull="python:3.12-slim")
    with pytest.raises(ImageError) as err:
        images.preload_images(
            image_plan(),
            engine="docker",
            kind=KIND,
            cluster="demo",
            output=lambda _: None,
            run=engine,
        )
    assert "toomanyrequests" in str(err.value) and "--image-registry gcr.io/istio-release" in str(
        err.value
    )
    assert not [argv for argv in engine.ran if argv[1] == "load"]
