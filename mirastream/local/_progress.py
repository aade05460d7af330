"""Progress lines on stderr for the slow steps of starting a local model."""

from __future__ import annotations

import sys
import time
from typing import TextIO

PREFIX = "mirastream.local: "


class Progress:
    """Writes `step ...` lines, with a live percentage when stderr is a terminal.

    Disabled, it writes nothing. On a pipe or a file (CI logs), it writes one line when a
    step starts and one when it ends, never a stream of carriage returns.
    """

    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self._stream = stream
        self._label = ""
        self._started = 0.0
        self._shown = -1
        self._live = False

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def start(self, label: str) -> None:
        """Announce a step (`label` is a phrase such as "assembling the model")."""
        self._label, self._started, self._shown = label, time.monotonic(), -1
        if not self.enabled:
            return
        self._live = self.stream.isatty()
        self._write(f"{PREFIX}{label} ...{'' if self._live else chr(10)}")

    def update(self, done: int, total: int) -> None:
        """Show how far the step is, as a percentage (terminals only, at most 100 updates)."""
        if not (self.enabled and self._live) or total <= 0:
            return
        percent = min(100, done * 100 // total)
        if percent != self._shown:
            self._shown = percent
            self._write(f"\r{PREFIX}{self._label} ... {percent:3d}%")

    def done(self, note: str = "") -> float:
        """End the step; returns its duration in seconds."""
        elapsed = time.monotonic() - self._started
        if self.enabled:
            detail = f" ({note})" if note else ""
            if self._live:
                self._write(f"\r{PREFIX}{self._label} ... done in {elapsed:.1f} s{detail}\n")
            else:
                self._write(f"{PREFIX}done in {elapsed:.1f} s{detail}\n")
        return elapsed

    def fail(self) -> None:
        """End a live line after a failed step, so the error starts on a fresh line."""
        if self.enabled and self._live:
            self._write(" failed\n")

    def note(self, text: str) -> None:
        """A one-line message."""
        if self.enabled:
            self._write(f"{PREFIX}{text}\n")
