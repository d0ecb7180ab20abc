"""kind, kubectl and istioctl at their pinned versions; CRD schema files.

Resolution order for a tool (first hit wins):

1. ``AMBIENT_HARNESS_<TOOL>=/path`` — the user's explicit choice, used as given (a warning is
   printed when it reports another version);
2. the tool on PATH, when ``<tool> version`` reports the pinned version (kubectl: the pinned
   minor, as the Kubernetes skew policy allows patch differences);
3. the cache, ``$AMBIENT_HARNESS_CACHE/bin/<tool>-<version>`` (default
   ``~/.cache/ambient-harness``); files only get there verified, by atomic rename;
4. a download over https, sha256-verified (see `harness.host.versions` for how pins work).

Downloads stream to a temporary file in the cache directory, are capped in size, checked
against Content-Length, verified, made executable and renamed into place; on any failure the
temporary file is removed, so the cache never holds a partial or unverified file.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final, Protocol

import httpx

from harness.host import argv as commands
from harness.host import versions
from harness.host.paths import cache_root
from harness.host.paths import crd_dir as default_crd_dir
from harness.host.versions import Artifact, Platform

TOOL_NAMES: Final = ("kind", "kubectl", "istioctl")
_CHECKSUM_MAX_BYTES: Final = 4096
_VERSION_TIMEOUT_S: Final = 10.0


# --- errors ---------------------------------------------------------------------------------


class ToolError(RuntimeError):
    """Base class for everything this module raises."""


class DownloadError(ToolError):
    """A download failed or was refused; nothing was left in the cache."""


class InsecureURL(DownloadError):
    """Only https is allowed (plain http only to 127.0.0.1 when a test asks for it)."""


class ChecksumMismatch(DownloadError):
    """The downloaded bytes do not match the pin."""


class TruncatedDownload(DownloadError):
    """The server sent fewer bytes than it announced, or closed the connection early."""


class SizeLimitExceeded(DownloadError):
    """The artifact is larger than its cap."""


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


# --- fetching -------------------------------------------------------------------------------


def _is_loopback_host(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


ProgressFn = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class Fetcher:
    """HTTP policy for downloads.

    Production is https-only. `allow_insecure_loopback` exists for tests that serve files from
    a local `http.server`: it admits plain http to loopback IP addresses only (never a name,
    never another host) and ignores proxy variables for those requests.
    """

    timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    chunk_size: int = 64 * 1024
    allow_insecure_loopback: bool = False
    progress: ProgressFn | None = field(default=None)

    def check_url(self, url: str) -> None:
        parsed = httpx.URL(url)
        if parsed.scheme == "https":
            return
        if (
            self.allow_insecure_loopback
            and parsed.scheme == "http"
            and _is_loopback_host(parsed.host)
        ):
            return
        raise InsecureURL(
            f"refusing to download {url}: only https:// URLs are allowed for tool and schema "
            "downloads (an http:// download can be altered in transit)"
        )

    def _on_request(self, request: httpx.Request) -> None:
        # Runs for every request, redirects included: a redirect to http:// is refused too.
        self.check_url(str(request.url))

    @contextlib.contextmanager
    def open(self, url: str) -> Iterator[httpx.Response]:
        self.check_url(url)
        client = httpx.Client(
            timeout=httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s),
            follow_redirects=True,
            max_redirects=10,
            # Compressed transfer would make Content-Length and the digest refer to other bytes.
            headers={"Accept-Encoding": "identity", "User-Agent": "ambient-harness"},
            event_hooks={"request": [self._on_request]},
            trust_env=not self.allow_insecure_loopback,
        )
        try:
            with client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise DownloadError(f"GET {url} answered HTTP {response.status_code}")
                yield response
        except httpx.TransportError as exc:
            raise DownloadError(f"GET {url} failed: {type(exc).__name__}: {exc}") from exc
        finally:
            client.close()


class _Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...


class _Buffer:
    """A tiny in-memory sink with the `write` that `_stream_to` needs."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, chunk: bytes) -> int:
        self.data += chunk
        return len(chunk)


def _content_length(response: httpx.Response) -> int | None:
    raw = response.headers.get("content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def _stream_to(
    fetcher: Fetcher,
    url: str,
    out: _Sink,
    max_bytes: int,
    label: str,
    progress: ProgressFn | None = None,
) -> tuple[str, int]:
    """Stream `url` into `out`; return (sha256 hex, byte count). Enforces cap and length."""
    digest = hashlib.sha256()
    received = 0
    with fetcher.open(url) as response:
        expected = _content_length(response)
        if expected is not None and expected > max_bytes:
            raise SizeLimitExceeded(
                f"{label}: {url} announces {expected} bytes, over the {max_bytes}-byte cap"
            )
        try:
            for chunk in response.iter_raw(fetcher.chunk_size):
                received += len(chunk)
                if received > max_bytes:
                    raise SizeLimitExceeded(
                        f"{label}: {url} sent more than the {max_bytes}-byte cap"
                    )
                digest.update(chunk)
                out.write(chunk)
                if progress is not None:
                    progress(label, received, expected)
        except httpx.TransportError as exc:
            # h11 reports a body cut short of Content-Length as a protocol error.
            raise TruncatedDownload(
                f"{label}: connection closed after {received} of "
                f"{expected if expected is not None else '?'} bytes ({exc})"
            ) from exc
    if expected is not None and received != expected:
        raise TruncatedDownload(f"{label}: received {received} of {expected} bytes from {url}")
    return digest.hexdigest(), received


