"""Every pinned version, URL, image digest and checksum, in one place.

How a download is trusted (see `Artifact`):

- a *literal* pin (`sha256=...`) is a digest recorded here, in the repository; it is the
  strongest form: the bytes must match what was reviewed when the pin was written;
- a *published* pin (`checksum_url=...`) is the checksum file upstream publishes beside the
  artifact (kubectl's ``<url>.sha256``, Istio's ``<tarball>.sha256``), fetched over https at
  download time. It protects against corruption, truncation and a tampered mirror, not against
  a compromised upstream release page. It is what upstream's own install instructions check,
  and the only option for versions we have not reviewed (e.g. ``--istio-version``);
- both may be given: then both must agree with the downloaded bytes (the pinned Istio tarball
  for linux-amd64 is cross-checked that way).
"""

from __future__ import annotations

import platform as _platform
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from harness.errors import HarnessError

_SHA256_RE: Final = re.compile(r"^[0-9a-f]{64}$")

MiB: Final = 1024 * 1024


# --- platform -------------------------------------------------------------------------------


class UnsupportedPlatform(HarnessError):
    """The host is not one of the platforms we pin binaries for."""


@dataclass(frozen=True, order=True)
class Platform:
    """A (GOOS, GOARCH)-style platform, as used in kind/kubectl download URLs."""

    os: str
    arch: str

    def __str__(self) -> str:
        return f"{self.os}-{self.arch}"


LINUX_AMD64: Final = Platform("linux", "amd64")
LINUX_ARM64: Final = Platform("linux", "arm64")
DARWIN_AMD64: Final = Platform("darwin", "amd64")
DARWIN_ARM64: Final = Platform("darwin", "arm64")
SUPPORTED_PLATFORMS: Final = (LINUX_AMD64, LINUX_ARM64, DARWIN_AMD64, DARWIN_ARM64)

