"""Exit codes of `ambient-harness`, the same on every command and path.

0    success: every scenario passed; lint/plan/dry run: the input is valid; cluster status:
     the cluster exists and answers
1    a scenario failed or errored, or the command's own work failed: the session set-up
     (cluster, Gateway API, Istio), `cluster up|down|status`, `doctor`, `tools|schemas fetch`
2    bad input, nothing was applied: usage, a scenario or manifest that fails to load or
     lint, no scenario found, no cluster chosen, contradicting cluster options,
     `--dry-run` with `--report-json`, an unreadable report for `report`
3    kind was chosen (`run`, `demo`, `cluster up`) but no Docker engine is usable
130  interrupted (Ctrl-C or SIGTERM); namespaces and port-forwards were cleaned up

The pytest plugin keeps pytest's own codes: 1 when a scenario failed or errored and when
the session set-up failed (one error, no scenario run), 2 for a scenario file that does not
load (a collection error), 5 when nothing was collected.
"""

from __future__ import annotations

from typing import Final

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_NO_DOCKER: Final = 3
EXIT_INTERRUPTED: Final = 130
