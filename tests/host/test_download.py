"""harness.host.download against a loopback file server: verified, capped, atomic, https-only."""

from __future__ import annotations

import io
import os
import shutil
import ssl
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import certifi
import pytest
from helpers import closed_port
from loopback_files import BINARY, LOOPBACK, FileServer, artifact, files_in, sha

from harness.host import download, tls
from harness.host.download import (
    ChecksumMismatch,
    DownloadError,
    Fetcher,
    InsecureURL,
    SizeLimitExceeded,
    TruncatedDownload,
)

# --- downloads --------------------------------------------------------------------------------


def test_good_download_is_verified_executable_and_alone(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/kind", BINARY)
    dest = tmp_path / "bin" / "kind-v0.33.0"
    got = download.download_verified(
        artifact(url, sha256=sha(BINARY)), dest, fetcher=LOOPBACK, executable=True
    )
    assert got == dest
    assert dest.read_bytes() == BINARY
    assert os.access(dest, os.X_OK)
    assert dest.stat().st_mode & stat.S_IXUSR
    assert files_in(tmp_path) == [dest]  # no temporary file left beside it


def test_bad_checksum_leaves_nothing(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/kind", BINARY)
    dest = tmp_path / "bin" / "kind-v0.33.0"
    with pytest.raises(ChecksumMismatch) as err:
        download.download_verified(artifact(url, sha256=sha(b"other")), dest, fetcher=LOOPBACK)
    assert sha(BINARY) in str(err.value)  # says what it got
    assert files_in(tmp_path) == []


def test_failed_download_keeps_the_previous_file_intact(files: FileServer, tmp_path: Path) -> None:
    # The rename is the only write to the destination, so a failure never half-replaces it.
    dest = tmp_path / "kind"
    dest.write_bytes(b"previous")
    url = files.add("/kind", BINARY)
    with pytest.raises(ChecksumMismatch):
        download.download_verified(artifact(url, sha256=sha(b"x")), dest, fetcher=LOOPBACK)
    assert dest.read_bytes() == b"previous"
    assert files_in(tmp_path) == [dest]


def test_body_shorter_than_content_length_is_refused(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/kind", BINARY, mode="short")
    with pytest.raises(TruncatedDownload):
        download.download_verified(
            artifact(url, sha256=sha(BINARY)), tmp_path / "kind", fetcher=LOOPBACK
        )
    assert files_in(tmp_path) == []


def test_early_close_without_length_is_caught_by_the_digest(
    files: FileServer, tmp_path: Path
) -> None:
    url = files.add("/kind", BINARY[:100], mode="no-length")
    with pytest.raises(ChecksumMismatch):
        download.download_verified(
            artifact(url, sha256=sha(BINARY)), tmp_path / "kind", fetcher=LOOPBACK
        )
    assert files_in(tmp_path) == []


def test_plain_http_is_refused_in_production(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/kind", BINARY)
    with pytest.raises(InsecureURL, match="only https"):
        download.download_verified(
            artifact(url, sha256=sha(BINARY)), tmp_path / "kind", fetcher=Fetcher()
        )
    assert files.requests == []  # refused before connecting
    assert files_in(tmp_path) == []


def test_loopback_exception_admits_loopback_ip_only() -> None:
    LOOPBACK.check_url("http://127.0.0.1:8080/x")
    LOOPBACK.check_url("https://example.invalid/x")
    for url in ("http://example.invalid/x", "http://localhost:8080/x", "ftp://127.0.0.1/x"):
        with pytest.raises(InsecureURL):
            LOOPBACK.check_url(url)


def test_redirect_to_plain_http_elsewhere_is_refused(files: FileServer, tmp_path: Path) -> None:
    port = files.base.rsplit(":", 1)[1]
    url = files.add("/kind", b"", mode="redirect", location=f"http://localhost:{port}/real")
    files.add("/real", BINARY)
    with pytest.raises(InsecureURL):
        download.download_verified(
            artifact(url, sha256=sha(BINARY)), tmp_path / "k", fetcher=LOOPBACK
        )
    assert files.requests == ["/kind"]
    assert files_in(tmp_path) == []


def test_announced_size_over_cap_is_refused(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/big", BINARY)
    with pytest.raises(SizeLimitExceeded, match="announces"):
        download.download_verified(
            artifact(url, sha256=sha(BINARY), max_bytes=1000), tmp_path / "big", fetcher=LOOPBACK
        )
    assert files_in(tmp_path) == []


def test_streamed_size_over_cap_is_refused(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/big", BINARY, mode="no-length")
    small_chunks = replace(LOOPBACK, chunk_size=512)
    with pytest.raises(SizeLimitExceeded, match="more than"):
        download.download_verified(
            artifact(url, sha256=sha(BINARY), max_bytes=1000),
            tmp_path / "big",
            fetcher=small_chunks,
        )
    assert files_in(tmp_path) == []


def test_http_error_status_is_a_download_error(files: FileServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="HTTP 404"):
        download.download_verified(
            artifact(files.base + "/missing", sha256=sha(b"")), tmp_path / "x", fetcher=LOOPBACK
        )
    assert files_in(tmp_path) == []


def test_published_checksum_file_is_used(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/kubectl", BINARY)
    files.add("/kubectl.sha256", sha(BINARY).encode() + b"\n")  # kubectl's format: bare hex
    dest = tmp_path / "kubectl"
    download.download_verified(artifact(url, checksum_url=url + ".sha256"), dest, fetcher=LOOPBACK)
    assert dest.read_bytes() == BINARY


def test_published_checksum_mismatch_is_refused(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/kubectl", BINARY)
    files.add("/kubectl.sha256", f"{sha(b'other')}  kubectl\n".encode())
    with pytest.raises(ChecksumMismatch):
        download.download_verified(
            artifact(url, checksum_url=url + ".sha256"), tmp_path / "k", fetcher=LOOPBACK
        )
    assert files_in(tmp_path) == []


def test_literal_pin_and_published_file_must_agree(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/istio.tar.gz", BINARY)
    files.add("/istio.tar.gz.sha256", f"{sha(b'other')}  istio.tar.gz\n".encode())
    with pytest.raises(ChecksumMismatch, match="upstream publishes"):
        download.download_verified(
            artifact(url, sha256=sha(BINARY), checksum_url=url + ".sha256"),
            tmp_path / "istioctl",
            fetcher=LOOPBACK,
        )
    assert "/istio.tar.gz" not in files.requests  # decided before the big download
    assert files_in(tmp_path) == []


def test_checksum_file_without_digest_is_refused(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/k", BINARY)
    files.add("/k.sha256", b"<html>not found</html>")
    with pytest.raises(DownloadError, match="does not contain a sha256"):
        download.download_verified(
            artifact(url, checksum_url=url + ".sha256"), tmp_path / "k", fetcher=LOOPBACK
        )


def _tarball(members: dict[str, bytes], symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
        if symlink is not None:
            link = tarfile.TarInfo(symlink)
            link.type = tarfile.SYMTYPE
            link.linkname = "/etc/passwd"
            archive.addfile(link)
    return buffer.getvalue()


def test_istioctl_is_extracted_from_the_verified_tarball(files: FileServer, tmp_path: Path) -> None:
    tarball = _tarball(
        {
            "istio-9.9.9/bin/istioctl": BINARY,
            "istio-9.9.9/manifests/x.yaml": b"kind: X\n",
            "../escape": b"never written",
        }
    )
    url = files.add("/istio-9.9.9-linux-amd64.tar.gz", tarball)
    dest = tmp_path / "bin" / "istioctl-9.9.9"
    download.download_verified(
        artifact(url, sha256=sha(tarball), member="istio-9.9.9/bin/istioctl"),
        dest,
        fetcher=LOOPBACK,
        executable=True,
    )
    assert dest.read_bytes() == BINARY
    assert os.access(dest, os.X_OK)
    assert files_in(tmp_path) == [dest]  # the tarball is gone, nothing else extracted
    assert not (tmp_path.parent / "escape").exists()


@pytest.mark.parametrize(
    ("members", "symlink", "message"),
    [
        ({"istio-9.9.9/README": b"x"}, None, "is not in"),
        ({}, "istio-9.9.9/bin/istioctl", "not a regular file"),
    ],
)
def test_tarball_without_a_regular_istioctl_is_refused(
    files: FileServer,
    tmp_path: Path,
    members: dict[str, bytes],
    symlink: str | None,
    message: str,
) -> None:
    tarball = _tarball(members, symlink)
    url = files.add("/istio.tar.gz", tarball)
    with pytest.raises(DownloadError, match=message):
        download.download_verified(
            artifact(url, sha256=sha(tarball), member="istio-9.9.9/bin/istioctl"),
            tmp_path / "istioctl",
            fetcher=LOOPBACK,
        )
    assert files_in(tmp_path) == []


def test_extracted_member_has_its_own_cap(files: FileServer, tmp_path: Path) -> None:
    tarball = _tarball({"istio-9.9.9/bin/istioctl": BINARY})
    url = files.add("/istio.tar.gz", tarball)
    with pytest.raises(SizeLimitExceeded):
        download.download_verified(
            artifact(
                url, sha256=sha(tarball), member="istio-9.9.9/bin/istioctl", max_member_bytes=10
            ),
            tmp_path / "istioctl",
            fetcher=LOOPBACK,
        )
    assert files_in(tmp_path) == []


def test_line_progress_reports_every_step(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/kind", BINARY)
    out = io.StringIO()
    fetcher = replace(LOOPBACK, chunk_size=1024, progress=download.line_progress(out, 4096))
    download.download_verified(
        artifact(url, sha256=sha(BINARY)), tmp_path / "kind", fetcher=fetcher
    )
    lines = out.getvalue().splitlines()
    # One line per 4 KiB step, plus the final one; the checksum fetch reports nothing.
    assert len(lines) == len(BINARY) // 4096 + 1
    assert all(line.startswith("  test artifact: ") and " of " in line for line in lines)


# --- the TLS context: one per process and trust setting, still verifying -----------------------


@pytest.fixture
def contexts_made(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, object]]]:
    """The keyword arguments of every verifying context made (httpx loads its CA bundle through
    ssl.create_default_context, ~26 ms each), from a process that has made none yet."""
    made: list[dict[str, object]] = []
    real = ssl.create_default_context

    def counting(*args: object, **kwargs: object) -> ssl.SSLContext:
        made.append(kwargs)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl, "create_default_context", counting)
    tls.forget_contexts()
    yield made
    tls.forget_contexts()


def test_downloads_share_one_verifying_tls_context(
    files: FileServer, tmp_path: Path, contexts_made: list[dict[str, object]]
) -> None:
    url = files.add("/kind", BINARY)
    for name in ("first", "second"):
        dest = tmp_path / name
        download.download_verified(artifact(url, sha256=sha(BINARY)), dest, fetcher=LOOPBACK)
        assert dest.read_bytes() == BINARY
    assert contexts_made == [{"cafile": certifi.where()}]
    context = tls.tls_context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname


def test_a_production_download_trusts_the_ca_variables_as_httpx_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, contexts_made: list[dict[str, object]]
) -> None:
    """trust_env stays on for real downloads: SSL_CERT_FILE (as it is when the download starts)
    chooses the CA bundle; the loopback test fetcher (trust_env off) keeps httpx's own."""
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    bundles = [tmp_path / "one.pem", tmp_path / "two.pem"]
    for bundle in bundles:
        shutil.copy(certifi.where(), bundle)
    production = Fetcher(timeout_s=2.0, connect_timeout_s=1.0)
    url = f"https://127.0.0.1:{closed_port()}/kind.sha256"
    for bundle in (*bundles, bundles[0]):
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
        with pytest.raises(DownloadError):  # nobody listens: refused at once
            download.fetch_published_checksum(production, url)
    with pytest.raises(DownloadError):
        download.fetch_published_checksum(LOOPBACK, f"http://127.0.0.1:{closed_port()}/x")
    assert contexts_made == [
        {"cafile": str(bundles[0])},
        {"cafile": str(bundles[1])},
        {"cafile": certifi.where()},
    ]
