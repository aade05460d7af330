"""The steps of running code that both sessions' execution flows share.

Each session kind pumps its child's output through its own decoder; around that pump,
stopping the code works the same for both: `stop_if_due` interrupts, then kills, when the
`RunControl` says so, and `pump_until_over` keeps pumping, quietly, after the consumer has
left (`Cancelled`), until the code has stopped. Events pass the output budget on their way
out (`emit_admitted`), and the last ones are handed out only if the consumer is still there
(`emit_last`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Literal, TypeVar, cast

from ._child import KILL_WAIT, Child
from ._control import RunControl
from ._flow import Cancelled, Emit, Flow, Receive, WaitExit
from .events import ExecutionEvent, Finished

if TYPE_CHECKING:
    from typing import Any

    from ._jupyter_decode import JupyterDecoder

    Message = dict[str, Any]

T = TypeVar("T")


def stop_if_due(child: Child, control: RunControl, now: float) -> Flow[bool]:
    """Interrupt or kill the child when `control` says it is time; `True` once it is killed."""
    action = control.due(now)
    if action == "interrupt":
        child.interrupt()
    elif action == "kill":
        child.kill()
        yield WaitExit(KILL_WAIT)
        return True
    return False


def pump_until_over(
    pump: Callable[[bool], Flow[T]], child: Child, control: RunControl
) -> Flow[tuple[T, bool]]:
    """Run `pump(quiet)` to its end; its outcome, and whether the consumer left meanwhile.

    When `Cancelled` is thrown in (the consumer stopped iterating), the code is asked to
    stop (interrupted now, killed after `Limits.grace`) and the pump starts again quietly:
    it must then emit nothing, but still run until the code has stopped.
    """
    quiet = False
    while True:
        try:
            outcome = yield from pump(quiet)
        except Cancelled:
            quiet = True
            if control.stop(time.monotonic(), "cancelled"):
                child.interrupt()
        else:
            return outcome, quiet


def emit_admitted(control: RunControl, events: Iterable[ExecutionEvent], quiet: bool) -> Flow[None]:
    """Emit what the output budget admits of `events` (counted, but not emitted, when quiet)."""
    for event in events:
        for admitted in control.admit(event):
            if not quiet:
                yield Emit(admitted)


def emit_last(held_back: Callable[[], list[ExecutionEvent]], finished: Finished, quiet: bool) -> Flow[None]:
    """Unless quiet, emit what the decoder held back (`held_back()`), then `finished`."""
    if not quiet:
        for event in [*held_back(), finished]:
            yield Emit(event)


IDLE_AFTER_REPLY = 1.0
"""Seconds after an execution's reply to wait for its idle status, which may be lost."""


def pump_jupyter(
    kernel: Child, decoder: JupyterDecoder, control: RunControl, quiet: bool
) -> Flow[Literal["done", "killed", "died"]]:
    """Receive a Jupyter execution's messages until it is done, stopping it when due.

    The same for a local kernel and a gateway's: the messages come over `iopub` and the
    reply over `shell`; the child says whether it is gone.
    """
    replied_at: float | None = None
    while not decoder.done:
        now = time.monotonic()
        if (yield from stop_if_due(kernel, control, now)):
            return "killed"
        message = cast("Message | None", (yield Receive(control.wait(now), "iopub")))
        if message is not None:
            yield from emit_admitted(control, decoder.feed(message), quiet)
            continue
        if kernel.closed or kernel.poll() is not None:
            return "died"
        reply = cast("Message | None", (yield Receive(0, "shell")))
        if reply is not None:
            decoder.feed_reply(reply)
        if decoder.replied:
            replied_at = replied_at or now
            if now - replied_at > IDLE_AFTER_REPLY:
                return "done"  # the idle status was lost (iopub dropped messages)
    return "done"
