"""harness.host.versions: platforms and pins."""

from __future__ import annotations

import pytest

from harness.host import versions
from harness.host.download import Fetcher
from harness.host.versions import Artifact

# --- versions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "machine", "expected"),
    [
        ("Linux", "x86_64", "linux-amd64"),
        ("Linux", "aarch64", "linux-arm64"),
        ("Darwin", "arm64", "darwin-arm64"),
        ("Darwin", "x86_64", "darwin-amd64"),
    ],
)
def test_detect_platform(system: str, machine: str, expected: str) -> None:
    assert str(versions.detect_platform(system, machine)) == expected


def test_unsupported_platform_says_what_to_do() -> None:
    with pytest.raises(versions.UnsupportedPlatform, match="WSL2"):
        versions.detect_platform("Windows", "AMD64")
    with pytest.raises(versions.UnsupportedPlatform, match="linux/riscv64"):
        versions.detect_platform("Linux", "riscv64")


def test_every_supported_platform_has_a_kind_pin() -> None:
    for plat in versions.SUPPORTED_PLATFORMS:
        art = versions.kind_artifact(plat)
        assert art.sha256 == versions.KIND_SHA256[plat]
        assert art.url.endswith(f"/v0.33.0/kind-{plat.os}-{plat.arch}")


def test_istio_artifacts() -> None:
    pinned = versions.istioctl_artifact(versions.LINUX_AMD64)
    assert pinned.url == (
        "https://github.com/istio/istio/releases/download/1.30.3/istio-1.30.3-linux-amd64.tar.gz"
    )
    # Literal pin AND the published file, cross-checked.
    assert pinned.sha256 == "55ada076ba1b37af49e8a24e5e539b4abccabdb33894c923279edd293eea3993"
    assert pinned.checksum_url == pinned.url + ".sha256"
    assert pinned.member == "istio-1.30.3/bin/istioctl"
    assert versions.istioctl_artifact(versions.DARWIN_ARM64).url.endswith(
        "istio-1.30.3-osx-arm64.tar.gz"
    )
    assert versions.istioctl_artifact(versions.DARWIN_AMD64).url.endswith("istio-1.30.3-osx.tar.gz")
    override = versions.istioctl_artifact(versions.LINUX_AMD64, "1.29.1")
    assert override.sha256 is None  # only the published checksum
    assert override.checksum_url is not None and "/1.29.1/" in override.checksum_url
    with pytest.raises(ValueError, match="not an Istio release"):
        versions.istioctl_artifact(versions.LINUX_AMD64, "../../evil")


def test_kubectl_is_verified_against_the_published_checksum() -> None:
    art = versions.kubectl_artifact(versions.LINUX_ARM64)
    assert art.url == "https://dl.k8s.io/release/v1.35.8/bin/linux/arm64/kubectl"
    assert art.checksum_url == art.url + ".sha256"
    assert art.sha256 is None


def test_artifact_requires_a_pin() -> None:
    with pytest.raises(ValueError, match="needs a literal sha256 or a checksum_url"):
        Artifact(name="x", url="https://x/y", max_bytes=1)
    with pytest.raises(ValueError, match="64 lowercase hex"):
        Artifact(name="x", url="https://x/y", max_bytes=1, sha256="ABC")


def test_every_pinned_url_is_https() -> None:
    arts = [b.artifact for b in versions.CRD_BUNDLES]
    for plat in versions.SUPPORTED_PLATFORMS:
        arts += [
            versions.kind_artifact(plat),
            versions.kubectl_artifact(plat),
            versions.istioctl_artifact(plat),
        ]
    for art in arts:
        Fetcher().check_url(art.url)
        if art.checksum_url:
            Fetcher().check_url(art.checksum_url)


def test_image_pins() -> None:
    assert versions.NODE_IMAGE.ref == (
        "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0"
    )
    assert versions.NODE_IMAGE_ALTERNATIVE.ref.startswith("kindest/node:v1.36.4@sha256:099e0493")
    assert versions.AGENT_IMAGE.ref == "python:3.12-slim"
