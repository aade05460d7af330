"""Stream objects: the sync and async drivers around a provider's IO-free decoder."""

from __future__ import annotations

import sys
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from time import perf_counter
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal

from ._provider import ChunkT, Decoder, ProviderCall
from ._tool_drivers import adrive_tools, drive_tools
from .errors import (
    APIConnectionError,
    APITimeoutError,
    MirastreamError,
    StreamAlreadyConsumed,
    StreamInterrupted,
)
from .responses import Response
from .retries import DEFAULT_RETRIES, RetryPolicy, build_retrying, counted_retries, is_retryable
from .timeouts import Timeouts

if TYPE_CHECKING:
    from ._agent import AgentRun

__all__ = ["AsyncStream", "Stream"]

_State = Literal["new", "running", "done", "interrupted", "failed"]


class _Entered:
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


class _AsyncEntered:
    """The async twin of `_Entered`, left by `async with`."""

    __slots__ = ("_sending",)

    def __init__(self, sending: AbstractAsyncContextManager[Any]) -> None:
        self._sending = sending

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return await self._sending.__aexit__(exc_type, exc, tb)


class _StreamState(Generic[ChunkT]):
    """What the sync and async streams share: bookkeeping, error conversion, the response."""

    def __init__(
        self,
        call: ProviderCall[Any],
        agent: AgentRun | None = None,
        *,
        retries: RetryPolicy = DEFAULT_RETRIES,
        timeouts: Timeouts | None = None,
    ) -> None:
        self._call = call
        self._decoder: Decoder[Any] = call.decoder()
        self._agent = agent
        self._retries = retries
        self._timeouts = timeouts or Timeouts()
        self._turn_open = False
        self._status = False
        self._state: _State = "new"
        self._started_at: float | None = None
        self._first_chunk_at: float | None = None
        self._connected = False
        self._closing = False  # a close from another thread or task is under way
        self._ended_at: float | None = None
        self._final: Response | None = None

    @property
    def provider(self) -> str:
        """The provider this stream talks to."""
        return self._call.provider

    @property
    def text(self) -> str:
        """The text received so far (first choice)."""
        return self._decoder.text

    @property
    def done(self) -> bool:
        """`True` once the provider finished its answer and the stream was read to the end."""
        return self._state == "done"

    @property
    def response(self) -> Response:
        """The aggregated `Response`.

        Complete once the stream has been read to the end; before that, or after the stream
        was closed early or failed, it holds what had arrived (`interrupted` tells which).
        """
        if self._final is not None:
            return self._final
        started = self._started_at
        ended = self._ended_at
        fields = {
            "time_to_first_chunk": None
            if started is None or self._first_chunk_at is None
            else self._first_chunk_at - started,
            "duration": None if started is None or ended is None else ended - started,
            "interrupted": self._state in ("interrupted", "failed"),
        }
        if self._agent is None:
            response = self._decoder.response(**fields)
        else:
            current = self._decoder.response() if self._turn_open else None
            response = self._agent.response(current, **fields)
        if self._state in ("done", "interrupted", "failed"):
            self._final = response
        return response

    def _claim(self) -> None:
        if self._state != "new":
            raise StreamAlreadyConsumed(
                "this stream was already iterated (or closed); a stream can be iterated once: "
                "call .stream() again for a new request, or read .response for what arrived",
                provider=self.provider,
            )
        self._state = "running"
        self._started_at = perf_counter()

    def _end(self, state: _State) -> None:
        self._ended_at = perf_counter()
        self._state = state

    def with_status(self) -> Any:
        """Also yield `StatusEvent`s of the tool loop (run created, step started/completed, ...).

        Call it before iterating; it returns the stream itself.
        """
        self._status = True
        return self

    def _new_turn(self, call: ProviderCall[Any]) -> None:
        """Start decoding another model turn of a tool loop."""
        self._call = call
        self._decoder = call.decoder()
        self._turn_open = True

    def _accept(self, item: object) -> Any:
        """Decode one native item; note the time of the first chunk."""
        chunk = self._decoder.feed(item)
        if chunk is not None and self._first_chunk_at is None:
            self._first_chunk_at = perf_counter()
        return chunk

    def _typed(self, error: BaseException) -> BaseException:
        """`error` as mirastream's typed error (what retry policies see), if it is the SDK's."""
        if not isinstance(error, Exception) or isinstance(error, MirastreamError):
            return error
        return self._call.convert_error(error) or error

    def _abort(self) -> None:
        """Stop a stream that another thread or task is reading: shut its connection down."""
        self._closing = True
        self._call.abort()

    def _first_chunk_timeout(self) -> APITimeoutError:
        return APITimeoutError(
            f"no chunk arrived within the first_chunk timeout ({self._timeouts.first_chunk} s)",
            provider=self.provider,
        )

    def _complete(self) -> None:
        """The stream ended: check that the provider finished its answer."""
        self._decoder.finish()
        self._end("done")

    def _fail(self, error: BaseException) -> None:
        """Mark the stream failed and raise the error, typed and with the partial response.

        Cancellation and `KeyboardInterrupt` pass through unchanged and count as interruptions.
        An error that a stop from another thread or task caused (its aborted read) is no
        failure: the stream ends quietly as interrupted, and this returns.
        """
        if not isinstance(error, Exception):
            self._end("interrupted")
            raise error
        if self._closing:
            self._end("interrupted")
            return
        self._end("failed")
        converted = self._typed(error)
        if isinstance(converted, MirastreamError):
            if self._first_chunk_at is not None and type(converted) is APIConnectionError:
                converted = StreamInterrupted(
                    f"the connection to {self.provider} broke in the middle of the stream "
                    f"({type(error).__name__}: {error})",
                    provider=self.provider,
                )
            if self._connected and converted.response is None:
                converted.response = self.response
            if converted.provider is None:
                converted.provider = self.provider
        if converted is error:
            raise error
        raise converted from error

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self.provider!r} state={self._state}>"


