"""`kubectl` as a program on disk: a script running tests/fakes/fake_kubectl.py with this
interpreter (the harness starts kubectl by path, as it would the real one)."""

from __future__ import annotations

from pathlib import Path

from fakes.standin import SHEBANG

FAKE_KUBECTL = Path(__file__).resolve().with_name("fake_kubectl.py")


def write_kubectl(directory: Path) -> Path:
    """`directory/kubectl`, executable; `directory` is created if missing."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "kubectl"
    script.write_text(
        f"{SHEBANG}\nimport runpy\nrunpy.run_path({str(FAKE_KUBECTL)!r}, run_name='__main__')\n"
    )
    script.chmod(0o755)
    return script
