"""The sync and async drivers of a tool loop: model turns, then the tools they call.

All decisions live in the IO-free `AgentRun`; these loops only send requests, run tools
and yield what happens, in order.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Generator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError
from .events import ConfirmationEvent, Event, MarkerEvent, StatusEvent

if TYPE_CHECKING:
    from asyncio import Task

    from ._agent import AgentRun, Invocation
    from .streams import AsyncStream, Stream
    from .tools.code_interpreter import CodeInterpreter, OutputCollector, WarmUp

DENIED = "The user declined to run this code."


class _Outcome:
    """The result of one tool call, filled in by the generator that runs it."""

    __slots__ = ("is_error", "output")

    def __init__(self) -> None:
        self.output = ""
        self.is_error = False

    def set(self, output: str, is_error: bool) -> None:
        self.output = output
        self.is_error = is_error


def _tool_failure(error: Exception) -> str:
    return f"The tool raised {type(error).__name__}: {error}"


def _collector(tool: Any) -> OutputCollector:
    from .tools.code_interpreter import OutputCollector  # only streams that run code need it

    return OutputCollector(tool.max_output_chars)


def _console(start: bool) -> MarkerEvent:
    return MarkerEvent("computer", "console", start=start)


def _prewarmed(run: AgentRun) -> list[CodeInterpreter]:
    """The run's code interpreters whose Python session starts with the stream."""
    from .tools.code_interpreter import CodeInterpreter  # loaded with the run already

    return [tool for tool in run.tools.values() if isinstance(tool, CodeInterpreter) and tool.prewarm]


def _warm_up(run: AgentRun) -> list[WarmUp]:
    return [warm_up for tool in _prewarmed(run) if (warm_up := tool.warm_up()) is not None]


def _cancel(warm_ups: list[WarmUp]) -> None:
    """The stream stops early: abort prewarms still under way (a ready kernel stays)."""
    for warm_up in warm_ups:
        warm_up.cancel()


def drive_tools(stream: Stream[Any], run: AgentRun) -> Generator[Any, None, None]:
    """The sync tool loop."""
    warm_ups: list[WarmUp] = []
    try:
        warm_ups = _warm_up(run)  # the kernel starts while the model writes
        if stream._status:
            yield StatusEvent("run.created", 0)
        while (call := run.next_call()) is not None:
            for chunk in stream._turn(call):
                yield chunk
                if chunk.tool_calls:
                    yield from run.watch(chunk)
            stream._decoder.finish()
            stream._turn_open = False
            events, invocations = run.end_turn(stream._decoder.response())
            yield from events
            for invocation in invocations:
                yield from _invoke(stream, run, invocation)
            if invocations:
                run.finish_tools()
        if stream._status:
            yield StatusEvent("run.completed", len(run.steps))
        stream._end("done")
    except GeneratorExit:
        _cancel(warm_ups)
        stream._end("interrupted")
        raise
    except BaseException as error:
        _cancel(warm_ups)
        stream._fail(error)


def _invoke(stream: Stream[Any], run: AgentRun, invocation: Invocation) -> Generator[Event, None, None]:
    if stream._status:
        yield StatusEvent("step.started", invocation.step, invocation.call)
    outcome = _Outcome()
    if invocation.error is not None:
        outcome.set(invocation.error, True)
    elif invocation.is_code:
        yield from _run_code(invocation, outcome)
    else:
        try:
            from .tools.function import format_result

            outcome.set(format_result(invocation.tool.call(invocation.arguments)), False)
        except Exception as error:  # reported to the model, and kept on the response's steps
            outcome.set(_tool_failure(error), True)
    run.record(invocation, outcome.output, outcome.is_error)
    if stream._status:
        yield StatusEvent("step.completed", invocation.step, invocation.call, outcome.output)


def _run_code(invocation: Invocation, outcome: _Outcome) -> Generator[Event, None, None]:
    tool = invocation.tool
    confirmation = ConfirmationEvent(invocation.language, invocation.code, invocation.call.id)
    decision = tool.decide(confirmation)
    if inspect.isawaitable(decision):
        if inspect.iscoroutine(decision):
            decision.close()
        raise ConfigurationError("the code interpreter's confirm callback is async: use stream_async()")
    yield confirmation  # stopping here means the code never runs
    if confirmation.decision is False:
        outcome.set(DENIED, True)
        return
    collector = _collector(tool)
    executions = tool.session(invocation.language).execute(invocation.code)
    yield _console(start=True)
    try:
        for item in executions:
            event = collector.event(item)
            if event is not None:
                yield event
    except BaseException:
        # The consumer stopped (or the loop failed) mid-run: stop the code and its children.
        executions.close()
        tool.discard_session(invocation.language)
        raise
    yield _console(start=False)
    outcome.set(*collector.result())


