"""The loopback file server as a fixture (helpers in loopback_files.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loopback_files import FileServer, serve_files


@pytest.fixture
def files() -> Iterator[FileServer]:
    with serve_files() as server:
        yield server
