"""Deadlines for blocking reads: one daemon thread calls a callback when a deadline passes.

A sync stream waiting for its first chunk blocks in a socket read that keep-alive comments
keep alive; the watchdog shuts the connection down at the deadline, so the read returns.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from time import monotonic


class Deadline:
    """A scheduled callback; `cancel()` it once it is no longer needed."""

    __slots__ = ("callback", "fired", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback: Callable[[], None] | None = callback
        self.fired = False

    def cancel(self) -> None:
        """Do not call the callback (harmless once it was called)."""
        self.callback = None


class _Watchdog:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, seconds: float, callback: Callable[[], None]) -> Deadline:
        deadline = Deadline(monotonic() + seconds, callback)
        with self._condition:
            if len(self._heap) >= 1024 and len(self._heap) % 1024 == 0:
                # Cancelled deadlines leave the heap when they come due: drop them now and then.
                self._heap = [entry for entry in self._heap if entry[2].callback is not None]
                heapq.heapify(self._heap)
            heapq.heappush(self._heap, (deadline.when, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="mirastream-watchdog", daemon=True)
                self._thread.start()
            self._condition.notify()
        return deadline

    def _loop(self) -> None:
        while True:
            with self._condition:
                while self._heap and self._heap[0][2].callback is None:
                    heapq.heappop(self._heap)  # cancelled
                if not self._heap:
                    self._condition.wait()
                    continue
                delay = self._heap[0][0] - monotonic()
                if delay > 0:
                    self._condition.wait(delay)
                    continue
                deadline = heapq.heappop(self._heap)[2]
                callback, deadline.callback = deadline.callback, None
            if callback is not None:
                deadline.fired = True
                callback()


_WATCHDOG = _Watchdog()


def schedule(seconds: float, callback: Callable[[], None]) -> Deadline:
    """Call `callback` from the watchdog thread in `seconds`, unless cancelled first."""
    return _WATCHDOG.schedule(seconds, callback)
