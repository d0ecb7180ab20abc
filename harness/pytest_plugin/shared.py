"""One set-up per pytest run across processes (pytest-xdist): an exclusive file lock and a
reference count in the run's shared temporary directory (see session.py for the protocol)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class SharedSetup:
    """Serialises set-up across processes and counts users, in `directory`."""

    directory: Path
    cluster_name: str
    joined: bool = False

    @property
    def lock_path(self) -> Path:
        return self.directory / f"ambient-harness-{self.cluster_name}.lock"

    @property
    def state_path(self) -> Path:
        return self.directory / f"ambient-harness-{self.cluster_name}.json"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.lock_path.open("a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {"users": 0, "created": False}
        return data if isinstance(data, dict) else {"users": 0, "created": False}

    def _write(self, state: Mapping[str, Any]) -> None:
        tmp = self.state_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dict(state)))
        tmp.replace(self.state_path)

    def join(self, bring_up: Callable[[], bool], install: Callable[[], object]) -> None:
        """Under the lock: bring the cluster up (recording whether it was created), install.

        The user is counted even when set-up fails, so `leave` stays balanced.
        """
        with self.locked():
            state = self._read()
            state["users"] = int(state.get("users", 0)) + 1
            self._write(state)
            self.joined = True
            created = bring_up()
            if created:
                state["created"] = True
                self._write(state)
            install()

    def leave(self, teardown: Callable[[], object]) -> bool:
        """Under the lock: one user fewer; the last one runs `teardown` if the run created
        the cluster. Returns whether teardown ran."""
        if not self.joined:
            return False
        self.joined = False
        with self.locked():
            state = self._read()
            state["users"] = max(0, int(state.get("users", 0)) - 1)
            last = state["users"] == 0 and bool(state.get("created"))
            if last:
                state["created"] = False
            self._write(state)
            if last:
                teardown()
            return last


def shared_directory(config: pytest.Config) -> Path:
    """The run's temporary directory, shared by pytest-xdist workers (their basetemp's parent)."""
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None:
        return Path(tempfile.gettempdir()) / f"ambient-harness-{os.getuid()}"
    base = Path(factory.getbasetemp())
    return base.parent if hasattr(config, "workerinput") else base
