"""Pinned versions and verified tool downloads, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import stat
import sys
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import CRDS

from harness.host import tools, versions
from harness.host.tools import (
    ChecksumMismatch,
    DownloadError,
    Fetcher,
    InsecureURL,
    SizeLimitExceeded,
    ToolUnavailable,
    TruncatedDownload,
)
from harness.host.versions import Artifact, Platform


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- a loopback file server with misbehaviours on demand --------------------------------------


@dataclass
class Route:
    body: bytes
    mode: str = "ok"  # ok | short | no-length | redirect
    location: str = ""


@dataclass
class FileServer:
    base: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def add(self, path: str, body: bytes, mode: str = "ok", location: str = "") -> str:
        self.routes[path] = Route(body, mode, location)
        return self.base + path


def _handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the connection closes after each response

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            server.requests.append(self.path)
            route = server.routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            if route.mode == "redirect":
                self.send_response(302)
                self.send_header("Location", route.location)
                self.end_headers()
                return
            self.send_response(200)
            if route.mode == "short":
                # Announce more than we send, then close: a cut-off transfer.
                self.send_header("Content-Length", str(len(route.body) + 1000))
            elif route.mode != "no-length":
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

    return Handler


@pytest.fixture
def files() -> Iterator[FileServer]:
    state = FileServer(base="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


LOOPBACK = Fetcher(allow_insecure_loopback=True, timeout_s=2.0, connect_timeout_s=1.0)
BINARY = b"\x7fELF pretend binary " + bytes(range(256)) * 64


def artifact(url: str, **kwargs: object) -> Artifact:
    fields: dict[str, object] = {"name": "test artifact", "url": url, "max_bytes": 1 << 20}
    fields.update(kwargs)
    return Artifact(**fields)  # type: ignore[arg-type]


def files_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if not p.is_dir())


# --- downloads --------------------------------------------------------------------------------


def test_good_download_is_verified_executable_and_alone(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/kind", BINARY)
    dest = tmp_path / "bin" / "kind-v0.33.0"
    got = tools.download_verified(
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
        tools.download_verified(artifact(url, sha256=sha(b"other")), dest, fetcher=LOOPBACK)
    assert sha(BINARY) in str(err.value)  # says what it got
    assert files_in(tmp_path) == []


def test_failed_download_keeps_the_previous_file_intact(files: FileServer, tmp_path: Path) -> None:
    # The rename is the only write to the destination, so a failure never half-replaces it.
    dest = tmp_path / "kind"
    dest.write_bytes(b"previous")
    url = files.add("/kind", BINARY)
    with pytest.raises(ChecksumMismatch):
        tools.download_verified(artifact(url, sha256=sha(b"x")), dest, fetcher=LOOPBACK)
    assert dest.read_bytes() == b"previous"
    assert files_in(tmp_path) == [dest]


def test_body_shorter_than_content_length_is_refused(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/kind", BINARY, mode="short")
    with pytest.raises(TruncatedDownload):
        tools.download_verified(
            artifact(url, sha256=sha(BINARY)), tmp_path / "kind", fetcher=LOOPBACK
        )
    assert files_in(tmp_path) == []


def test_early_close_without_length_is_caught_by_the_digest(
    files: FileServer, tmp_path: Path
) -> None:
    url = files.add("/kind", BINARY[:100], mode="no-length")
    with pytest.raises(ChecksumMismatch):
        tools.download_verified(
            artifact(url, sha256=sha(BINARY)), tmp_path / "kind", fetcher=LOOPBACK
        )
    assert files_in(tmp_path) == []


def test_plain_http_is_refused_in_production(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/kind", BINARY)
    with pytest.raises(InsecureURL, match="only https"):
        tools.download_verified(
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
        tools.download_verified(artifact(url, sha256=sha(BINARY)), tmp_path / "k", fetcher=LOOPBACK)
    assert files.requests == ["/kind"]
    assert files_in(tmp_path) == []


def test_announced_size_over_cap_is_refused(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/big", BINARY)
    with pytest.raises(SizeLimitExceeded, match="announces"):
        tools.download_verified(
            artifact(url, sha256=sha(BINARY), max_bytes=1000), tmp_path / "big", fetcher=LOOPBACK
        )
    assert files_in(tmp_path) == []


def test_streamed_size_over_cap_is_refused(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/big", BINARY, mode="no-length")
    small_chunks = replace(LOOPBACK, chunk_size=512)
    with pytest.raises(SizeLimitExceeded, match="more than"):
        tools.download_verified(
            artifact(url, sha256=sha(BINARY), max_bytes=1000),
            tmp_path / "big",
            fetcher=small_chunks,
        )
    assert files_in(tmp_path) == []


def test_http_error_status_is_a_download_error(files: FileServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="HTTP 404"):
        tools.download_verified(
            artifact(files.base + "/missing", sha256=sha(b"")), tmp_path / "x", fetcher=LOOPBACK
        )
    assert files_in(tmp_path) == []


def test_published_checksum_file_is_used(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/kubectl", BINARY)
    files.add("/kubectl.sha256", sha(BINARY).encode() + b"\n")  # kubectl's format: bare hex
    dest = tmp_path / "kubectl"
    tools.download_verified(artifact(url, checksum_url=url + ".sha256"), dest, fetcher=LOOPBACK)
    assert dest.read_bytes() == BINARY


def test_published_checksum_mismatch_is_refused(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/kubectl", BINARY)
    files.add("/kubectl.sha256", f"{sha(b'other')}  kubectl\n".encode())
    with pytest.raises(ChecksumMismatch):
        tools.download_verified(
            artifact(url, checksum_url=url + ".sha256"), tmp_path / "k", fetcher=LOOPBACK
        )
    assert files_in(tmp_path) == []


def test_literal_pin_and_published_file_must_agree(files: FileServer, tmp_path: Path) -> None:
    url = files.add("/istio.tar.gz", BINARY)
    files.add("/istio.tar.gz.sha256", f"{sha(b'other')}  istio.tar.gz\n".encode())
    with pytest.raises(ChecksumMismatch, match="upstream publishes"):
        tools.download_verified(
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
        tools.download_verified(
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
    tools.download_verified(
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
        tools.download_verified(
            artifact(url, sha256=sha(tarball), member="istio-9.9.9/bin/istioctl"),
            tmp_path / "istioctl",
            fetcher=LOOPBACK,
        )
    assert files_in(tmp_path) == []


def test_extracted_member_has_its_own_cap(files: FileServer, tmp_path: Path) -> None:
    tarball = _tarball({"istio-9.9.9/bin/istioctl": BINARY})
    url = files.add("/istio.tar.gz", tarball)
    with pytest.raises(SizeLimitExceeded):
        tools.download_verified(
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
    fetcher = replace(LOOPBACK, chunk_size=1024, progress=tools.line_progress(out, 4096))
    tools.download_verified(artifact(url, sha256=sha(BINARY)), tmp_path / "kind", fetcher=fetcher)
    lines = out.getvalue().splitlines()
    # One line per 4 KiB step, plus the final one; the checksum fetch reports nothing.
    assert len(lines) == len(BINARY) // 4096 + 1
    assert all(line.startswith("  test artifact: ") and " of " in line for line in lines)


# --- ensure_tool ------------------------------------------------------------------------------


def fake_tool(directory: Path, name: str, stdout: str, exit_code: int = 0) -> Path:
    """A tiny executable that prints a version the way the real tool would."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(
        f"#!{sys.executable}\nimport sys\nsys.stdout.write({stdout!r})\nsys.exit({exit_code})\n"
    )
    path.chmod(0o755)
    return path


