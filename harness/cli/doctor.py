"""`ambient-harness doctor`: the host (and, with --context, the cluster) checks on their
own; `cluster up` runs the same checks first unless --skip-doctor."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from harness.host import paths
from harness.host.docker import container_engine
from harness.host.doctor import DoctorFailed
from harness.host.kind import default_kind_config
from harness.kube.client import Kube
from harness.mesh.doctor import preflight


def wants_existing(args: argparse.Namespace) -> bool:
    return bool(
        getattr(args, "kube_context", None)
        or getattr(args, "kubeconfig", None)
        or getattr(args, "cluster", None) == "existing"
    )


def doctor_from_args(args: argparse.Namespace, out: TextIO) -> None:
    """Run every check the options call for, printing each finding; `DoctorFailed` on a fail."""
    existing = wants_existing(args)
    opened: list[Kube] = []
    connect: Callable[[], Kube] | None = None
    if existing:
        kubeconfig = getattr(args, "kubeconfig", None)
        path = Path(kubeconfig).expanduser() if kubeconfig else None
        context = getattr(args, "kube_context", None)

        def connect() -> Kube:
            opened.append(Kube.from_kubeconfig(path, context))
            return opened[-1]

    try:
        preflight(
            kind=not existing,
            cache_dir=paths.cache_root(),
            kind_config=None if existing else default_kind_config(),
            engine=container_engine(),
            kube=connect,
            output=lambda line: print(line, file=out),
        )
    finally:
        for kube in opened:
            kube.close()


def doctor_command(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Exit 0 when nothing failed (warnings included), 1 otherwise."""
    try:
        doctor_from_args(args, out)
    except DoctorFailed:
        print("doctor: a check failed (see FAIL above)", file=sys.stderr)
        return 1
    return 0
