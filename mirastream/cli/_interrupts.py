"""Ctrl-C: the first press interrupts; more presses during the cleanup that follows are ignored.

Stopping a turn closes its stream, which stops the running code and kills its process
group. A second Ctrl-C must not cut that cleanup short and leave a child process behind,
so after one press the handler ignores the next ones until the chat is ready again.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any, TextIO


class InterruptGuard:
    """Installs the chat's SIGINT handler for the duration of a `with` block (main thread only)."""

    def __init__(self) -> None:
        self._armed = True
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is not signal.SIG_IGN:  # started with Ctrl-C ignored (nohup, ...): keep it so
                self._previous = previous
                signal.signal(signal.SIGINT, self._handle)
                self._installed = True
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._armed:
            self._armed = False
            raise KeyboardInterrupt

    def arm(self) -> None:
        """Let the next Ctrl-C interrupt (once)."""
        self._armed = True

    def disarm(self) -> None:
        """Ignore Ctrl-C (while cleaning up)."""
        self._armed = False


class TerminalEcho:
    """Turns the terminal's echo off while output is live, and back on to read a line.

    A live region (rich's `Live`) redraws the bottom of the screen in place. Anything the
    terminal echoes meanwhile moves the cursor under it: a typed Ctrl-C echoed as `^C` at the
    end of a full-width line wraps it, and the redraw then leaves a copy of the line behind.
    With echo off, nothing but the chat writes to the screen while it streams.
    """

    def __init__(self, stream: TextIO) -> None:
        self._descriptor: int | None = None
        self._saved: list[Any] | None = None
        self._hidden = False
        try:
            import termios

            if stream.isatty():
                self._descriptor = stream.fileno()
                self._saved = termios.tcgetattr(self._descriptor)
        except (ImportError, OSError, ValueError):  # no termios (Windows), or not a real terminal
            self._descriptor = None

    def hide(self) -> None:
        """Stop echoing typed keys (and `^C`) until `show()`."""
        if self._descriptor is None or self._saved is None or self._hidden:
            return
        import termios

        quiet = list(self._saved)
        quiet[3] = self._saved[3] & ~(termios.ECHO | termios.ECHOCTL)
        self._set(quiet)
        self._hidden = True

    def show(self) -> None:
        """Echo again, as the terminal was set before."""
        if self._descriptor is None or self._saved is None or not self._hidden:
            return
        self._set(self._saved)
        self._hidden = False

    def _set(self, attributes: list[Any]) -> None:
        import termios

        assert self._descriptor is not None
        try:
            termios.tcsetattr(self._descriptor, termios.TCSANOW, attributes)
        except termios.error:  # the terminal went away: nothing to restore
            self._descriptor = None
