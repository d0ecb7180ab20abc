"""Where the harness keeps its files on a user's machine (stdlib only: lint imports it).

- `$AMBIENT_HARNESS_CACHE` (default `~/.cache/ambient-harness`): pinned tools under `bin/`,
  the kind kubeconfig, the parsed CRD index;
- `$AMBIENT_HARNESS_CRD_DIR` (default `<cache>/crds`): the pinned CRD bundles lint validates
  against (`ambient-harness schemas fetch`); tests and CI point it at `../shared/crds`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

CACHE_ENV = "AMBIENT_HARNESS_CACHE"
CRD_DIR_ENV = "AMBIENT_HARNESS_CRD_DIR"


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    configured = env.get(CACHE_ENV)
    return (
        Path(configured).expanduser() if configured else Path.home() / ".cache" / "ambient-harness"
    )


def crd_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    configured = env.get(CRD_DIR_ENV)
    return Path(configured).expanduser() if configured else cache_root(env) / "crds"
