"""A scripted `KeySource` (harness/cli/demo_screens.py): the keys a speaker would press."""

from __future__ import annotations

from collections.abc import Sequence


class ScriptedKeys:
    """Keys given in advance; None (end of input) once they run out. `read` lists the keys
    read, so a test sees how many pauses there were."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        self.read: list[str | None] = []
        self.echoes = False

    def read_key(self) -> str | None:
        key = self.keys.pop(0) if self.keys else None
        self.read.append(key)
        return key