KIND_OUTPUT = "kind v0.33.0 go1.24.6 linux/amd64\n"
LINUX = Platform("linux", "amd64")


def test_tool_on_path_at_pinned_version_is_used(tmp_path: Path) -> None:
    kind = fake_tool(tmp_path / "path", "kind", KIND_OUTPUT)
    got = tools.ensure_tool(
        "kind", tmp_path / "cache", platform=LINUX, env={"PATH": str(kind.parent)}
    )
    assert got == kind
    assert not (tmp_path / "cache").exists()


def test_tool_on_path_at_another_version_is_not_used(files: FileServer, tmp_path: Path) -> None:
    fake_tool(tmp_path / "path", "kind", "kind v0.17.0 go1.19.2 linux/amd64\n")
    payload = fake_tool(tmp_path / "upstream", "kind", KIND_OUTPUT).read_bytes()
    url = files.add("/kind-linux-amd64", payload)
    env = {"PATH": str(tmp_path / "path")}
    cache = tmp_path / "cache"
    got = tools.ensure_tool(
        "kind",
        cache,
        platform=LINUX,
        env=env,
        fetcher=LOOPBACK,
        artifact=artifact(url, sha256=sha(payload)),
    )
    assert got == cache / "bin" / "kind-v0.33.0"
    assert got.read_bytes() == payload
    assert tools.probe_version(tools.tool_spec("kind", platform=LINUX), got) == "v0.33.0"
    # Second call: served from the cache, no request.
    before = len(files.requests)
    assert tools.ensure_tool("kind", cache, platform=LINUX, env=env, fetcher=LOOPBACK) == got
    assert len(files.requests) == before


