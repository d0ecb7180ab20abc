"""`ambient-harness doctor` as a command: options to checks, findings printed, exit status."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from harness.cli.doctor import doctor_command, wants_existing
from harness.cli.main import build_parser


def test_doctor_on_an_unreadable_existing_cluster_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(
        ["doctor", "--context", "nowhere", "--kubeconfig", str(tmp_path / "absent")]
    )
    assert wants_existing(args)
    out = io.StringIO()
    assert doctor_command(args, out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("ok    python   Python 3.")
    assert lines[1].startswith("FAIL  cluster  cannot read the cluster")
    assert "docker" not in out.getvalue()  # an existing cluster needs no container engine
    assert "a check failed" in capsys.readouterr().err


def test_doctor_defaults_to_the_kind_checks() -> None:
    assert not wants_existing(build_parser().parse_args(["doctor"]))
    assert build_parser().parse_args(["cluster", "up", "--skip-doctor"]).skip_doctor
