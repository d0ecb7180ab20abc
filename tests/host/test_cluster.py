"""Cluster providers and command construction, offline.

kind and docker are replaced by small executables that record their arguments (honest
stand-ins for the CLIs: the real code paths, pytest-kind included, run them); the "existing
cluster" is a loopback HTTP server answering /version like an API server.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from helpers import closed_port

from harness.host import argv as commands
from harness.host import cluster, versions
from harness.host.cluster import (
    ClusterError,
    ClusterProvider,
    DockerUnavailable,
    ExistingProvider,
    KindProvider,
    check_docker,
    provider_from_options,
)

REPO = Path(__file__).resolve().parents[2]
KIND = Path("/opt/bin/kind")
ISTIOCTL = Path("/opt/bin/istioctl")
KUBECTL = Path("/opt/bin/kubectl")


# --- command construction ---------------------------------------------------------------------


def test_kind_create_arguments() -> None:
    argv = commands.kind_create(
        KIND,
        "demo",
        kubeconfig=Path("/tmp/kc"),
        image=versions.NODE_IMAGE.ref,
        config=Path("kind-config.yaml"),
        wait="120s",
    )
    assert argv == [
        "/opt/bin/kind",
        "create",
        "cluster",
        "--name=demo",
        "--kubeconfig=/tmp/kc",
        f"--image={versions.NODE_IMAGE.ref}",
        "--config",
        "kind-config.yaml",
        "--wait",
        "120s",
    ]
    assert commands.kind_create(KIND, "demo") == [
        "/opt/bin/kind",
        "create",
        "cluster",
        "--name=demo",
    ]


def test_kind_other_arguments() -> None:
    assert commands.kind_delete(KIND, "demo", kubeconfig=Path("/tmp/kc")) == [
        "/opt/bin/kind",
        "delete",
        "cluster",
        "--name=demo",
        "--kubeconfig=/tmp/kc",
    ]
    assert commands.kind_get_clusters(KIND) == ["/opt/bin/kind", "get", "clusters"]
    assert commands.kind_version(KIND) == ["/opt/bin/kind", "version"]
    assert commands.kind_export_kubeconfig(KIND, "demo", kubeconfig=Path("/k")) == [
        "/opt/bin/kind",
        "export",
        "kubeconfig",
        "--name=demo",
        "--kubeconfig=/k",
    ]
    assert commands.kind_context("demo") == "kind-demo"


def test_istioctl_install_arguments() -> None:
    assert commands.istioctl_install(ISTIOCTL) == [
        "/opt/bin/istioctl",
        "install",
        "--set",
        "profile=ambient",
        "--set",
        "meshConfig.accessLogFile=/dev/stdout",
        "--set",
        "values.pilot.env.PILOT_ENABLE_ALPHA_GATEWAY_API=true",
        "--skip-confirmation",
    ]
    argv = commands.istioctl_install(
        ISTIOCTL,
        sets=["values.global.logging.level=default:debug"],
        kubeconfig=Path("/k"),
        context="kind-demo",
        access_log=False,
    )
    assert argv == [
        "/opt/bin/istioctl",
        "install",
        "--set",
        "profile=ambient",
        "--set",
        "values.pilot.env.PILOT_ENABLE_ALPHA_GATEWAY_API=true",
        "--set",
        "values.global.logging.level=default:debug",
        "--skip-confirmation",
        "--kubeconfig",
        "/k",
        "--context",
        "kind-demo",
    ]


def test_istioctl_other_arguments() -> None:
    assert commands.istioctl_version(ISTIOCTL) == [
        "/opt/bin/istioctl",
        "version",
        "--remote=false",
        "-o",
        "json",
    ]
    assert commands.istioctl_ztunnel_workloads(ISTIOCTL) == [
        "/opt/bin/istioctl",
        "ztunnel-config",
        "workloads",
    ]
    assert commands.istioctl_ztunnel_workloads(
        ISTIOCTL, workload_namespace="bookinfo", node="ambient-worker", output="json"
    ) == [
        "/opt/bin/istioctl",
        "ztunnel-config",
        "workloads",
        "--workload-namespace",
        "bookinfo",
        "--node",
        "ambient-worker",
        "-o",
        "json",
    ]


def test_kubectl_arguments() -> None:
    assert commands.kubectl_version_client(KUBECTL) == [
        "/opt/bin/kubectl",
        "version",
        "--client",
        "-o",
        "json",
    ]
    assert commands.kubectl_wait_nodes_ready(
        KUBECTL, timeout="60s", kubeconfig=Path("/k"), context="kind-demo"
    ) == [
        "/opt/bin/kubectl",
        "--kubeconfig",
        "/k",
        "--context",
        "kind-demo",
        "wait",
        "--for=condition=Ready",
        "nodes",
        "--all",
        "--timeout=60s",
    ]


# --- kind-config.yaml -------------------------------------------------------------------------


def test_kind_config_pins_three_nodes_by_digest() -> None:
    config = yaml.safe_load((REPO / "kind-config.yaml").read_text())
    nodes = config["nodes"]
    assert [n["role"] for n in nodes] == ["control-plane", "worker", "worker"]
    assert {n["image"] for n in nodes} == {versions.NODE_IMAGE.ref}
    assert "@sha256:" in versions.NODE_IMAGE.ref
    # The built-in copy used outside a checkout says the same.
    assert config == cluster.KIND_CONFIG
    assert cluster.default_kind_config() == REPO / "kind-config.yaml"


# --- docker -----------------------------------------------------------------------------------


def script(directory: Path, name: str, body: str) -> Path:
    """An executable Python script standing in for a CLI."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!{sys.executable}\nimport json, os, sys, time\n{body}\n")
    path.chmod(0o755)
    return path


