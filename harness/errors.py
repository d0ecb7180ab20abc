"""The harness's exceptions: one root, so the CLI and the pytest plugin catch what the harness
raises on purpose and let everything else (a bug) show its traceback.

    HarnessError                      every error the harness raises on purpose
    (the tree below it is completed by each package; see the docstring's end)
"""

from __future__ import annotations


class HarnessError(Exception):
    """Root of every error the harness raises on purpose (never a bug)."""