def test_unreachable_download_says_how_to_provide_the_tool(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ToolUnavailable) as err:
        tools.ensure_tool(
            "kind",
            tmp_path / "cache",
            platform=LINUX,
            env={"PATH": str(tmp_path / "empty")},
            fetcher=LOOPBACK,
            artifact=artifact(f"http://127.0.0.1:{port}/kind", sha256=sha(b"")),
        )
    message = str(err.value)
    assert "ConnectError" in message  # what failed
    assert "on PATH" in message
    assert str(tmp_path / "cache" / "bin" / "kind-v0.33.0") in message
    assert "AMBIENT_HARNESS_KIND=" in message
    assert files_in(tmp_path) == []


def test_environment_override_is_used_as_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = fake_tool(tmp_path / "mine", "kind", "kind v0.30.0 go1.24 linux/amd64\n")
    env = {"PATH": "", "AMBIENT_HARNESS_KIND": str(other)}
    assert tools.ensure_tool("kind", tmp_path / "cache", platform=LINUX, env=env) == other
    assert "v0.30.0" in capsys.readouterr().err  # warned about the version


def test_environment_override_must_be_executable(tmp_path: Path) -> None:
    env = {"PATH": "", "AMBIENT_HARNESS_KUBECTL": str(tmp_path / "nope")}
    with pytest.raises(ToolUnavailable, match="AMBIENT_HARNESS_KUBECTL"):
        tools.ensure_tool("kubectl", tmp_path / "cache", platform=LINUX, env=env)


def _kubectl_json(version: str) -> str:
    return json.dumps({"clientVersion": {"gitVersion": version}, "kustomizeVersion": "v5.7.1"})


@pytest.mark.parametrize(
    ("output", "accepted"),
    [
        (_kubectl_json("v1.35.8"), True),
        (_kubectl_json("v1.35.2"), True),  # same minor: skew policy allows it
        (_kubectl_json("v1.32.4-dispatcher"), False),
        (_kubectl_json("v1.36.0"), False),
        ("Client Version: v1.35.8\n", False),  # not the JSON we asked for
    ],
)
def test_kubectl_on_path_matches_on_minor(tmp_path: Path, output: str, accepted: bool) -> None:
    kubectl = fake_tool(tmp_path / "path", "kubectl", output)
    found = tools.locate_tool(
        "kubectl", tmp_path / "cache", platform=LINUX, env={"PATH": str(kubectl.parent)}
    )
    assert (found == kubectl) is accepted


def test_istioctl_on_path_must_match_the_requested_istio_version(tmp_path: Path) -> None:
    output = json.dumps({"clientVersion": {"version": "1.30.3", "revision": "abc"}})
    istioctl = fake_tool(tmp_path / "path", "istioctl", output)
    env = {"PATH": str(istioctl.parent)}
    assert tools.locate_tool("istioctl", tmp_path / "c", platform=LINUX, env=env) == istioctl
    assert (
        tools.locate_tool(
            "istioctl", tmp_path / "c", platform=LINUX, env=env, istio_version="1.29.0"
        )
        is None
    )