_OS_NAMES: Final = MappingProxyType({"linux": "linux", "darwin": "darwin"})
_ARCH_NAMES: Final = MappingProxyType(
    {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
)


def detect_platform(system: str | None = None, machine: str | None = None) -> Platform:
    """The current platform (or the one named), or `UnsupportedPlatform` saying what to do."""
    raw_os = (system if system is not None else _platform.system()).lower()
    raw_arch = (machine if machine is not None else _platform.machine()).lower()
    os_name = _OS_NAMES.get(raw_os)
    arch = _ARCH_NAMES.get(raw_arch)
    if os_name is None or arch is None:
        supported = ", ".join(str(p) for p in SUPPORTED_PLATFORMS)
        hint = " On Windows, run the harness inside WSL2." if raw_os == "windows" else ""
        raise UnsupportedPlatform(
            f"unsupported platform {raw_os}/{raw_arch}: pinned tool binaries exist for "
            f"{supported}.{hint} Alternatively put kind, kubectl and istioctl on PATH at the "
            "pinned versions (see `ambient-harness tools fetch --help`)."
        )
    return Platform(os_name, arch)


# --- artifacts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Artifact:
    """One downloadable file and how to verify it (see the module docstring).

    `member` names the single file to take out of a ``.tar.gz`` (istioctl inside the Istio
    release); `max_bytes` caps the download and `max_member_bytes` the extracted member.
    """

    name: str
    url: str
    max_bytes: int
    sha256: str | None = None
    checksum_url: str | None = None
    member: str | None = None
    max_member_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.sha256 is None and self.checksum_url is None:
            raise ValueError(f"{self.name}: a pin needs a literal sha256 or a checksum_url")
        if self.sha256 is not None and not _SHA256_RE.match(self.sha256):
            raise ValueError(f"{self.name}: sha256 must be 64 lowercase hex digits")
        if self.max_bytes <= 0:
            raise ValueError(f"{self.name}: max_bytes must be positive")


@dataclass(frozen=True)
class ImageRef:
    """A container image pinned by tag and digest."""

    repository: str
    tag: str
    digest: str | None = None

    @property
    def ref(self) -> str:
        base = f"{self.repository}:{self.tag}"
        return f"{base}@{self.digest}" if self.digest else base


# --- kind -----------------------------------------------------------------------------------

KIND_VERSION: Final = "v0.33.0"
KIND_SHA256: Final = MappingProxyType(
    {
        LINUX_AMD64: "aee6151561422756b764a4ae28e7f44cda5af5a9eead3cc9985112b1de8d8e0d",
        LINUX_ARM64: "20022bee6cfcd5086cb7234d218e3454e6090022f2a8f55d1fa7fcf42c3867a2",
        DARWIN_ARM64: "0c8c7dbe5e23594a198b786c4bc13dacc101fa6196b0cb0b23a1ca44e61f4b4f",
        DARWIN_AMD64: "5a99f26f57246dc9319dd294803313197a0f34d33c525b3ea8b655db5916ece0",
    }
)


def kind_artifact(plat: Platform) -> Artifact:
    sha = KIND_SHA256.get(plat)
    if sha is None:
        raise UnsupportedPlatform(f"no pinned kind {KIND_VERSION} binary for {plat}")
    return Artifact(
        name=f"kind {KIND_VERSION} ({plat})",
        url=(
            "https://github.com/kubernetes-sigs/kind/releases/download/"
            f"{KIND_VERSION}/kind-{plat.os}-{plat.arch}"
        ),
        sha256=sha,
        max_bytes=64 * MiB,  # ~10 MB today
    )


# --- Kubernetes: node image and kubectl ------------------------------------------------------

KUBERNETES_VERSION: Final = "v1.35.8"
NODE_IMAGE: Final = ImageRef(
    "kindest/node",
    KUBERNETES_VERSION,
    "sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0",
)
# The next minor, for a version matrix; Istio 1.30 supports Kubernetes 1.32-1.36.
NODE_IMAGE_ALTERNATIVE: Final = ImageRef(
    "kindest/node",
    "v1.36.4",
    "sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed",
)

# kubectl matches the node's Kubernetes version (the skew policy allows +-1 minor).
KUBECTL_VERSION: Final = KUBERNETES_VERSION


def kubectl_artifact(plat: Platform) -> Artifact:
    url = f"https://dl.k8s.io/release/{KUBECTL_VERSION}/bin/{plat.os}/{plat.arch}/kubectl"
    return Artifact(
        name=f"kubectl {KUBECTL_VERSION} ({plat})",
        url=url,
        checksum_url=url + ".sha256",
        max_bytes=256 * MiB,  # ~60 MB today
    )


# --- Istio ----------------------------------------------------------------------------------

ISTIO_VERSION: Final = "1.30.3"
# Literal pins we reviewed; any other (version, platform) relies on the published .sha256.
ISTIO_TARBALL_SHA256: Final = MappingProxyType(
    {
        (ISTIO_VERSION, LINUX_AMD64): (
            "55ada076ba1b37af49e8a24e5e539b4abccabdb33894c923279edd293eea3993"
        ),
    }
)
_ISTIO_VERSION_RE: Final = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?$")


def is_istio_release(version: str) -> bool:
    """`1.30.3`, `1.31.0-beta.1`: the shape of an Istio release (also keeps it URL-safe)."""
    return bool(_ISTIO_VERSION_RE.match(version))


def istio_archive_suffix(plat: Platform) -> str:
    """Istio names its macOS archives `osx` (amd64) and `osx-arm64`, Linux ones `linux-<arch>`."""
    if plat.os == "darwin":
        return "osx-arm64" if plat.arch == "arm64" else "osx"
    return f"{plat.os}-{plat.arch}"


def istioctl_artifact(plat: Platform, version: str = ISTIO_VERSION) -> Artifact:
    """The Istio release tarball; istioctl is its member `istio-<version>/bin/istioctl`."""
    if not is_istio_release(version):
        raise ValueError(f"not an Istio release version: {version!r} (expected e.g. 1.30.3)")
    filename = f"istio-{version}-{istio_archive_suffix(plat)}.tar.gz"
    url = f"https://github.com/istio/istio/releases/download/{version}/{filename}"
    return Artifact(
        name=f"istio {version} ({plat})",
        url=url,
        sha256=ISTIO_TARBALL_SHA256.get((version, plat)),
        checksum_url=url + ".sha256",
        member=f"istio-{version}/bin/istioctl",
        max_bytes=256 * MiB,  # ~30 MB today
        max_member_bytes=512 * MiB,  # istioctl is ~100 MB uncompressed
    )


# --- CRD schemas (for offline lint) ---------------------------------------------------------

GATEWAY_API_VERSION: Final = "v1.5.1"
# Experimental: TCPRoute is only there in 1.5.x, and since v1.5 an admission policy blocks
# switching channels after install.
GATEWAY_API_CHANNEL: Final = "experimental"


@dataclass(frozen=True)
class CrdBundle:
    """A CRD YAML file and the local file name lint looks for."""

    filename: str
    artifact: Artifact


GATEWAY_API_CRDS: Final = CrdBundle(
    filename=f"gateway-api-{GATEWAY_API_VERSION}-{GATEWAY_API_CHANNEL}.yaml",
    artifact=Artifact(
        name=f"Gateway API {GATEWAY_API_VERSION} {GATEWAY_API_CHANNEL} CRDs",
        url=(
            "https://github.com/kubernetes-sigs/gateway-api/releases/download/"
            f"{GATEWAY_API_VERSION}/{GATEWAY_API_CHANNEL}-install.yaml"
        ),
        sha256="6d57e7db7e4a5c50cbebf62c77e4c19b67b80d72452c6fe2e35db7d9a3e58473",
        max_bytes=16 * MiB,
    ),
)
ISTIO_CRDS: Final = CrdBundle(
    filename=f"istio-{ISTIO_VERSION}-crd-all.gen.yaml",
    artifact=Artifact(
        name=f"Istio {ISTIO_VERSION} CRDs",
        url=(
            f"https://raw.githubusercontent.com/istio/istio/{ISTIO_VERSION}/"
            "manifests/charts/base/files/crd-all.gen.yaml"
        ),
        sha256="dcb43ff6b9af2f629b80b6a82597f5a91db259c757e66cc5353ac007da28351a",
        max_bytes=16 * MiB,
    ),
)
CRD_BUNDLES: Final = (GATEWAY_API_CRDS, ISTIO_CRDS)


# --- in-cluster agent -----------------------------------------------------------------------

# Pinned by tag only: no digest was verified for this pin, and an invented one would break
# pulls. For byte-for-byte reproducibility, add the digest your registry reports
# (`docker buildx imagetools inspect python:3.12-slim`) as `digest="sha256:..."`.
AGENT_IMAGE: Final = ImageRef("python", "3.12-slim")
