"""What a path named in a scenario is on disk: a file, a directory, missing or unusable, and
whether a symlink leads out of the scenario's directory (a manifest outside it would be
applied unseen by a reader of the scenario)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

# The file that makes a directory a scenario (here, not in scenario.py, so that the pytest
# plugin can recognise one without importing the scenario model).
SCENARIO_FILE = "scenario.yaml"


def path_kind(path: Path) -> str:
    """'file', 'dir', 'missing', or 'invalid' (a name too long, a NUL byte, no permission):
    `Path.is_file` raises for the last, and the path comes from the user's YAML or argv."""
    try:
        if path.is_file():
            return "file"
        return "dir" if path.is_dir() else "missing"
    except (OSError, ValueError):
        return "invalid"


def _no_link_below(directory: Path, path: Path) -> bool:
    """`path` is inside `directory` as written and no component below it is a symlink (one
    that cannot be read ends the test: resolving takes the rest as written)."""
    depth = len(directory.parts)
    parts = path.parts
    if parts[:depth] != directory.parts or ".." in parts[depth:]:
        return False
    current = str(directory)
    for part in parts[depth:]:
        current = f"{current}{os.sep}{part}"  # a string: no Path built per component
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return False
        except (OSError, ValueError):
            return True
    return True


def link_outside(directory: Path, path: Path) -> Path | None:
    """Where a symlink leads when that is outside the scenario directory, else None."""
    if _no_link_below(directory, path):
        return None  # the common case, without resolving the directory again for each file
    try:
        target = path.resolve()
        if not target.is_relative_to(directory.resolve()):
            return target
    except (OSError, RuntimeError, ValueError):  # a loop, a name too long, a NUL byte
        return None
    return None