def test_docker_missing_from_path(tmp_path: Path) -> None:
    with pytest.raises(DockerUnavailable) as err:
        check_docker(engine="docker", search_path=str(tmp_path))
    message = str(err.value)
    assert "`docker` is not on PATH" in message
    assert "Install Docker" in message
    assert "ambient-harness plan" in message


def test_docker_engine_not_running(tmp_path: Path) -> None:
    script(
        tmp_path,
        "docker",
        "sys.stderr.write('Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\\n')"
        "\nsys.exit(1)",
    )
    with pytest.raises(DockerUnavailable) as err:
        check_docker(engine="docker", search_path=str(tmp_path))
    message = str(err.value)
    assert "engine is not reachable (Cannot connect to the Docker daemon" in message
    assert "systemctl start docker" in message


def test_docker_engine_hanging(tmp_path: Path) -> None:
    script(tmp_path, "docker", "time.sleep(30)")
    with pytest.raises(DockerUnavailable, match=r"did not answer within 0\.3s"):
        check_docker(engine="docker", search_path=str(tmp_path), timeout_s=0.3)


def test_docker_engine_running(tmp_path: Path) -> None:
    script(tmp_path, "docker", "print('Server Version: 28.2.2')")
    check_docker(engine="docker", search_path=str(tmp_path))


_NO_ENGINE = (
    shutil.which("docker") is None
    or bool(os.environ.get("DOCKER_HOST"))
    or Path("/var/run/docker.sock").exists()
)


@pytest.mark.skipif(
    _NO_ENGINE, reason="needs the docker CLI with no engine (as on the dev machine)"
)
def test_real_docker_cli_without_engine() -> None:
    with pytest.raises(DockerUnavailable, match="engine is not reachable"):
        check_docker(engine="docker")


