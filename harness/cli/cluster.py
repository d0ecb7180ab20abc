"""`ambient-harness cluster up|down|status`: the kind cluster (or an existing one) by itself.

It takes only the options that mean something here: which cluster (`--cluster`,
`--cluster-name`, `--context`/`--kube-context`, `--kubeconfig`). `up` leaves the cluster
running; `down` deletes a kind cluster; an existing cluster is never deleted.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from harness.cli.doctor import doctor_from_args
from harness.cli.exitcodes import EXIT_FAILED, EXIT_NO_DOCKER, EXIT_OK, EXIT_USAGE
from harness.errors import HarnessError
from harness.host.cluster import DEFAULT_CLUSTER_NAME
from harness.host.docker import DockerUnavailable
from harness.host.providers import ClusterOptionError
from harness.run.options import SessionOptions


def cluster_command(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """The CLI's `cluster` subcommand; errors are printed, not raised. Exit 0 on success."""
    action = args.action
    chosen = args.cluster
    # `cluster` defaults to kind; naming a context or kubeconfig means an existing cluster.
    if chosen in (None, "kind") and (args.kube_context or args.kubeconfig):
        chosen = "existing"
    options = SessionOptions(
        cluster=chosen or "kind",
        cluster_name=args.cluster_name or DEFAULT_CLUSTER_NAME,
        kube_context=args.kube_context,
        kubeconfig=args.kubeconfig,
        # `cluster up` leaves the cluster running; `cluster down` is a request to delete.
        keep_cluster=action != "down",
    )
    try:
        provider = options.provider()
    except ClusterOptionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if action == "up":
            if not getattr(args, "skip_doctor", False):
                doctor_from_args(args, out)  # DoctorFailed before anything is created
            print(provider.describe(), file=out)
            print(provider.up(), file=out)
            return EXIT_OK
        if action == "down":
            print(provider.down(), file=out)
            return EXIT_OK
        status = provider.status()
    except DockerUnavailable as exc:  # as `run` and `demo` say it (harness/cli/exitcodes.py)
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_DOCKER
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    state = "exists" if status.exists else "does not exist"
    reach = {True: "reachable", False: "not reachable", None: "reachability unknown"}
    print(
        f"{status.provider} cluster {status.name!r}: {state}, {reach[status.reachable]}", file=out
    )
    if status.context:
        print(f"  context:    {status.context}", file=out)
    if status.kubeconfig:
        print(f"  kubeconfig: {status.kubeconfig}", file=out)
    if status.detail:
        print(f"  {status.detail}", file=out)
    return EXIT_OK if status.exists and status.reachable else EXIT_FAILED
