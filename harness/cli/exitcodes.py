"""Exit codes of `ambient-harness`, the same on every command and path.

0    success: every scenario passed (or, for lint/plan/dry-run, the input is valid)
1    a scenario failed or errored, or the session (cluster, Gateway API, Istio) failed
2    bad input: usage, a scenario or manifest that fails to load or lint, no scenario
     found, no cluster chosen, contradicting cluster options; nothing was applied
3    `run`/`demo` with kind, but no usable Docker engine
130  interrupted (Ctrl-C or SIGTERM); namespaces and port-forwards were cleaned up
"""

from __future__ import annotations

from typing import Final

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_NO_DOCKER: Final = 3
EXIT_INTERRUPTED: Final = 130