def fetch_published_checksum(fetcher: Fetcher, url: str) -> str:
    """Read a `.sha256` file: either ``<hex>`` or ``<hex>  <filename>``."""
    sink = _Buffer()
    _stream_to(fetcher, url, sink, _CHECKSUM_MAX_BYTES, f"checksum {url}")
    text = sink.data.decode("ascii", errors="replace").strip()
    token = text.split()[0].lower() if text else ""
    if not re.fullmatch(r"[0-9a-f]{64}", token):
        raise DownloadError(f"{url} does not contain a sha256 digest")
    return token


def expected_digests(artifact: Artifact, fetcher: Fetcher) -> set[str]:
    """Every digest the artifact must match; a literal pin and the published file must agree."""
    wanted: set[str] = set()
    if artifact.sha256 is not None:
        wanted.add(artifact.sha256)
    if artifact.checksum_url is not None:
        published = fetch_published_checksum(fetcher, artifact.checksum_url)
        if artifact.sha256 is not None and published != artifact.sha256:
            raise ChecksumMismatch(
                f"{artifact.name}: pinned sha256 {artifact.sha256} but upstream publishes "
                f"{published} at {artifact.checksum_url}; refusing to guess which is right"
            )
        wanted.add(published)
    return wanted


@contextlib.contextmanager
def _temp_in(directory: Path, prefix: str) -> Iterator[tuple[Path, IO[bytes]]]:
    """A temporary file next to its destination (same filesystem: rename is atomic).

    Deleted on exit unless it has been renamed away.
    """
    fd, name = tempfile.mkstemp(prefix=f".{prefix}.", suffix=".part", dir=directory)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield path, handle
    finally:
        path.unlink(missing_ok=True)


def _finish(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _make_executable(path: Path) -> None:
    mode = path.stat().st_mode
    path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | stat.S_IRUSR)


def download_verified(
    artifact: Artifact, dest: Path, *, fetcher: Fetcher | None = None, executable: bool = False
) -> Path:
    """Download `artifact` to `dest` (its `member`, for a tarball), verified, atomically.

    Raises a `DownloadError` subclass on any failure, leaving nothing new in `dest`'s directory.
    """
    fetcher = fetcher or Fetcher(progress=default_progress())
    wanted = expected_digests(artifact, fetcher)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _temp_in(dest.parent, dest.name) as (tmp, handle):
        actual, _size = _stream_to(
            fetcher, artifact.url, handle, artifact.max_bytes, artifact.name, fetcher.progress
        )
        _finish(handle)
        if actual not in wanted:
            raise ChecksumMismatch(
                f"{artifact.name}: sha256 of {artifact.url} is {actual}, expected "
                f"{' or '.join(sorted(wanted))}; the download was discarded"
            )
        if artifact.member is None:
            if executable:
                _make_executable(tmp)
            tmp.replace(dest)
        else:
            _extract_member(artifact, tmp, dest, executable=executable)
    return dest


def _extract_member(artifact: Artifact, tarball: Path, dest: Path, *, executable: bool) -> None:
    """Copy the one regular-file member out of a verified tarball; no path from it is used."""
    assert artifact.member is not None  # guarded by the caller
    limit = artifact.max_member_bytes or artifact.max_bytes
    try:
        with tarfile.open(tarball, mode="r:gz") as archive:
            try:
                info = archive.getmember(artifact.member)
            except KeyError:
                raise DownloadError(
                    f"{artifact.name}: {artifact.member} is not in {artifact.url}"
                ) from None
            if not info.isreg():
                raise DownloadError(f"{artifact.name}: {artifact.member} is not a regular file")
            if info.size > limit:
                raise SizeLimitExceeded(
                    f"{artifact.name}: {artifact.member} is {info.size} bytes, over {limit}"
                )
            source = archive.extractfile(info)
            if source is None:
                raise DownloadError(f"{artifact.name}: cannot read {artifact.member}")
            with _temp_in(dest.parent, dest.name) as (tmp, handle):
                shutil.copyfileobj(source, handle, 1024 * 1024)
                _finish(handle)
                if executable:
                    _make_executable(tmp)
                tmp.replace(dest)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DownloadError(f"{artifact.name}: cannot unpack {artifact.url}: {exc}") from exc


# --- progress -------------------------------------------------------------------------------


def line_progress(stream: IO[str], every_bytes: int = 8 * versions.MiB) -> ProgressFn:
    """One line per `every_bytes` (for logs and CI, where a redrawn bar would be noise)."""
    last: dict[str, int] = {}

    def report(label: str, received: int, total: int | None) -> None:
        step = received // every_bytes
        done = total is not None and received == total and received >= every_bytes
        if step == last.get(label, 0) and not done:
            return
        last[label] = step
        mib = received / versions.MiB
        of = f" of {total / versions.MiB:.1f}" if total else ""
        stream.write(f"  {label}: {mib:.1f}{of} MiB\n")
        stream.flush()

    return report


def rich_progress() -> ProgressFn:
    """A redrawn progress bar on a terminal."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskID,
        TextColumn,
        TransferSpeedColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def report(label: str, received: int, total: int | None) -> None:
        if label not in tasks:
            bar.start()
            tasks[label] = bar.add_task(label, total=total)
        bar.update(tasks[label], completed=received)
        if total is not None and received >= total:
            bar.stop()

    return report


def default_progress() -> ProgressFn:
    return rich_progress() if sys.stderr.isatty() else line_progress(sys.stderr)


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


def _checked_override(spec: ToolSpec, path: Path) -> Path:
    variable = override_variable(spec.name)
    if not _is_executable_file(path):
        raise ToolUnavailable(f"{variable}={path} is not an executable file")
    found = probe_version(spec, path)
    if found is None or not spec.compatible(found, spec.version):
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
