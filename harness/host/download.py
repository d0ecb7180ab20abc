"""Verified https downloads: streamed to a temporary file beside the destination, capped in
size, checked against Content-Length and the pinned sha256, renamed into place atomically.

On any failure the temporary file is removed, so a cache never holds a partial or unverified
file. How a pin is trusted is explained in `harness.host.versions`.

    DownloadError (HarnessError)   a download failed or was refused; nothing was left behind
        InsecureURL                not https (plain http only to 127.0.0.1 for tests)
        ChecksumMismatch           the bytes do not match the pin
        TruncatedDownload          fewer bytes than announced, or the connection closed early
        SizeLimitExceeded          larger than the artifact's cap
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, Protocol

from harness.errors import HarnessError
from harness.host import versions
from harness.host.tls import tls_context
from harness.host.versions import Artifact

if TYPE_CHECKING:  # imported where a download starts: httpx costs ~45 ms at every start
    import httpx

_CHECKSUM_MAX_BYTES: Final = 4096


class DownloadError(HarnessError):
    """A download failed or was refused; nothing was left in the cache."""


class InsecureURL(DownloadError):
    """Only https is allowed (plain http only to 127.0.0.1 when a test asks for it)."""


class ChecksumMismatch(DownloadError):
    """The downloaded bytes do not match the pin."""


class TruncatedDownload(DownloadError):
    """The server sent fewer bytes than it announced, or closed the connection early."""


class SizeLimitExceeded(DownloadError):
    """The artifact is larger than its cap."""


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
        import httpx

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
        import httpx

        self.check_url(url)
        client = httpx.Client(
            timeout=httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s),
            follow_redirects=True,
            max_redirects=10,
            # Compressed transfer would make Content-Length and the digest refer to other bytes.
            headers={"Accept-Encoding": "identity", "User-Agent": "ambient-harness"},
            event_hooks={"request": [self._on_request]},
            trust_env=not self.allow_insecure_loopback,
            # The context httpx would build for this trust_env, made once per process.
            verify=tls_context(trust_env=not self.allow_insecure_loopback),
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
    import httpx

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
