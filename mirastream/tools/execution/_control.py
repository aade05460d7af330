"""The clock and output budget of one execution, and how its `Finished` reads (IO-free).

`RunControl` decides when to interrupt and when to kill (from `Limits.timeout`,
`Limits.grace` and stop requests), drops output past `Limits.max_output_bytes`, and
turns what happened into the final `Finished`. Times are passed in, so tests can use any
clock; sessions pass `time.monotonic()`.
"""

from __future__ import annotations

from typing import Literal

from .events import ExecutionEvent, Finished, FinishStatus, Image, Output
from .limits import Limits

POLL = 0.25
"""Longest single wait, so deaths, stop requests and deadlines are noticed promptly."""

StopReason = Literal["timeout", "interrupted", "cancelled", "closed"]
Action = Literal["interrupt", "kill"]


class RunControl:
    """The state of one running execution: deadline, stop requests, output budget."""

    __slots__ = ("_budget", "_deadline", "_limits", "_phase", "_truncated", "reason", "started")

    def __init__(self, limits: Limits, now: float) -> None:
        self._limits = limits
        self.started = now
        self._deadline = now + limits.timeout
        self._phase: Literal["running", "stopping", "killing"] = "running"
        self.reason: StopReason | None = None
        self._budget = limits.max_output_bytes
        self._truncated = False

    def wait(self, now: float) -> float:
        """How long the next wait may last."""
        return max(0.0, min(self._deadline - now, POLL))

    def stop(self, now: float, reason: StopReason) -> bool:
        """Ask the code to stop; `True` when the caller should interrupt it now.

        The code gets `Limits.grace` seconds, then `due()` says `"kill"`.
        """
        if self._phase != "running":
            return False
        self._phase = "stopping"
        self.reason = reason
        self._deadline = now + self._limits.grace
        return True

    def kill(self, reason: StopReason) -> None:
        """Record that the child is being killed at once (the session is closing)."""
        self.reason = self.reason or reason
        self._phase = "killing"

    def due(self, now: float) -> Action | None:
        """What to do now: interrupt (the timeout passed), kill (the grace passed), or nothing."""
        if now < self._deadline or self._phase == "killing":
            return None
        if self._phase == "running":
            self.stop(now, "timeout")
            return "interrupt"
        self._phase = "killing"
        return "kill"

    def admit(self, event: ExecutionEvent) -> list[ExecutionEvent]:
        """The events to emit for `event`, with `Limits.max_output_bytes` applied."""
        if self._budget is None or not isinstance(event, (Output, Image)):
            return [event]
        if self._truncated:
            return []
        data = event.text.encode() if isinstance(event, Output) else event.data.encode()
        if len(data) <= self._budget:
            self._budget -= len(data)
            return [event]
        self._truncated = True
        events: list[ExecutionEvent] = []
        if isinstance(event, Output) and self._budget:
            events.append(Output(event.stream, data[: self._budget].decode(errors="ignore")))
        note = f"\n[output truncated: more than {self._limits.max_output_bytes} bytes]\n"
        events.append(Output("stderr", note))
        return events

    def finished(
        self,
        now: float,
        status: FinishStatus,
        error: str | None,
        *,
        killed: bool = False,
        restart_note: str = "",
    ) -> Finished:
        """The final event.

        Args:
            now: the time it ended.
            status: how the code itself ended (`"ok"`, `"error"`, or `"killed"` if the child
                died); a stop request or the timeout takes precedence.
            error: the code's own error, if any.
            killed: whether the session killed the child.
            restart_note: what a restart loses, said when the child was killed or died.
        """
        duration = now - self.started
        lost = f"; {restart_note}" if (killed or status == "killed") and restart_note else ""
        limits = self._limits
        if self.reason == "timeout":
            how = (
                f"did not stop within the {limits.grace:g} s grace and was killed"
                if killed
                else "was interrupted"
            )
            return Finished("timeout", f"timed out after {limits.timeout:g} s and {how}{lost}", duration)
        if self.reason in ("interrupted", "cancelled"):
            if killed:
                text = f"interrupted; did not stop within the {limits.grace:g} s grace and was killed"
                return Finished("killed", text + lost, duration)
            return Finished("interrupted", f"interrupted ({error})" if error else "interrupted", duration)
        if self.reason == "closed":
            return Finished("killed", f"the session was closed while the code ran{lost}", duration)
        if status == "ok":
            return Finished("ok", None, duration)
        return Finished(status, (error or status) + lost, duration)
