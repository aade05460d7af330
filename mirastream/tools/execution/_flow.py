"""Flows: the session logic as generators of IO steps, driven by a sync or an async loop.

Starting a child, running code, stopping it and closing are written once, as generators
that yield the IO they need (`Receive`, `WaitExit`) or an event to hand to the consumer
(`Emit`), and get the IO's result back from `send()`. Everything a flow does besides
waiting (sending a request, writing a line, signalling a process group) cannot block, so
it does it directly. The sync driver performs the waits with blocking calls, the async
driver with awaits; nothing else differs between the two worlds.

When the consumer stops early (a generator closed, a task cancelled, `KeyboardInterrupt`
in the host), the driver throws `Cancelled` into the flow and runs it to its end without
handing out events: the flow stops the code (interrupt, then kill after the grace period).
If even that fails, the driver calls `kill_now`, so code is never left running.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Literal, TypeAlias, TypeVar

from .events import ExecutionEvent

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Receive:
    """Wait up to `timeout` seconds for input from the child; the reply is it, or `None`."""

    timeout: float
    channel: Literal["iopub", "shell"] = "iopub"


@dataclass(frozen=True, slots=True)
class WaitExit:
    """Wait up to `timeout` seconds for the child to end; the reply is its return code or `None`."""

    timeout: float


@dataclass(frozen=True, slots=True)
class Emit:
    """Hand `event` to the consumer; the reply is `None`."""

    event: ExecutionEvent


Step: TypeAlias = Receive | WaitExit | Emit
Flow: TypeAlias = Generator[Step, object, T]


class Cancelled(Exception):
    """Thrown into a flow whose consumer stopped: stop the code, emit nothing more."""


Perform = Callable[[Receive | WaitExit], object]
APerform = Callable[[Receive | WaitExit], Awaitable[object]]


def run(flow: Flow[T], perform: Perform) -> T:
    """Run a flow that emits no events to its end, blocking; return its result."""
    reply: object = None
    while True:
        try:
            step = flow.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        reply = None if isinstance(step, Emit) else perform(step)


async def arun(flow: Flow[T], perform: APerform) -> T:
    """Run a flow that emits no events to its end, awaiting; return its result."""
    reply: object = None
    while True:
        try:
            step = flow.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        reply = None if isinstance(step, Emit) else await perform(step)


def stream(flow: Flow[None], perform: Perform, kill_now: Callable[[], None]) -> Iterator[ExecutionEvent]:
    """Drive an execution flow, yielding its events as they come."""
    reply: object = None
    while True:
        try:
            step = flow.send(reply)
        except StopIteration:
            return
        except BaseException:
            kill_now()
            raise
        try:
            if isinstance(step, Emit):
                reply = None
                yield step.event
            else:
                reply = perform(step)
        except BaseException:
            try:
                run(cancelled(flow), perform)
            except BaseException:
                kill_now()
                raise
            raise


async def astream(
    flow: Flow[None], perform: APerform, kill_now: Callable[[], None]
) -> AsyncGenerator[ExecutionEvent, None]:
    """Drive an execution flow, yielding its events as they come (async)."""
    reply: object = None
    while True:
        try:
            step = flow.send(reply)
        except StopIteration:
            return
        except BaseException:
            kill_now()
            raise
        try:
            if isinstance(step, Emit):
                reply = None
                yield step.event
            else:
                reply = await perform(step)
        except BaseException:
            try:
                await arun(cancelled(flow), perform)
            except BaseException:
                kill_now()
                raise
            raise


def cancelled(flow: Flow[None]) -> Flow[None]:
    """The rest of `flow` after `Cancelled` is thrown into it (nothing if it has ended)."""
    if inspect.getgeneratorstate(flow) != inspect.GEN_SUSPENDED:
        flow.close()
        return
    try:
        step = flow.throw(Cancelled())
    except (StopIteration, Cancelled):
        return  # nothing was running
    while True:
        reply = yield step
        try:
            step = flow.send(reply)
        except StopIteration:
            return