async def _acancel(tasks: list[Task[None]]) -> None:
    """The stream stops early: cancel prewarms still under way and wait for them to end."""
    pending = [task for task in tasks if not task.done()]
    if pending:
        import asyncio

        for task in pending:
            task.cancel()
        await asyncio.wait(pending)


async def adrive_tools(stream: AsyncStream[Any], run: AgentRun) -> AsyncGenerator[Any, None]:
    """The async tool loop."""
    warm_ups: list[Task[None]] = []
    try:
        warm_ups = [task for tool in _prewarmed(run) if (task := tool.warm_up_async()) is not None]
        if stream._status:
            yield StatusEvent("run.created", 0)
        while (call := run.next_call()) is not None:
            exits, items, first = await stream._aopen(call)
            async with exits:
                chunk = first
                while chunk is not None:
                    yield chunk
                    if chunk.tool_calls:
                        for event in run.watch(chunk):
                            yield event
                    chunk = await _anext_chunk(stream, items)
            stream._decoder.finish()
            stream._turn_open = False
            events, invocations = run.end_turn(stream._decoder.response())
            for event in events:
                yield event
            for invocation in invocations:
                # `aclosing`: if the consumer stops, the run's cleanup happens now, not at GC.
                async with aclosing(_ainvoke(stream, run, invocation)) as tool_events:
                    async for event in tool_events:
                        yield event
            if invocations:
                run.finish_tools()
        if stream._status:
            yield StatusEvent("run.completed", len(run.steps))
        stream._end("done")
    except GeneratorExit:
        stream._end("interrupted")
        await _acancel(warm_ups)
        raise
    except BaseException as error:
        try:
            await _acancel(warm_ups)
        finally:
            stream._fail(error)


async def _ainvoke(
    stream: AsyncStream[Any], run: AgentRun, invocation: Invocation
) -> AsyncGenerator[Event, None]:
    if stream._status:
        yield StatusEvent("step.started", invocation.step, invocation.call)
    outcome = _Outcome()
    if invocation.error is not None:
        outcome.set(invocation.error, True)
    elif invocation.is_code:
        async with aclosing(_arun_code(invocation, outcome)) as code_events:
            async for event in code_events:
                yield event
    else:
        try:
            from .tools.function import format_result

            outcome.set(format_result(await invocation.tool.acall(invocation.arguments)), False)
        except Exception as error:  # reported to the model, and kept on the response's steps
            outcome.set(_tool_failure(error), True)
    run.record(invocation, outcome.output, outcome.is_error)
    if stream._status:
        yield StatusEvent("step.completed", invocation.step, invocation.call, outcome.output)


async def _arun_code(invocation: Invocation, outcome: _Outcome) -> AsyncGenerator[Event, None]:
    tool = invocation.tool
    confirmation = ConfirmationEvent(invocation.language, invocation.code, invocation.call.id)
    decision = tool.decide(confirmation)
    if inspect.isawaitable(decision):
        (confirmation.approve if await decision else confirmation.deny)()
    yield confirmation  # stopping here means the code never runs
    if confirmation.decision is False:
        outcome.set(DENIED, True)
        return
    collector = _collector(tool)
    session = tool.async_session(invocation.language)
    executions = session.aexecute(invocation.code)
    yield _console(start=True)
    try:
        async for item in executions:
            event = collector.event(item)
            if event is not None:
                yield event
    except BaseException:
        # The consumer stopped (or the loop failed) mid-run: stop the code and its children.
        await executions.aclose()
        await tool.adiscard_session(invocation.language)
        raise
    yield _console(start=False)
    outcome.set(*collector.result())


async def _anext_chunk(stream: AsyncStream[Any], items: Any) -> Any:
    """The next chunk of the turn, or `None` at its end."""
    async for item in items:
        chunk = stream._accept(item)
        if chunk is not None:
            return chunk
    return None
