"""`demo --cast FILE`: the narration as an asciinema v2 recording
(https://docs.asciinema.org/manual/asciicast/v2/): a JSON header line (version 2, width,
height, timestamp, title), then one `[seconds, "o", text]` line per write to the terminal.

The recorder sits between the console and the terminal, so the recording is exactly what
was shown. A pause is a gap in time: in --interactive, the time the speaker took; otherwise
(a replay runs in an instant) `pause_s` at every screen boundary, so that the cast can be
watched at the talk's pace. Both clocks are injected: tests never sleep.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Final, TextIO

CAST_PAUSE_S: Final = 4.0  # a screen read aloud, roughly; `asciinema play -i` caps idle time


class CastRecorder:
    """A text stream that writes through to `out` (if any) and records each write."""

    def __init__(
        self,
        out: TextIO | None,
        clock: Callable[[], float],
        *,
        pause_s: float = CAST_PAUSE_S,
    ) -> None:
        self.out = out
        self.clock = clock
        self.pause_s = pause_s
        self.start = clock()
        self.offset = 0.0
        self.events: list[tuple[float, str]] = []

    # --- the stream rich writes to -----------------------------------------------------------

    def write(self, text: str) -> int:
        if self.out is not None:
            self.out.write(text)
        if text:
            self.events.append((self.clock() - self.start + self.offset, text))
        return len(text)

    def flush(self) -> None:
        if self.out is not None:
            self.out.flush()

    def isatty(self) -> bool:
        return self.out is not None and self.out.isatty()

    def fileno(self) -> int:
        if self.out is None:
            raise OSError("a recording has no file descriptor")
        return self.out.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.out, "encoding", None) or "utf-8"

    # --- the recording -----------------------------------------------------------------------

    def pause(self) -> None:
        """A screen boundary nobody waited at: make the recording wait."""
        self.offset += self.pause_s

    def output(self) -> str:
        """What the recording shows, written as the terminal got it."""
        return "".join(text for _, text in self.events)

    def lines(self, width: int, height: int, title: str, timestamp: int) -> list[str]:
        header = {
            "version": 2,
            "width": width,
            "height": height,
            "timestamp": timestamp,
            "title": title,
            "env": {"TERM": "xterm-256color"},
        }
        out = [json.dumps(header, ensure_ascii=False)]
        for t, text in self.events:
            # A terminal's line discipline turns \n into \r\n; a player needs the \r too.
            shown = text.replace("\r\n", "\n").replace("\n", "\r\n")
            out.append(json.dumps([round(t, 6), "o", shown], ensure_ascii=False))
        return out

    def save(self, path: Path, *, width: int, height: int, title: str, timestamp: int) -> None:
        text = "\n".join(self.lines(width, height, title, timestamp)) + "\n"
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)
