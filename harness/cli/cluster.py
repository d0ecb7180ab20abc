"""`ambient-harness cluster up|down|status`."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from harness.errors import HarnessError
from harness.host.cluster import DEFAULT_CLUSTER_NAME
from harness.host.providers import provider_from_options


def cluster_command(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """The CLI's `cluster` subcommand; errors are printed, not raised. Exit 0 on success."""
    context = getattr(args, "kube_context", None)
    kubeconfig = getattr(args, "kubeconfig", None)
    chosen = getattr(args, "cluster", None)
    # `cluster` defaults to kind; naming a context or kubeconfig means an existing cluster.
    if chosen == "kind" and (context or kubeconfig):
        chosen = "existing"
    action = args.action
    try:
        provider = provider_from_options(
            chosen or "kind",
            context,
            kubeconfig,
            # `cluster up` leaves the cluster running; `cluster down` is a request to delete.
            keep=action == "up"
            or (bool(getattr(args, "keep_cluster", False)) and action != "down"),
            name=getattr(args, "cluster_name", None) or DEFAULT_CLUSTER_NAME,
        )
        assert provider is not None  # a cluster kind is always chosen above
        if action == "up":
            print(provider.describe(), file=out)
            print(provider.up(), file=out)
            return 0
        if action == "down":
            print(provider.down(), file=out)
            return 0
        status = provider.status()
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
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
    return 0 if status.exists and status.reachable else 1
