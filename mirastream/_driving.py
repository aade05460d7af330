"""What the two stream drivers in `mirastream.streams` share: small helpers, no decisions."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncio import Task

    from ._run import Run
    from .events import Event
    from .tools._protocol import Prewarm, ToolOutput


class Entered:
    """The sending of a turn, entered by `Stream._attempt`; the `with` around the turn leaves it."""

    __slots__ = ("_sending",)

    def __init__(self, sending: AbstractContextManager[Any]) -> None:
        self._sending = sending

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return self._sending.__exit__(exc_type, exc, tb)


class AsyncEntered:
    """The async twin of `Entered`, left by `async with`."""

    __slots__ = ("_sending",)

    def __init__(self, sending: AbstractAsyncContextManager[Any]) -> None:
        self._sending = sending

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return await self._sending.__aexit__(exc_type, exc, tb)


def checked_output(output: ToolOutput | None, name: str) -> ToolOutput:
    if output is None:
        raise TypeError(f"tool {name!r} ended without yielding a ToolOutput")
    return output


def reraise(run: Run, error: BaseException) -> None:
    """Raise what the run makes of `error` (nothing, for a stop from another thread or task)."""
    converted = run.failure(error)
    if converted is None:
        return
    if converted is error:
        raise error
    raise converted from error


def close_items(items: Iterator[Event | ToolOutput]) -> None:
    close = getattr(items, "close", None)
    if close is not None:
        close()


async def aclose_items(items: AsyncIterator[Event | ToolOutput]) -> None:
    aclose = getattr(items, "aclose", None)
    if aclose is not None:
        await aclose()


def cancel_prewarms(warm: list[Prewarm]) -> None:
    """The stream stops early: abort prewarms still under way (a ready resource stays)."""
    for started in warm:
        started.cancel()


async def acancel_prewarms(tasks: list[Task[None]]) -> None:
    """The stream stops early: cancel prewarms still under way and wait for them to end."""
    pending = [task for task in tasks if not task.done()]
    if pending:
        import asyncio

        for task in pending:
            task.cancel()
        await asyncio.wait(pending)


async def within(awaitable: Any, seconds: float | None) -> Any:
    """Await `awaitable`, raising `TimeoutError` after `seconds` (`None`: no limit)."""
    if seconds is None:
        return await awaitable
    if sys.version_info >= (3, 11):
        import asyncio

        async with asyncio.timeout(seconds):
            return await awaitable
    import asyncio

    return await asyncio.wait_for(awaitable, seconds)
