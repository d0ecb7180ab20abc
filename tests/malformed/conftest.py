"""The lint corpus: deliberately broken scenarios, checked by tests/lint against expected.txt.

They are never scenario items: pytest pointed at tests/ (or here) would otherwise collect each
as a rejected scenario, an error per case.
"""

collect_ignore_glob = ["*/scenario.yaml"]  # fnmatch: `*` spans directories too
