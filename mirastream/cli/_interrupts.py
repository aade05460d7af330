"""Ctrl-C: the first press interrupts; more presses during the cleanup that follows are ignored.

Stopping a turn closes its stream, which stops the running code and kills its process
group. A second Ctrl-C must not cut that cleanup short and leave a child process behind,
so after one press the handler ignores the next ones until the chat is ready again.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any


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
