"""The first line of every stand-in executable the tests write (kind, kubectl, docker, ...)."""

from __future__ import annotations

import sys

# This interpreter without `site` (-S): a stand-in needs only the standard library, and the
# virtualenv's .pth files (the editable install's import hook) are a third of its start-up;
# the suite starts over a hundred stand-ins. The shebang takes this one flag, no more.
SHEBANG = f"#!{sys.executable} -S"
