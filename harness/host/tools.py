"""kind, kubectl and istioctl at their pinned versions; the CRD schema files.

Resolution order for a tool (first hit wins):

1. ``AMBIENT_HARNESS_<TOOL>=/path`` — the user's explicit choice, used as given (a warning is
   printed when it reports another version);
2. the tool on PATH, when ``<tool> version`` reports the pinned version (kubectl: the pinned
   minor, as the Kubernetes skew policy allows patch differences);
3. the cache, ``$AMBIENT_HARNESS_CACHE/bin/<tool>-<version>`` (default
   ``~/.cache/ambient-harness``); files only get there verified, by atomic rename;
4. a download over https, sha256-verified (`harness.host.download`; see
   `harness.host.versions` for how pins work).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from harness.errors import HarnessError
from harness.host import argv as commands
from harness.host import versions
from harness.host.download import DownloadError, Fetcher, download_verified
from harness.host.paths import cache_root
from harness.host.paths import crd_dir as default_crd_dir
from harness.host.versions import Artifact, Platform

TOOL_NAMES: Final = ("kind", "kubectl", "istioctl")
_VERSION_TIMEOUT_S: Final = 10.0


class ToolError(HarnessError):
    """Base class for what this module raises."""


class ToolUnavailable(ToolError):
    """The tool is not on PATH at the pinned version, not cached, and could not be fetched."""


# --- locations ------------------------------------------------------------------------------


def override_variable(name: str) -> str:
    """The environment variable that points at a user-provided binary."""
    return f"AMBIENT_HARNESS_{name.upper()}"


# --- tool specs -----------------------------------------------------------------------------

_SEMVER_RE: Final = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def parse_kind_version(output: str) -> str | None:
    """`kind version` prints e.g. ``kind v0.33.0 go1.24.6 linux/amd64``."""
    match = re.search(r"\bkind (v\d+\.\d+\.\d+\S*)", output)
    return match.group(1) if match else None


def _json_client_version(output: str, key: str) -> str | None:
    try:
        data = json.loads(output)
    except ValueError:
        return None
    client = data.get("clientVersion") if isinstance(data, dict) else None
    value = client.get(key) if isinstance(client, dict) else None
    return value if isinstance(value, str) else None


def parse_kubectl_version(output: str) -> str | None:
    """`kubectl version --client -o json` -> clientVersion.gitVersion (e.g. ``v1.35.8``)."""
    return _json_client_version(output, "gitVersion")


def parse_istioctl_version(output: str) -> str | None:
    """`istioctl version --remote=false -o json` -> clientVersion.version (e.g. ``1.30.3``)."""
    return _json_client_version(output, "version")


def same_version(found: str, pinned: str) -> bool:
    return found == pinned


def same_minor(found: str, pinned: str) -> bool:
    """v1.35.2 is acceptable for v1.35.8; a vendor suffix on another minor is not."""
    a, b = _SEMVER_RE.match(found), _SEMVER_RE.match(pinned)
    return bool(a and b and a.group(1, 2) == b.group(1, 2))


@dataclass(frozen=True)
class ToolSpec:
    """How to find, recognise and fetch one tool at its pinned version."""

    name: str
    version: str
    artifact: Artifact
    version_argv: Callable[[Path], list[str]]
    parse_version: Callable[[str], str | None]
    compatible: Callable[[str, str], bool] = same_version

    @property
    def cache_name(self) -> str:
        return f"{self.name}-{self.version}"


def tool_spec(
    name: str, *, platform: Platform | None = None, istio_version: str | None = None
) -> ToolSpec:
    plat = platform or versions.detect_platform()
    if name == "kind":
        return ToolSpec(
            "kind",
            versions.KIND_VERSION,
            versions.kind_artifact(plat),
            commands.kind_version,
            parse_kind_version,
        )
    if name == "kubectl":
        return ToolSpec(
            "kubectl",
            versions.KUBECTL_VERSION,
            versions.kubectl_artifact(plat),
            commands.kubectl_version_client,
            parse_kubectl_version,
            same_minor,
        )
    if name == "istioctl":
        version = istio_version or versions.ISTIO_VERSION
        return ToolSpec(
            "istioctl",
            version,
            versions.istioctl_artifact(plat, version),
            commands.istioctl_version,
            parse_istioctl_version,
        )
    raise ValueError(f"unknown tool {name!r}; expected one of {', '.join(TOOL_NAMES)}")


def probe_version(spec: ToolSpec, binary: Path) -> str | None:
    """The version `binary` reports, or None when it cannot be run or parsed."""
    try:
        done = subprocess.run(
            spec.version_argv(binary),
            capture_output=True,
            text=True,
            timeout=_VERSION_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return spec.parse_version(done.stdout)


# --- tools ----------------------------------------------------------------------------------


def _is_executable_file(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _how_to_provide(spec: ToolSpec, cached: Path) -> str:
    return (
        f"Provide {spec.name} {spec.version} in one of these ways:\n"
        f"  - put it on PATH (`{spec.name} version` must report {spec.version});\n"
        f"  - place the binary at {cached} (chmod +x);\n"
        f"  - set {override_variable(spec.name)}=/path/to/{spec.name}.\n"
        f"Upstream download: {spec.artifact.url}"
    )


def locate_tool(
    name: str,
    cache_dir: Path | None = None,
    *,
    istio_version: str | None = None,
    platform: Platform | None = None,
    search_path: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Path | None:
    """Find the tool without downloading (override, PATH at the pinned version, cache)."""
    env = os.environ if env is None else env
    spec = tool_spec(name, platform=platform, istio_version=istio_version)
    override = env.get(override_variable(name))
    if override:
        return _checked_override(spec, Path(override).expanduser())
    on_path = shutil.which(name, path=search_path if search_path is not None else env.get("PATH"))
    if on_path is not None:
        found = probe_version(spec, Path(on_path))
        if found is not None and spec.compatible(found, spec.version):
            return Path(on_path)
    cached = (cache_dir or cache_root(env)) / "bin" / spec.cache_name
    return cached if _is_executable_file(cached) else None


# (variable, path, version found) already warned about: a run looks tools up many times, and
# one warning says it all.
_WARNED: set[tuple[str, Path, str | None]] = set()


def _checked_override(spec: ToolSpec, path: Path) -> Path:
    variable = override_variable(spec.name)
    if not _is_executable_file(path):
        raise ToolUnavailable(f"{variable}={path} is not an executable file")
    found = probe_version(spec, path)
    if (found is None or not spec.compatible(found, spec.version)) and (
        (variable, path, found) not in _WARNED
    ):
        _WARNED.add((variable, path, found))
        sys.stderr.write(
            f"warning: {variable}={path} reports version {found or 'unknown'}; "
            f"the harness is pinned to {spec.name} {spec.version}\n"
        )
    return path


def planned_path(
    name: str,
    cache_dir: Path | None = None,
    *,
    istio_version: str | None = None,
    platform: Platform | None = None,
    env: Mapping[str, str] | None = None,
) -> Path:
    """Where the tool will be, for printing a plan: runs nothing, downloads nothing."""
    env = os.environ if env is None else env
    override = env.get(override_variable(name))
    if override:
        return Path(override).expanduser()
    spec = tool_spec(name, platform=platform, istio_version=istio_version)
    return (cache_dir or cache_root(env)) / "bin" / spec.cache_name


def ensure_tool(
    name: str,
    cache_dir: Path | None = None,
    *,
    istio_version: str | None = None,
    platform: Platform | None = None,
    fetcher: Fetcher | None = None,
    search_path: str | None = None,
    env: Mapping[str, str] | None = None,
    artifact: Artifact | None = None,
) -> Path:
    """Path to `name` at its pinned version, downloading and verifying it if needed.

    `artifact` replaces the pinned download (tests point it at a loopback server).
    Raises `ToolUnavailable` saying what failed and how to provide the binary.
    """
    env = os.environ if env is None else env
    spec = tool_spec(name, platform=platform, istio_version=istio_version)
    if artifact is not None:
        spec = ToolSpec(
            spec.name,
            spec.version,
            artifact,
            spec.version_argv,
            spec.parse_version,
            spec.compatible,
        )
    found = locate_tool(
        name,
        cache_dir,
        istio_version=istio_version,
        platform=platform,
        search_path=search_path,
        env=env,
    )
    if found is not None:
        return found
    cached = (cache_dir or cache_root(env)) / "bin" / spec.cache_name
    try:
        sys.stderr.write(f"downloading {spec.artifact.name} from {spec.artifact.url}\n")
        return download_verified(spec.artifact, cached, fetcher=fetcher, executable=True)
    except (DownloadError, OSError) as exc:
        raise ToolUnavailable(
            f"{spec.name} {spec.version} is not on PATH at that version, not in the cache, "
            f"and the download failed: {exc}\n{_how_to_provide(spec, cached)}"
        ) from exc


def fetch_all_tools(
    cache_dir: Path | None = None,
    *,
    istio_version: str | None = None,
    fetcher: Fetcher | None = None,
) -> dict[str, Path]:
    """`ambient-harness tools fetch`: every tool, resolved or downloaded."""
    return {
        name: ensure_tool(name, cache_dir, istio_version=istio_version, fetcher=fetcher)
        for name in TOOL_NAMES
    }


# --- CRD schemas ----------------------------------------------------------------------------


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_crds(
    crd_dir: Path | None = None,
    *,
    fetcher: Fetcher | None = None,
    bundles: tuple[versions.CrdBundle, ...] = versions.CRD_BUNDLES,
) -> list[Path]:
    """`ambient-harness schemas fetch`: the pinned CRD files, verified, into `crd_dir`.

    A file already there with the pinned digest is kept; any other content is replaced.
    Raises `ToolUnavailable` (with the URL, file name and digest to provide by hand).
    """
    target = crd_dir or default_crd_dir()
    paths: list[Path] = []
    for bundle in bundles:
        dest = target / bundle.filename
        pinned = bundle.artifact.sha256
        if not (dest.is_file() and pinned is not None and _file_sha256(dest) == pinned):
            try:
                download_verified(bundle.artifact, dest, fetcher=fetcher)
            except (DownloadError, OSError) as exc:
                raise ToolUnavailable(
                    f"{bundle.artifact.name}: download failed: {exc}\n"
                    f"Download {bundle.artifact.url} yourself and save it as {dest} "
                    f"(sha256 {pinned}), or point AMBIENT_HARNESS_CRD_DIR at a directory "
                    f"holding {bundle.filename}."
                ) from exc
        paths.append(dest)
    return paths