class Stream(_StreamState[ChunkT]):
    """A streamed answer: iterate it once to get the chunks as they arrive.

    The request is sent when iteration starts. Use it as a context manager, or call
    `close`, to release the connection early; a `break` out of the `for` loop
    releases it at once as well. Afterwards `response` holds the aggregated answer.
    """

    def __init__(
        self,
        call: ProviderCall[Any],
        agent: AgentRun | None = None,
        *,
        retries: RetryPolicy = DEFAULT_RETRIES,
        timeouts: Timeouts | None = None,
    ) -> None:
        super().__init__(call, agent, retries=retries, timeouts=timeouts)
        self._generator: weakref.ref[Generator[ChunkT, None, None]] | None = None

    def __iter__(self) -> Iterator[ChunkT]:
        self._claim()
        generator = self._run() if self._agent is None else drive_tools(self, self._agent)
        self._generator = weakref.ref(generator)
        return generator

    def _run(self) -> Generator[ChunkT, None, None]:
        try:
            yield from self._turn(self._call)
            self._complete()
        except GeneratorExit:
            self._end("interrupted")
            raise
        except BaseException as error:
            self._fail(error)

    def _turn(self, call: ProviderCall[Any]) -> Generator[Any, None, None]:
        """One model turn: send `call` (retrying until its first chunk), then stream the rest."""
        stack, items, first = self._open(call)
        with stack:
            if first is not None:
                yield first
                del first  # hold no chunk (nor its payload) for the rest of the stream
                feed = self._decoder.feed  # the first chunk is timed: the rest go straight through
                for item in items:
                    chunk = feed(item)
                    if chunk is not None:
                        yield chunk

    def _open(self, call: ProviderCall[Any]) -> tuple[_Entered, Iterator[Any], Any]:
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

    def _attempt(self, call: ProviderCall[Any]) -> tuple[_Entered, Iterator[Any], Any]:
        """Send `call` and read up to its first chunk (`None` if the stream has none)."""
        self._new_turn(call)
        sending = call.send()
        entered = False
        try:
            items = iter(sending.__enter__())
            entered = True
            self._connected = True
            limit = self._timeouts.first_chunk
            deadline = None if limit is None else perf_counter() + limit
            for item in items:
                chunk = self._accept(item)
                if chunk is not None:
                    return _Entered(sending), items, chunk
                if deadline is not None and perf_counter() > deadline:
                    raise self._first_chunk_timeout()
            return _Entered(sending), items, None
        except BaseException as error:
            if entered:
                sending.__exit__(*sys.exc_info())
            typed = self._typed(error)
            if typed is error:
                raise
            raise typed from error

    def collect(self) -> Response:
        """Read the rest of the stream and return the final `Response`."""
        if self._state == "new":
            for _ in self:
                pass
        elif self._state == "running":
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
        if self._state in ("new", "running"):
            self._end("interrupted")

    def __enter__(self) -> Stream[ChunkT]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncStream(_StreamState[ChunkT]):
    """The async twin of `Stream`: `async for chunk in stream`.

    Prefer `async with`: after a `break` out of `async for`, Python finalises an
    async generator only on a later turn of the event loop, whereas leaving the `async
    with` block (or awaiting `aclose`) releases the connection at once.
    """

    def __init__(
        self,
        call: ProviderCall[Any],
        agent: AgentRun | None = None,
        *,
        retries: RetryPolicy = DEFAULT_RETRIES,
        timeouts: Timeouts | None = None,
    ) -> None:
        super().__init__(call, agent, retries=retries, timeouts=timeouts)
        self._generator: weakref.ref[AsyncGenerator[ChunkT, None]] | None = None
        self._managed = False
        self._held: AsyncGenerator[ChunkT, None] | None = None

    def __aiter__(self) -> AsyncIterator[ChunkT]:
        self._claim()
        generator = self._run() if self._agent is None else adrive_tools(self, self._agent)
        self._generator = weakref.ref(generator)
        if self._managed:
            # Inside `async with`, the block's end closes the generator: hold it until then,
            # so that a `break` cannot leave it to the event loop's finaliser first.
            self._held = generator
        return generator

    async def _run(self) -> AsyncGenerator[ChunkT, None]:
        try:
            stack, items, first = await self._aopen(self._call)
            async with stack:
                if first is not None:
                    yield first
                    del first  # hold no chunk (nor its payload) for the rest of the stream
                    feed = self._decoder.feed  # the first chunk is timed: the rest go straight through
                    async for item in items:
                        chunk = feed(item)
                        if chunk is not None:
                            yield chunk
            self._complete()
        except GeneratorExit:
            self._end("interrupted")
            raise
        except BaseException as error:
            self._fail(error)

    async def _aopen(self, call: ProviderCall[Any]) -> tuple[_AsyncEntered, AsyncIterator[Any], Any]:
        """Send `call` and read up to its first chunk, retrying per the policy until then."""
        retries = counted_retries(self._retries)
        failure = None
        if retries is not None:
            # A number of retries: tenacity is only needed once an attempt has failed.
            try:
                return await self._aattempt(call)
            except Exception as error:
                if retries == 0 or not is_retryable(error):
                    raise
                failure = error
        async for attempt in build_retrying(self._retries, asynchronous=True):
            with attempt:
                if failure is not None:
                    first, failure = failure, None
                    raise first  # the first attempt's failure: tenacity counts it and waits
                return await self._aattempt(call)
        raise AssertionError("tenacity ended without a result")  # pragma: no cover

    async def _aattempt(self, call: ProviderCall[Any]) -> tuple[_AsyncEntered, AsyncIterator[Any], Any]:
        self._new_turn(call)
        sending = call.send_async()
        entered = False
        try:
            items = aiter(await sending.__aenter__())
            entered = True
            self._connected = True
            first = await _within(self._afirst(items), self._timeouts.first_chunk)
            return _AsyncEntered(sending), items, first
        except BaseException as error:
            if entered:
                await sending.__aexit__(*sys.exc_info())
            if isinstance(error, TimeoutError) and not isinstance(error, MirastreamError):
                raise self._first_chunk_timeout() from error
            typed = self._typed(error)
            if typed is error:
                raise
            raise typed from error

    async def _afirst(self, items: AsyncIterator[Any]) -> Any:
        async for item in items:
            chunk = self._accept(item)
            if chunk is not None:
                return chunk
        return None

    async def collect(self) -> Response:
        """Read the rest of the stream and return the final `Response`."""
        if self._state == "new":
            async for _ in self:
                pass
        elif self._state == "running":
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
        if self._state in ("new", "running"):
            self._end("interrupted")

    async def close(self) -> None:
        """Alias of `aclose`."""
        await self.aclose()

    async def __aenter__(self) -> AsyncStream[ChunkT]:
        self._managed = True
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


async def _within(awaitable: Any, seconds: float | None) -> Any:
    """Await `awaitable`, raising `TimeoutError` after `seconds` (`None`: no limit)."""
    if seconds is None:
        return await awaitable
    if sys.version_info >= (3, 11):
        import asyncio

        async with asyncio.timeout(seconds):
            return await awaitable
    import asyncio

    return await asyncio.wait_for(awaitable, seconds)
