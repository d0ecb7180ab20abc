"""harness.host.tools: which tool at which pin (override, PATH, cache, download); CRD files."""

from __future__ import annotations

import json
import socket
from dataclasses import replace
from pathlib import Path

import pytest
from fakes.standin import SHEBANG
from helpers import CRDS
from loopback_files import LOOPBACK, FileServer, artifact, files_in, sha

from harness.host import tools, versions
from harness.host.tools import ToolUnavailable
from harness.host.versions import Platform

# --- ensure_tool ------------------------------------------------------------------------------


def fake_tool(directory: Path, name: str, stdout: str, exit_code: int = 0) -> Path:
    """A tiny executable that prints a version the way the real tool would."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"{SHEBANG}\nimport sys\nsys.stdout.write({stdout!r})\nsys.exit({exit_code})\n")
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


def test_an_override_at_another_version_is_warned_about_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = fake_tool(tmp_path / "mine", "kubectl", '{"clientVersion": {"gitVersion": "v1.20.0"}}')
    env = {"PATH": "", "AMBIENT_HARNESS_KUBECTL": str(other)}
    for _ in range(3):
        assert tools.ensure_tool("kubectl", tmp_path / "cache", platform=LINUX, env=env) == other
    assert capsys.readouterr().err.count("warning: AMBIENT_HARNESS_KUBECTL=") == 1


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
            replace(b.artifact, url=files.add("/" + b.filename, (CRDS / b.filename).read_bytes())),
        )
        for b in versions.CRD_BUNDLES
    )
    for path in tools.fetch_crds(tmp_path, fetcher=LOOPBACK, bundles=bundles):
        assert path.read_bytes() == (CRDS / path.name).read_bytes()


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
