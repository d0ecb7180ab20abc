"""harness.host.argv: the kind, istioctl and kubectl argument lists."""

from __future__ import annotations

from pathlib import Path

from harness.host import argv as commands
from harness.host import versions

KIND = Path("/opt/bin/kind")
ISTIOCTL = Path("/opt/bin/istioctl")
KUBECTL = Path("/opt/bin/kubectl")


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