def test_kind_up_without_docker_runs_nothing(tmp_path: Path) -> None:
    resolved: list[str] = []

    def resolve(name: str) -> Path:
        resolved.append(name)
        return tmp_path / name

    provider = KindProvider(
        "demo",
        cache_dir=tmp_path,
        docker_check=lambda: check_docker(engine="docker", search_path=str(tmp_path / "none")),
        resolve_tool=resolve,
    )
    with pytest.raises(DockerUnavailable):
        provider.up()
    assert resolved == []  # no tool resolved, nothing downloaded


# --- a loopback "API server" ------------------------------------------------------------------


class ApiServer:
    def __init__(self) -> None:
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                owner.requests.append(f"GET {self.path}")
                body = json.dumps(
                    {  # the fields a real API server returns for /version
                        "major": "1",
                        "minor": "35",
                        "gitVersion": "v1.35.8",
                        "gitCommit": "0" * 40,
                        "gitTreeState": "clean",
                        "buildDate": "2026-01-01T00:00:00Z",
                        "goVersion": "go1.25.0",
                        "compiler": "gc",
                        "platform": "linux/amd64",
                    }
                ).encode()
                self.send_response(200 if self.path.rstrip("/") == "/version" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_DELETE(self) -> None:
                owner.requests.append(f"DELETE {self.path}")
                self.send_error(405)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def version_api() -> Iterator[ApiServer]:
    """Answers only /version: all ExistingProvider asks of a cluster (not conftest's `api`)."""
    server = ApiServer()
    try:
        yield server
    finally:
        server.close()


def kubeconfig_text(server: str, context: str = "kind-demo") -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": server}}],
            "users": [{"name": context, "user": {"token": "test"}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            "current-context": context,
        }
    )


# --- ExistingProvider -------------------------------------------------------------------------


def test_existing_cluster_is_used_and_never_deleted(version_api: ApiServer, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(kubeconfig_text(version_api.url, "mine"))
    provider = ExistingProvider(kubeconfig, "mine")
    assert isinstance(provider, ClusterProvider)
    assert "Kubernetes v1.35.8" in provider.up()
    status = provider.status()
    assert (status.exists, status.reachable, status.context) == (True, True, "mine")
    message = provider.down()
    assert "never deletes" in message
    assert version_api.requests == ["GET /version/", "GET /version/"]  # down() sent nothing
    assert provider.commands() == []
    assert "never created or deleted" in provider.describe()


def test_existing_cluster_pins_the_current_context(version_api: ApiServer, tmp_path: Path) -> None:
    """kubectl and istioctl then get --context explicitly: a `kubectl config use-context`
    in another terminal during the run cannot retarget them at another cluster."""
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(kubeconfig_text(version_api.url, "mine"))
    provider = ExistingProvider(kubeconfig)
    assert provider.context is None
    provider.up()
    assert provider.context == "mine"
    assert "context 'mine'" in provider.describe()


def test_existing_cluster_unreachable(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(kubeconfig_text(f"http://127.0.0.1:{closed_port()}", "mine"))
    provider = ExistingProvider(kubeconfig, "mine")
    with pytest.raises(ClusterError, match="not reachable"):
        provider.up()
    assert provider.status().reachable is False


def test_existing_cluster_missing_kubeconfig_or_context(
    version_api: ApiServer, tmp_path: Path
) -> None:
    with pytest.raises(ClusterError, match="does not exist"):
        ExistingProvider(tmp_path / "absent").up()
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(kubeconfig_text(version_api.url, "mine"))
    with pytest.raises(ClusterError, match="cannot load kubeconfig"):
        ExistingProvider(kubeconfig, "other").up()


# --- KindProvider, with stand-in kind/kubectl/docker ------------------------------------------

FAKE_KIND = r"""
log, state = os.environ["FAKE_LOG"], os.environ["FAKE_STATE"]
with open(log, "a") as f:
    f.write(json.dumps([sys.argv[0]] + sys.argv[1:]) + "\n")
clusters = open(state).read().split() if os.path.exists(state) else []
args = sys.argv[1:]
opts = dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)
if args[:2] == ["get", "clusters"]:
    print("\n".join(clusters))
elif args[:2] == ["create", "cluster"] and os.environ.get("FAKE_CREATE_FAILS"):
    clusters.append(opts["name"])  # nodes half made, then the failure
    open(state, "w").write("\n".join(clusters))
    sys.exit(1)
elif args[:2] in (["create", "cluster"], ["export", "kubeconfig"]):
    with open(opts["kubeconfig"], "w") as f:
        f.write(os.environ["FAKE_KUBECONFIG"])
    if args[0] == "create":
        clusters.append(opts["name"])
elif args[:2] == ["delete", "cluster"]:
    clusters = [c for c in clusters if c != opts["name"]]
elif args[:1] == ["version"]:
    print("kind v0.33.0 go1.24.6 linux/amd64")
else:
    sys.exit(2)
open(state, "w").write("\n".join(clusters))
"""

FAKE_KUBECTL = r"""
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps([sys.argv[0]] + sys.argv[1:]) + "\n")
"""


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version_api: ApiServer) -> Path:
    bin_dir = tmp_path / "bin"
    script(bin_dir, "kind", FAKE_KIND)
    script(bin_dir, "kubectl", FAKE_KUBECTL)
    script(bin_dir, "docker", "print('Server Version: 28.2.2')")
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.jsonl"))
    monkeypatch.setenv("FAKE_STATE", str(tmp_path / "clusters"))
    monkeypatch.setenv("FAKE_KUBECONFIG", kubeconfig_text(version_api.url))
    # The real resolution path: the explicit override variables.
    monkeypatch.setenv("AMBIENT_HARNESS_KIND", str(bin_dir / "kind"))
    monkeypatch.setenv("AMBIENT_HARNESS_KUBECTL", str(bin_dir / "kubectl"))
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return bin_dir


def calls(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "calls.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def kind_provider(tmp_path: Path, bin_dir: Path, keep: bool = False) -> KindProvider:
    return KindProvider(
        "demo",
        keep=keep,
        cache_dir=tmp_path / "cache",
        docker_check=lambda: check_docker(engine="docker", search_path=str(bin_dir)),
    )


def test_kind_up_creates_with_pinned_config_then_waits(fake_bin: Path, tmp_path: Path) -> None:
    provider = kind_provider(tmp_path, fake_bin)
    message = provider.up()
    assert message.startswith("created kind cluster 'demo'")
    plan = provider.commands()
    create, wait = plan[2], plan[3]
    assert create == [
        str(fake_bin / "kind"),
        "create",
        "cluster",
        "--name=demo",
        f"--kubeconfig={tmp_path / 'cache' / 'kind' / 'demo' / 'kubeconfig'}",
        "--config",
        str(REPO / "kind-config.yaml"),
    ]
    get = commands.kind_get_clusters(fake_bin / "kind")
    # What really ran: ours, pytest-kind's reuse check, pytest-kind's create, the node wait.
    assert [c for c in calls(tmp_path) if c[1:2] != ["version"]] == [get, get, create, wait]
    assert wait == commands.kubectl_wait_nodes_ready(
        fake_bin / "kubectl", timeout="180s", kubeconfig=provider.kubeconfig, context="kind-demo"
    )
    assert provider.kubeconfig.is_file()
    assert provider.created
    assert not (tmp_path / "work" / ".pytest-kind").exists()  # pytest-kind's stray dir removed
    status = provider.status()
    assert (status.exists, status.reachable) == (True, True)


def test_kind_up_reuses_an_existing_cluster(fake_bin: Path, tmp_path: Path) -> None:
    (tmp_path / "clusters").write_text("other\ndemo\n")
    provider = kind_provider(tmp_path, fake_bin)
    assert provider.up().startswith("reused existing kind cluster 'demo'")
    ran = [c[1:3] for c in calls(tmp_path)]
    assert ["export", "kubeconfig"] in ran
    assert ["create", "cluster"] not in ran
    assert not provider.created  # not ours to delete
    # The exported kubeconfig is real, not the empty file pytest-kind would leave.
    assert yaml.safe_load(provider.kubeconfig.read_text())["current-context"] == "kind-demo"


def test_a_failed_create_still_counts_as_created(
    fake_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So the session deletes the remains instead of a later run "reusing" them."""
    monkeypatch.setenv("FAKE_CREATE_FAILS", "1")
    provider = kind_provider(tmp_path, fake_bin)
    with pytest.raises(ClusterError, match="`kind create cluster` failed"):
        provider.up()
    assert provider.created
    provider.down()
    assert (tmp_path / "clusters").read_text().split() == []


def test_kind_down_deletes_unless_keep(fake_bin: Path, tmp_path: Path) -> None:
    (tmp_path / "clusters").write_text("demo\n")
    kept = kind_provider(tmp_path, fake_bin, keep=True)
    assert kept.down().startswith("kept kind cluster 'demo' (--keep-cluster)")
    assert calls(tmp_path) == []
    message = kind_provider(tmp_path, fake_bin).down()
    assert message == "deleted kind cluster 'demo'"
    deletes = [c for c in calls(tmp_path) if c[1:3] == ["delete", "cluster"]]
    assert len(deletes) == 1 and "--name=demo" in deletes[0]
    assert (tmp_path / "clusters").read_text().split() == []
    assert not (tmp_path / "work" / ".pytest-kind").exists()


def test_kind_status_without_cluster(fake_bin: Path, tmp_path: Path) -> None:
    status = kind_provider(tmp_path, fake_bin).status()
    assert (status.provider, status.exists, status.reachable) == ("kind", False, None)


def test_kind_status_never_downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script(tmp_path / "bin", "docker", "print('Server Version: 28.2.2')")
    monkeypatch.delenv("AMBIENT_HARNESS_KIND", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    provider = KindProvider(
        "demo",
        cache_dir=tmp_path / "cache",
        docker_check=lambda: check_docker(engine="docker", search_path=str(tmp_path / "bin")),
    )
    status = provider.status()
    assert status.exists is False and "tools fetch" in status.detail
    assert not (tmp_path / "cache").exists()


def test_kind_status_without_docker(tmp_path: Path) -> None:
    provider = KindProvider(
        "demo",
        cache_dir=tmp_path,
        docker_check=lambda: check_docker(engine="docker", search_path=str(tmp_path)),
    )
    status = provider.status()
    assert status.exists is False and "not on PATH" in status.detail


def test_kind_plan_and_description_need_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AMBIENT_HARNESS_KIND", raising=False)
    monkeypatch.delenv("AMBIENT_HARNESS_KUBECTL", raising=False)
    provider = KindProvider("demo", cache_dir=tmp_path)
    plan = provider.commands()
    assert plan[1] == [str(tmp_path / "bin" / "kind-v0.33.0"), "get", "clusters"]
    assert all(isinstance(arg, str) for argv in plan for arg in argv)
    text = provider.describe()
    assert "'demo'" in text and versions.NODE_IMAGE.ref in text and "deleted at the end" in text
    assert list(tmp_path.iterdir()) == []  # nothing downloaded or written


# --- options ----------------------------------------------------------------------------------


def test_provider_from_options() -> None:
    assert provider_from_options(None, None, None, False, "x") is None
    kind = provider_from_options("kind", None, None, True, "talk")
    assert isinstance(kind, KindProvider) and kind.name == "talk" and kind.keep
    assert kind.context == "kind-talk"
    existing = provider_from_options(None, "prod", "~/k", False, "x")
    assert isinstance(existing, ExistingProvider)
    assert existing.context == "prod" and existing.kubeconfig == Path.home() / "k"
    default = provider_from_options("existing", None, None, False, "x")
    assert isinstance(default, ExistingProvider) and default.kubeconfig is None
    with pytest.raises(ValueError, match="expected one of kind, existing"):
        provider_from_options("minikube", None, None, False, "x")
    with pytest.raises(ValueError, match="--cluster=kind manages its own"):
        provider_from_options("kind", "prod", None, False, "x")
    custom = provider_from_options(
        "kind", None, None, False, "x", kind_image="kindest/node:v1.36.4", kind_path=Path("/k")
    )
    assert isinstance(custom, KindProvider) and custom.image == "kindest/node:v1.36.4"
    assert custom.commands()[1] == ["/k", "get", "clusters"]
    assert provider_from_options("kind", None, None, False).name == "ambient-harness"  # type: ignore[union-attr]


# --- `ambient-harness cluster up|down|status` -------------------------------------------------


def cli_args(action: str, **overrides: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "action": action,
        "cluster": "kind",  # the CLI's default for `cluster`
        "cluster_name": "demo",
        "kube_context": None,
        "kubeconfig": None,
        "keep_cluster": False,
    }
    values.update(overrides)
    return argparse.Namespace(**values)


def test_cluster_command_on_an_existing_cluster(version_api: ApiServer, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(kubeconfig_text(version_api.url, "mine"))
    out = io.StringIO()
    args = cli_args("status", kube_context="mine", kubeconfig=str(kubeconfig))
    assert cluster.cluster_command(args, out) == 0
    assert "existing cluster 'mine': exists, reachable" in out.getvalue()
    out = io.StringIO()
    assert (
        cluster.cluster_command(
            cli_args("down", kube_context="mine", kubeconfig=str(kubeconfig)), out
        )
        == 0
    )
    assert "never deletes" in out.getvalue()
    assert all(r.startswith("GET ") for r in version_api.requests)


def test_cluster_command_without_docker_fails_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("AMBIENT_HARNESS_CACHE", str(tmp_path / "cache"))
    assert cluster.cluster_command(cli_args("up"), io.StringIO()) == 1
    assert "error: kind runs Kubernetes nodes as containers" in capsys.readouterr().err
    assert not (tmp_path / "cache" / "bin").exists()


def test_cluster_command_down_deletes_even_with_keep(
    fake_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "clusters").write_text("demo\n")
    monkeypatch.setenv("PATH", str(fake_bin))  # docker found here
    monkeypatch.setenv("AMBIENT_HARNESS_CACHE", str(tmp_path / "cache"))
    out = io.StringIO()
    assert cluster.cluster_command(cli_args("down", keep_cluster=True), out) == 0
    assert out.getvalue() == "deleted kind cluster 'demo'\n"
    assert (tmp_path / "clusters").read_text().split() == []


def test_cluster_command_status_of_a_missing_kind_cluster(
    fake_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(fake_bin))
    monkeypatch.setenv("AMBIENT_HARNESS_CACHE", str(tmp_path / "cache"))
    out = io.StringIO()
    assert cluster.cluster_command(cli_args("status"), out) == 1
    assert out.getvalue().startswith("kind cluster 'demo': does not exist")


def test_explicit_tool_paths_skip_lookup(tmp_path: Path) -> None:
    provider = KindProvider(
        "demo", cache_dir=tmp_path, kind_path=Path("/x/kind"), kubectl_path=Path("/x/kubectl")
    )
    plan = provider.commands()
    assert plan[1][0] == "/x/kind" and plan[3][0] == "/x/kubectl"


def test_cluster_command_up_leaves_the_cluster_running(
    fake_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(fake_bin))
    monkeypatch.setenv("AMBIENT_HARNESS_CACHE", str(tmp_path / "cache"))
    out = io.StringIO()
    assert cluster.cluster_command(cli_args("up"), out) == 0
    lines = out.getvalue().splitlines()
    assert "left running afterwards" in lines[0]
    assert lines[1].startswith("created kind cluster 'demo'")
    assert (tmp_path / "clusters").read_text().split() == ["demo"]
