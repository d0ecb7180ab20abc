"""harness.host.kind: KindProvider with stand-in kind/kubectl/docker (the real code paths,
pytest-kind included, run them)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fakes.fake_kind import calls, script

from harness.host import argv as commands
from harness.host import kind, versions
from harness.host.cluster import ClusterError
from harness.host.docker import DockerUnavailable, check_docker
from harness.host.kind import KindProvider

REPO = Path(__file__).resolve().parents[2]


def test_kind_config_pins_three_nodes_by_digest() -> None:
    config = yaml.safe_load((REPO / "kind-config.yaml").read_text())
    nodes = config["nodes"]
    assert [n["role"] for n in nodes] == ["control-plane", "worker", "worker"]
    assert {n["image"] for n in nodes} == {versions.NODE_IMAGE.ref}
    assert "@sha256:" in versions.NODE_IMAGE.ref
    # The built-in copy used outside a checkout says the same.
    assert config == kind.KIND_CONFIG
    assert kind.default_kind_config() == REPO / "kind-config.yaml"


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


def kind_provider(tmp_path: Path, bin_dir: Path, keep: bool = False) -> KindProvider:
    return KindProvider(
        "demo",
        keep=keep,
        cache_dir=tmp_path / "cache",
        docker_check=lambda: check_docker(engine="docker", search_path=str(bin_dir)),
        engine=str(bin_dir / "docker"),
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
    # Its node image was checked, not assumed: the pinned one, so nothing to say.
    assert provider.node_images == {
        f"demo-{role}": versions.NODE_IMAGE.ref for role in ("control-plane", "worker", "worker2")
    }
    assert provider.warnings == []


def test_a_reused_cluster_with_another_node_image_is_reported(
    fake_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "clusters").write_text("demo\n")
    monkeypatch.setenv("FAKE_NODE_IMAGE", "kindest/node:v1.33.1")
    provider = kind_provider(tmp_path, fake_bin)
    summary = provider.up()
    assert provider.node_images["demo-worker2"] == "kindest/node:v1.33.1"
    (warning,) = provider.warnings
    assert warning.startswith(
        "this cluster was created with another node image (demo-control-plane runs "
        "kindest/node:v1.33.1, demo-worker runs kindest/node:v1.33.1, demo-worker2 runs "
        f"kindest/node:v1.33.1; expected {versions.NODE_IMAGE.ref})"
    )
    assert "`ambient-harness cluster down` then `ambient-harness cluster up`" in warning
    assert summary.endswith("; warning: " + warning)


def test_node_images_that_cannot_be_read_are_said_so() -> None:
    assert kind.node_image_problem({"a"}, {}) == (
        "could not read the node containers' image: the report records the pinned one"
    )
    assert kind.node_image_problem({"a"}, {"n": "a"}) is None


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


def test_explicit_tool_paths_skip_lookup(tmp_path: Path) -> None:
    provider = KindProvider(
        "demo", cache_dir=tmp_path, kind_path=Path("/x/kind"), kubectl_path=Path("/x/kubectl")
    )
    plan = provider.commands()
    assert plan[1][0] == "/x/kind" and plan[3][0] == "/x/kubectl"
