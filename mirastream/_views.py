"""Other shapes of a stream: Open Interpreter's LMC dicts and the Assistant-run events.

Each view is an IO-free translator (`mirastream._lmc`, `mirastream._run_events`) fed with the
stream's items; the functions here are its sync and async drivers, mirrored line for line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._lmc import LMCMessage
    from ._run import Run
    from ._run_events import RunEvent, RunEventTranslator
    from .streams import AsyncStream, Stream


def lmc(stream: Stream[Any]) -> Iterator[LMCMessage]:
    """The LMC dicts of `stream`, as Open Interpreter streams them."""
    from ._lmc import LMCTranslator

    translator = LMCTranslator()
    try:
        for item in stream:
            yield from translator.feed(item)
        yield from translator.finish()
    finally:
        stream.close()


async def alm(stream: AsyncStream[Any]) -> AsyncIterator[LMCMessage]:
    """The async twin of `lmc`."""
    from ._lmc import LMCTranslator

    translator = LMCTranslator()
    try:
        async for item in stream:
            for message in translator.feed(item):
                yield message
        for message in translator.finish():
            yield message
    finally:
        await stream.aclose()


def _translator(run: Run) -> RunEventTranslator:
    from ._run_events import RunEventTranslator

    run.status = True  # function outputs come from the status events
    return RunEventTranslator(code_tools=[name for name, tool in run.tools.items() if _runs_code(tool)])


def _runs_code(tool: object) -> bool:
    return bool(getattr(tool, "runs_code", False))


def run_events(stream: Stream[Any], run: Run) -> Iterator[RunEvent]:
    """The `(event, data)` pairs of `stream` in the Assistant-run shape.

    A failure yields `thread.run.failed`, then raises; a stream closed early (`close()`
    from another thread) ends with `thread.run.cancelled`.
    """
    translator = _translator(run)
    try:
        for item in stream:
            yield from translator.feed(item)
    except Exception as error:
        yield from translator.failed(error)
        raise
    finally:
        stream.close()
    if stream.done:
        yield from translator.finish(stream.response)
    else:
        yield from translator.cancelled()


async def arun_events(stream: AsyncStream[Any], run: Run) -> AsyncIterator[RunEvent]:
    """The async twin of `run_events`."""
    translator = _translator(run)
    try:
        async for item in stream:
            for event in translator.feed(item):
                yield event
    except Exception as error:
        for event in translator.failed(error):
            yield event
        raise
    finally:
        await stream.aclose()
    if stream.done:
        for event in translator.finish(stream.response):
            yield event
    else:
        for event in translator.cancelled():
            yield event