def test_tool_that_fails_to_run_is_not_used(tmp_path: Path) -> None:
    kind = fake_tool(tmp_path / "path", "kind", KIND_OUTPUT, exit_code=1)
    assert (
        tools.locate_tool("kind", tmp_path / "c", platform=LINUX, env={"PATH": str(kind.parent)})
        is None
    )


def test_planned_path_runs_nothing(tmp_path: Path) -> None:
    env = {"AMBIENT_HARNESS_CACHE": str(tmp_path)}
    assert tools.planned_path("istioctl", platform=LINUX, env=env) == (
        tmp_path / "bin" / "istioctl-1.30.3"
    )
    assert tools.planned_path(
        "kind", platform=LINUX, env={"AMBIENT_HARNESS_KIND": "/opt/kind"}
    ) == (Path("/opt/kind"))


def test_unknown_tool_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown tool"):
        tools.tool_spec("helm", platform=LINUX)


@pytest.mark.parametrize(
    ("parser", "output", "expected"),
    [
        (tools.parse_kind_version, "kind v0.33.0 go1.24.6 darwin/arm64\n", "v0.33.0"),
        (tools.parse_kind_version, "v0.33.0\n", None),
        (tools.parse_kubectl_version, _kubectl_json("v1.35.8"), "v1.35.8"),
        (tools.parse_kubectl_version, "{}", None),
        (tools.parse_istioctl_version, '{"clientVersion": {"version": "1.30.3"}}', "1.30.3"),
        (tools.parse_istioctl_version, "client version: 1.30.3", None),
    ],
)
def test_version_parsers(parser: object, output: str, expected: str | None) -> None:
    assert parser(output) == expected  # type: ignore[operator]


# --- CRDs ---------------------------------------------------------------------------------------


def test_fetch_crds_writes_pinned_names_and_skips_verified_files(
    files: FileServer, tmp_path: Path
) -> None:
    bundles = tuple(
        versions.CrdBundle(
            b.filename,
            replace(
                b.artifact,
                url=files.add(f"/{i}.yaml", f"crd {i}\n".encode()),
                sha256=sha(f"crd {i}\n".encode()),
            ),
        )
        for i, b in enumerate(versions.CRD_BUNDLES)
    )
    paths = tools.fetch_crds(tmp_path / "crds", fetcher=LOOPBACK, bundles=bundles)
    assert [p.name for p in paths] == [
        "gateway-api-v1.5.1-experimental.yaml",
        "istio-1.30.3-crd-all.gen.yaml",
    ]
    assert paths[1].read_text() == "crd 1\n"
    seen = len(files.requests)
    assert tools.fetch_crds(tmp_path / "crds", fetcher=LOOPBACK, bundles=bundles) == paths
    assert len(files.requests) == seen


def test_pinned_crd_digests_match_the_upstream_files(files: FileServer, tmp_path: Path) -> None:
    # Serve the real upstream files; the real pins must accept them.
    bundles = tuple(
        versions.CrdBundle(
            b.filename,
            replace(
                b.artifact, url=files.add("/" + b.filename, (CRDS / b.filename).read_bytes())
            ),
        )
        for b in versions.CRD_BUNDLES
    )
    for path in tools.fetch_crds(tmp_path, fetcher=LOOPBACK, bundles=bundles):
        assert path.read_bytes() == (CRDS / path.name).read_bytes()


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


def test_fetch_crds_failure_says_how_to_provide_the_file(files: FileServer, tmp_path: Path) -> None:
    bundle = versions.CRD_BUNDLES[0]
    broken = (versions.CrdBundle(bundle.filename, replace(bundle.artifact, url=files.base + "/x")),)
    with pytest.raises(ToolUnavailable) as err:
        tools.fetch_crds(tmp_path, fetcher=LOOPBACK, bundles=broken)
    message = str(err.value)
    assert "HTTP 404" in message
    assert str(tmp_path / "gateway-api-v1.5.1-experimental.yaml") in message
    assert "AMBIENT_HARNESS_CRD_DIR" in message
    assert files_in(tmp_path) == []
