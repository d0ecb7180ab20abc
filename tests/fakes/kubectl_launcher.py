"""`kubectl` as a program on disk: tests/fakes/fake_kubectl.py under a shebang naming this
interpreter (the harness starts kubectl by path, as it would the real one)."""

from __future__ import annotations

from pathlib import Path

from fakes.standin import SHEBANG

FAKE_KUBECTL = Path(__file__).resolve().with_name("fake_kubectl.py")


def write_kubectl(directory: Path) -> Path:
    """`directory/kubectl`, executable; `directory` is created if missing."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "kubectl"
    # The program's own text, not a runpy launcher: runpy's imports (pkgutil, typing) were
    # a third of each start-up, and a run restarts kubectl many times.
    script.write_text(f"{SHEBANG}\n{FAKE_KUBECTL.read_text(encoding='utf-8')}")
    script.chmod(0o755)
    return script
