"""The cluster options shared by `run`, `demo` and `cluster`, and the one place an argparse
`Namespace` becomes the typed `SessionOptions` the run takes (this module stays light: the
parser is built for every command)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness.host.cluster import DEFAULT_CLUSTER_NAME

if TYPE_CHECKING:
    from harness.run.options import SessionOptions


def add_cluster_choice(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """Which cluster: shared by run, demo and cluster (pytest has the same names)."""
    g = p.add_argument_group("cluster")
    g.add_argument(
        "--cluster",
        choices=["kind", "existing"],
        default=None,
        help="kind: create or reuse a kind cluster; existing: use --context/--kubeconfig",
    )
    g.add_argument("--cluster-name", default=DEFAULT_CLUSTER_NAME, help="kind cluster name")
    g.add_argument(
        "--context",
        "--kube-context",
        dest="kube_context",
        default=None,
        help="use this context of an existing cluster (as kubectl's --context)",
    )
    g.add_argument("--kubeconfig", default=None, help="kubeconfig of an existing cluster")
    return g


def add_cluster_options(p: argparse.ArgumentParser) -> None:
    """The cluster choice and what a run does with it: shared by run and demo."""
    g = add_cluster_choice(p)
    g.add_argument(
        "--keep-cluster",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="leave the kind cluster running afterwards (an existing cluster is never deleted)",
    )
    g.add_argument(
        "--keep",
        action="store_true",
        help="leave the scenario namespaces in place (for debugging)",
    )
    g.add_argument("--istio-version", default=None, help="install this Istio instead of the pin")
    g.add_argument(
        "--artifacts", type=Path, default=Path("artifacts"), help="diagnostics directory"
    )
    g.add_argument(
        "--image-registry",
        default=None,
        help="hub for the Istio images, e.g. the mirror gcr.io/istio-release or a local registry",
    )
    g.add_argument(
        "--ready-timeout",
        type=float,
        default=None,
        help="seconds each readiness wait may take, image pulls in progress not counted",
    )
    g.add_argument(
        "--skip-doctor",
        action="store_true",
        help="set up without the host and cluster checks (`ambient-harness doctor`)",
    )


def session_options(args: argparse.Namespace) -> SessionOptions:
    """`SessionOptions` from a command that took `add_cluster_options`."""
    # Imported here, not at the top: `lint` and `plan` must not pay for the cluster modules.
    from harness.run.options import SessionOptions

    return SessionOptions(
        cluster=args.cluster,
        cluster_name=args.cluster_name or DEFAULT_CLUSTER_NAME,
        kube_context=args.kube_context,
        kubeconfig=args.kubeconfig,
        keep_cluster=bool(args.keep_cluster),
        keep=bool(args.keep),
        istio_version=args.istio_version,
        artifacts=Path(args.artifacts or "artifacts"),
        skip_doctor=bool(getattr(args, "skip_doctor", False)),
        image_registry=getattr(args, "image_registry", None),
        ready_timeout=getattr(args, "ready_timeout", None),
    )
