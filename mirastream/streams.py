"""Stream objects: the sync and async drivers of a `Run` (see `mirastream._run`).

`Stream` and `AsyncStream` are mirrored line for line: each performs the run's steps (send a
model turn and stream its chunks, run a tool, hand an item over) with blocking calls or with
awaits. Nothing else differs between them; every decision is the run's.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from contextlib import aclosing
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._driving import (
    AsyncEntered,
    Entered,
    acancel_prewarms,
    aclose_items,
    cancel_prewarms,
    checked_output,
    close_items,
    reraise,
    within,
)
from ._provider import ProviderCall
from ._run import Emit, Run, StreamTurn, carries_answer
from .errors import MirastreamError
from .retries import DEFAULT_RETRIES, RetryPolicy, build_retrying, counted_retries, is_retryable
from .timeouts import Timeouts
from .tools._protocol import ToolOutput

if TYPE_CHECKING:
    from asyncio import Task

    from ._lmc import LMCMessage
    from ._run_events import RunEvent
    from .chunks import ResponseChunk
    from .responses import Response
    from .tools._protocol import Prewarm

__all__ = ["AsyncStream", "Stream"]

ItemT = TypeVar("ItemT")
Native = Any  # a provider's native stream item, opaque here


class _StreamBase(Generic[ItemT]):
    """What the two drivers share: the run, the policies and the read-only views."""

    def __init__(
        self, run: Run, *, retries: RetryPolicy = DEFAULT_RETRIES, timeouts: Timeouts | None = None
    ) -> None:
        self._run = run
        self._retries = retries
        self._timeouts = timeouts or Timeouts()

    @property
    def provider(self) -> str:
        """The provider this stream talks to."""
        return self._run.provider

    @property
    def text(self) -> str:
        """The text of the current model turn so far (first choice)."""
        return str(self._run.decoder.text)

    @property
    def done(self) -> bool:
        """`True` once the provider finished its answer and the stream was read to the end."""
        return self._run.state == "done"

    @property
    def response(self) -> Response:
        """The aggregated `Response`.

        Complete once the stream has been read to the end; before that, or after the stream
        was closed early or failed, it holds what had arrived (`interrupted` tells which).
        """
        return self._run.response()

    def with_status(self: _S) -> _S:
        """Also yield `StatusEvent`s of the tool loop (run created, step started/completed, ...).

        Call it before iterating; it returns the stream itself.
        """
        self._run.status = True
        return self

    def _abort(self) -> None:
        """Stop a stream that another thread or task is reading: shut its connection down."""
        self._run.closing = True
        self._run.call.abort()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self.provider!r} state={self._run.state}>"


_S = TypeVar("_S", bound=_StreamBase[Any])


class Stream(_StreamBase[ItemT]):
    """A streamed answer: iterate it once to get the chunks (and tool events) as they arrive.

    The request is sent when iteration starts. Use it as a context manager, or call
    `close`, to release the connection early; a `break` out of the `for` loop
    releases it at once as well. Afterwards `response` holds the aggregated answer.
    """

    def __init__(
        self, run: Run, *, retries: RetryPolicy = DEFAULT_RETRIES, timeouts: Timeouts | None = None
    ) -> None:
        super().__init__(run, retries=retries, timeouts=timeouts)
        self._generator: weakref.ref[Generator[ItemT, None, None]] | None = None

    def __iter__(self) -> Iterator[ItemT]:
        self._run.claim()
        generator = self._drive()
        self._generator = weakref.ref(generator)
        return generator

    def _drive(self) -> Generator[Any, None, None]:
        run = self._run
        flow = run.flow()
        warm: list[Prewarm] = []
        try:
            warm = [started for tool in run.tools.values() if (started := tool.warm()) is not None]
            step = next(flow)
            while True:
                if isinstance(step, Emit):
                    yield step.item
                    step = flow.send(None)
                elif isinstance(step, StreamTurn):
                    yield from self._turn(step.call)
                    step = flow.send(run.end_turn())
                else:
                    output = None
                    items = step.tool.run(step.call)
                    try:
                        for item in items:
                            if isinstance(item, ToolOutput):
                                output = item
                                break
                            run.tool_event(item)
                            yield item
                            if run.closing:  # stopped from another thread: the tool stops too
                                break
                    except Exception as error:
                        step = flow.throw(error)
                        continue
                    finally:
                        close_items(items)
                    if run.closing:
                        run.end("interrupted")
                        return
                    step = flow.send(checked_output(output, step.tool.name))
        except StopIteration:
            return
        except GeneratorExit:
            cancel_prewarms(warm)
            run.end("interrupted")
            raise
        except BaseException as error:
            cancel_prewarms(warm)
            reraise(run, error)

    def _turn(self, call: ProviderCall[ResponseChunk]) -> Generator[Any, None, None]:
        """One model turn: send `call` (retrying until its first chunk), then stream the rest."""
        entered, items, firsts = self._open(call)
        with entered:
            watch = self._run.watch if self._run.watches else None
            hosted = self._run.watches_hosted  # chunks may carry hosted code pieces
            for first in firsts:
                yield first
                if watch is not None and (first.tool_calls or (hosted and first.hosted)):
                    yield from watch(first)
            firsts.clear()  # hold no chunk (nor its payload) for the rest of the stream
            feed = self._run.decoder.feed
            if watch is None:
                for item in items:
                    chunk = feed(item)
                    if chunk is not None:
                        yield chunk
            else:
                for item in items:
                    chunk = feed(item)
                    if chunk is not None:
                        yield chunk
                        if chunk.tool_calls or (hosted and chunk.hosted):
                            yield from watch(chunk)

    def _open(
        self, call: ProviderCall[ResponseChunk]
    ) -> tuple[Entered, Iterator[Native], list[ResponseChunk]]:
        """Send `call` and read up to its first chunk, retrying per the policy until then."""
        retries = counted_retries(self._retries)
        failure = None
        if retries is not None:
            # A number of retries: tenacity is only needed once an attempt has failed.
            try:
                return self._attempt(call)
            except Exception as error:
                if retries == 0 or not is_retryable(error):
                    raise
                failure = error
        for attempt in build_retrying(self._retries, asynchronous=False):
            with attempt:
                if failure is not None:
                    first, failure = failure, None
                    raise first  # the first attempt's failure: tenacity counts it and waits
                return self._attempt(call)
        raise AssertionError("tenacity ended without a result")  # pragma: no cover

    def _attempt(
        self, call: ProviderCall[ResponseChunk]
    ) -> tuple[Entered, Iterator[Native], list[ResponseChunk]]:
        """Send `call`; read chunks up to the first that carries an answer (or the end)."""
        run = self._run
        feed = run.begin_turn(call).feed
        limit = self._timeouts.first_chunk
        deadline = None
        sending = call.send()
        entered = False
        try:
            if limit is not None:
                from ._watchdog import schedule

                deadline = schedule(limit, call.interrupt)  # keep-alives do not hold the read open
            items = iter(sending.__enter__())
            entered = True
            run.connected = True
            firsts = []
            for item in items:
                chunk = feed(item)
                if chunk is not None:
                    firsts.append(chunk)
                    if carries_answer(chunk):
                        run.first_chunk()
                        break
                if deadline is not None and deadline.fired:
                    break  # a client that cannot be interrupted: checked as items arrive
            if deadline is not None:
                deadline.cancel()
                if deadline.fired:
                    raise run.first_chunk_timeout(limit)
            return Entered(sending), items, firsts
        except BaseException as error:
            if entered:
                sending.__exit__(*sys.exc_info())
            if deadline is not None:
                deadline.cancel()
                if deadline.fired and not run.closing:
                    timeout = run.first_chunk_timeout(limit)
                    run.attempt_failed(timeout)
                    raise timeout from error
            typed = run.typed(error)
            run.attempt_failed(typed)
            if typed is error:
                raise
            raise typed from error

    def lmc(self) -> Iterator[LMCMessage]:
        """Iterate the stream as Open Interpreter's LMC dicts (see the tools guide).

        Message text, code, the confirmation, the active line and console output come as
        Open Interpreter streams them for the same run; iterating on is consent to run code.
        """
        from ._views import lmc

        return lmc(self)

    def run_events(self) -> Iterator[RunEvent]:
        """Iterate the stream as `(event, data)` pairs in the Assistant-run shape (see the tools guide)."""
        from ._views import run_events

        return run_events(self, self._run)

    def collect(self) -> Response:
        """Read the rest of the stream and return the final `Response`."""
        if self._run.state == "new":
            for _ in self:
                pass
        elif self._run.state == "running":
            generator = self._generator() if self._generator is not None else None
            if generator is not None:
                for _ in generator:
                    pass
        return self.response

    def close(self) -> None:
        """Stop the stream and release its connection; safe to call at any time.

        Also from another thread while the consumer waits for data (a stop button): the
        connection is shut down at once, and the consumer's loop ends quietly.
        """
        generator = self._generator() if self._generator is not None else None
        if generator is not None and getattr(generator, "gi_running", False):
            self._abort()
            return
        if generator is not None:
            generator.close()
        self._run.stop_if_running()

    def __enter__(self) -> Stream[ItemT]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncStream(_StreamBase[ItemT]):
    """The async twin of `Stream`: `async for chunk in stream`.

    Prefer `async with`: after a `break` out of `async for`, Python finalises an
    async generator only on a later turn of the event loop, whereas leaving the `async
    with` block (or awaiting `aclose`) releases the connection at once.
    """

    def __init__(
        self, run: Run, *, retries: RetryPolicy = DEFAULT_RETRIES, timeouts: Timeouts | None = None
    ) -> None:
        super().__init__(run, retries=retries, timeouts=timeouts)
        self._generator: weakref.ref[AsyncGenerator[ItemT, None]] | None = None
        self._managed = False
        self._held: AsyncGenerator[ItemT, None] | None = None

    def __aiter__(self) -> AsyncIterator[ItemT]:
        self._run.claim()
        generator = self._drive()
        self._generator = weakref.ref(generator)
        if self._managed:
            # Inside `async with`, the block's end closes the generator: hold it until then,
            # so that a `break` cannot leave it to the event loop's finaliser first.
            self._held = generator
        return generator

    async def _drive(self) -> AsyncGenerator[Any, None]:
        run = self._run
        flow = run.flow()
        warm: list[Task[None]] = []
        try:
            warm = [started for tool in run.tools.values() if (started := tool.awarm()) is not None]
            step = next(flow)
            while True:
                if isinstance(step, Emit):
                    yield step.item
                    step = flow.send(None)
                elif isinstance(step, StreamTurn):
                    # `aclosing`: if the consumer stops, the turn's connection is released now.
                    async with aclosing(self._turn(step.call)) as chunks:
                        async for chunk in chunks:
                            yield chunk
                    step = flow.send(run.end_turn())
                else:
                    output = None
                    items = step.tool.arun(step.call)
                    try:
                        async for item in items:
                            if isinstance(item, ToolOutput):
                                output = item
                                break
                            run.tool_event(item)
                            yield item
                            if run.closing:  # stopped from another task: the tool stops too
                                break
                    except Exception as error:
                        step = flow.throw(error)
                        continue
                    finally:
                        await aclose_items(items)
                    if run.closing:
                        run.end("interrupted")
                        return
                    step = flow.send(checked_output(output, step.tool.name))
        except StopIteration:
            return
        except GeneratorExit:
            run.end("interrupted")
            await acancel_prewarms(warm)
            raise
        except BaseException as error:
            try:
                await acancel_prewarms(warm)
            finally:
                reraise(run, error)

    async def _turn(self, call: ProviderCall[ResponseChunk]) -> AsyncGenerator[Any, None]:
        """One model turn: send `call` (retrying until its first chunk), then stream the rest."""
        entered, items, firsts = await self._open(call)
        async with entered:
            watch = self._run.watch if self._run.watches else None
            hosted = self._run.watches_hosted  # chunks may carry hosted code pieces
            for first in firsts:
                yield first
                if watch is not None and (first.tool_calls or (hosted and first.hosted)):
                    for event in watch(first):
                        yield event
            firsts.clear()  # hold no chunk (nor its payload) for the rest of the stream
            feed = self._run.decoder.feed
            if watch is None:
                async for item in items:
                    chunk = feed(item)
                    if chunk is not None:
                        yield chunk
            else:
                async for item in items:
                    chunk = feed(item)
                    if chunk is not None:
                        yield chunk
                        if chunk.tool_calls or (hosted and chunk.hosted):
                            for event in watch(chunk):
                                yield event

    async def _open(
        self, call: ProviderCall[ResponseChunk]
    ) -> tuple[AsyncEntered, AsyncIterator[Native], list[ResponseChunk]]:
        """Send `call` and read up to its first chunk, retrying per the policy until then."""
        retries = counted_retries(self._retries)
        failure = None
        if retries is not None:
            # A number of retries: tenacity is only needed once an attempt has failed.
            try:
                return await self._attempt(call)
            except Exception as error:
                if retries == 0 or not is_retryable(error):
                    raise
                failure = error
        async for attempt in build_retrying(self._retries, asynchronous=True):
            with attempt:
                if failure is not None:
                    first, failure = failure, None
                    raise first  # the first attempt's failure: tenacity counts it and waits
                return await self._attempt(call)
        raise AssertionError("tenacity ended without a result")  # pragma: no cover

    async def _attempt(
        self, call: ProviderCall[ResponseChunk]
    ) -> tuple[AsyncEntered, AsyncIterator[Native], list[ResponseChunk]]:
        """Send `call`; read chunks up to the first that carries an answer (or the end)."""
        run = self._run
        feed = run.begin_turn(call).feed
        limit = self._timeouts.first_chunk
        sending = call.send_async()
        entered = False
        try:
            items = aiter(await sending.__aenter__())
            entered = True
            run.connected = True
            firsts: list[ResponseChunk] = []

            async def read_firsts() -> None:
                async for item in items:
                    chunk = feed(item)
                    if chunk is not None:
                        firsts.append(chunk)
                        if carries_answer(chunk):
                            run.first_chunk()
                            return

            await within(read_firsts(), limit)
            return AsyncEntered(sending), items, firsts
        except BaseException as error:
            if entered:
                await sending.__aexit__(*sys.exc_info())
            if isinstance(error, TimeoutError) and not isinstance(error, MirastreamError):
                timeout = run.first_chunk_timeout(limit)
                run.attempt_failed(timeout)
                raise timeout from error
            typed = run.typed(error)
            run.attempt_failed(typed)
            if typed is error:
                raise
            raise typed from error

    def lmc(self) -> AsyncIterator[LMCMessage]:
        """`async for message in stream.lmc()`: Open Interpreter's LMC dicts (see `Stream.lmc`)."""
        from ._views import alm

        return alm(self)

    def run_events(self) -> AsyncIterator[RunEvent]:
        """`async for event, data in stream.run_events()`: the Assistant-run events."""
        from ._views import arun_events

        return arun_events(self, self._run)

    async def collect(self) -> Response:
        """Read the rest of the stream and return the final `Response`."""
        if self._run.state == "new":
            async for _ in self:
                pass
        elif self._run.state == "running":
            generator = self._generator() if self._generator is not None else None
            if generator is not None:
                async for _ in generator:
                    pass
        return self.response

    async def aclose(self) -> None:
        """Stop the stream and release its connection; safe to call at any time.

        Also from another task while the consumer waits for a chunk: the connection is
        shut down at once, and the consumer's `async for` ends quietly.
        """
        generator = self._generator() if self._generator is not None else None
        self._held = None
        if generator is not None and getattr(generator, "ag_running", False):
            self._abort()
            return
        if generator is not None:
            await generator.aclose()
        self._run.stop_if_running()

    async def close(self) -> None:
        """Alias of `aclose`."""
        await self.aclose()

    async def __aenter__(self) -> AsyncStream[ItemT]:
        self._managed = True
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
