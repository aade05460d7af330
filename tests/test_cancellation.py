"""Cancellation and resources: every way of stopping a stream releases what it holds, at once.

`break`, `close()`, `aclose()`, leaving `with` / `async with`, cancelling the consuming task,
and `KeyboardInterrupt` (raised in the loop body, or a `SIGINT` while a read blocks) must close
the HTTP response promptly, stop code the tool loop is running, and leave nothing behind:
no open socket or file, no thread, no pending task, no child process, nothing that warns when
the garbage collector runs. Every provider, sync and async, against the loopback server.

Two views of "the response is closed": the kernel's TCP table right after the stop (the
client's end of the connection is no longer `ESTABLISHED`, whatever the server does), and
the server noticing the disconnect within a second (its next writes fail).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from mirastream.errors import StreamAlreadyConsumed
from mirastream.events import ConsoleEvent
from mirastream.tools import CodeInterpreter

from .cancellation_helpers import (
    PROVIDERS,
    PYTHON_SLEEP,
    SHELL_SLEEP,
    TOOL_PROVIDERS,
    Snapshot,
    client_connected,
    close_cached_clients,
    connect,
    descendants,
    prompt,
    running,
    server_error,
    settle,
    slow_reply,
    tool_reply,
    wait_until,
)
from .loopback import LoopbackServer, Recorded, Reply

T = TypeVar("T")

NOTICE = 1.0
"""Seconds within which the server must see a stopped stream's disconnect."""
THINKING = 0.4
"""Seconds the server waits before it answers, in the tests that stop a stream before that."""


# ---------------------------------------------------------------------------------------------
# The leak check every test runs under


_loop_reports: list[str] = []
"""What event loops reported through their exception handler (a task destroyed pending, ...)."""


def _describe_unraisable(hook_args: Any) -> str:
    return f"{hook_args.err_msg or 'Exception ignored'}: {hook_args.exc_type.__name__}: {hook_args.exc_value}"


@pytest.fixture(scope="module", autouse=True)
def _unfreeze_the_heap_at_the_end() -> Iterator[None]:
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def no_leaks(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if it leaves anything behind or anything warns when collected.

    Before and after: open file descriptors, threads, child processes (the loopback server's
    own threads and sockets left out). `ResourceWarning` is an error; raised in a finaliser
    (an unclosed socket or transport collected), it reaches `sys.unraisablehook`, which is
    recorded here, as is what event loops report (a task destroyed while pending). The
    shared sync SDK clients made for this module are closed before counting: their idle
    pooled connections are kept on purpose.
    """
    previous_handler = signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C's default
    connect(server, monkeypatch)
    close_cached_clients()
    gc.collect()
    # What exists now (the SDKs, other tests' objects) is left out of later collections: a full
    # collection then takes milliseconds, and what the one below finds is what this test made.
    gc.freeze()
    before = Snapshot.take(server)
    unraisable: list[str] = []
    _loop_reports.clear()
    previous_hook = sys.unraisablehook
    sys.unraisablehook = lambda hook_args: unraisable.append(_describe_unraisable(hook_args))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            yield
            gc.collect()
    finally:
        sys.unraisablehook = previous_hook
        handler = signal.signal(signal.SIGINT, previous_handler)
    close_cached_clients()
    problems = settle(server, before)
    assert handler is signal.default_int_handler, "the SIGINT handler was not restored"
    assert not unraisable, "\n".join(unraisable)
    assert not _loop_reports, "\n".join(_loop_reports)
    assert not problems, "left behind:\n" + "\n".join(problems)


def run_async(main: Callable[[], Awaitable[T]]) -> T:
    """`asyncio.run(main())`, with what the loop reports recorded for `no_leaks`."""

    async def checked() -> T:
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: _loop_reports.append(str(context.get("message")))
        )
        return await main()

    return asyncio.run(checked())


def assert_released(server: LoopbackServer, request: Recorded) -> None:
    """The client closed its end of the connection already, and the server notices in time."""
    assert not client_connected(server, request), "the client's socket is still open"
    assert request.disconnected.wait(NOTICE), "the server did not see the disconnect"


async def assert_released_async(server: LoopbackServer, request: Recorded) -> None:
    assert not client_connected(server, request), "the client's socket is still open"
    assert await asyncio.to_thread(request.disconnected.wait, NOTICE), "the server did not see the disconnect"


def others() -> set[asyncio.Task[Any]]:
    """The event loop's tasks besides the current one."""
    return asyncio.all_tasks() - {asyncio.current_task()}


def raised_inside_mirastream(error: BaseException) -> bool:
    """Whether `error` was raised inside mirastream (a read it waited for), not in the loop body."""
    return any("/mirastream/" in frame.filename for frame in traceback.extract_tb(error.__traceback__))


def main_thread_inside_mirastream(main: int | None) -> bool:
    """Whether the main thread is running mirastream's code (waiting in a read, as a rule)."""
    frame = sys._current_frames().get(main or -1)
    while frame is not None:
        if "/mirastream/" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def consume(stream: Iterable[Any], body: Callable[[Any], object]) -> None:
    """The consumer: `for item in stream: body(item)`."""
    for item in stream:
        body(item)


def no_chunk_yet(item: object) -> None:
    pytest.fail(f"nothing can have arrived yet, got {item!r}")


def sigint_main_thread_after(delay: float) -> threading.Timer:
    """A started timer that sends `SIGINT` to the main thread after `delay` seconds (Ctrl-C)."""
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(delay, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    return timer


def answer_late(server: LoopbackServer, reply: Reply, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Make the server think for `THINKING` seconds before it answers with `reply`.

    The returned event is set once it answers.
    """
    answered = threading.Event()

    def late_reply() -> Reply:
        time.sleep(THINKING)
        answered.set()
        return reply

    monkeypatch.setattr(server, "next_reply", late_reply)
    return answered


def stop_timer(timer: threading.Timer) -> None:
    """Make sure `timer` has fired or never will (a late SIGINT would stop pytest itself)."""
    timer.cancel()
    timer.join()


# ---------------------------------------------------------------------------------------------
# Sync streams


@pytest.mark.parametrize("provider", PROVIDERS)
def test_break_closes_the_response_at_once(provider: str, server: LoopbackServer) -> None:
    server.queue(slow_reply(provider))
    stream = prompt(provider).stream()
    for _ in stream:
        (request,) = server.requests
        assert client_connected(server, request)
        break
    assert_released(server, request)
    assert stream.response.interrupted
    with pytest.raises(StreamAlreadyConsumed):
        iter(stream)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_close_in_the_loop_body_closes_the_response_and_ends_the_loop(
    provider: str, server: LoopbackServer
) -> None:
    server.queue(slow_reply(provider))
    stream = prompt(provider).stream()
    seen = 0
    for _ in stream:
        seen += 1
        (request,) = server.requests
        assert client_connected(server, request)
        stream.close()
        assert not client_connected(server, request)
    assert seen == 1
    assert_released(server, request)
    assert stream.response.interrupted
    stream.close()  # again: nothing happens
    with pytest.raises(StreamAlreadyConsumed):
        iter(stream)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_leaving_with_mid_stream_closes_the_response(provider: str, server: LoopbackServer) -> None:
    server.queue(slow_reply(provider))
    with prompt(provider).stream() as stream:
        chunks = iter(stream)  # held: only leaving the block can close it
        next(chunks)
        (request,) = server.requests
        assert client_connected(server, request)
    assert_released(server, request)
    assert stream.response.interrupted
    with pytest.raises(StopIteration):
        next(chunks)
    with pytest.raises(StreamAlreadyConsumed):
        iter(stream)


@pytest.mark.parametrize("how", ["raise", "signal"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_keyboard_interrupt_in_the_loop_body(provider: str, how: str, server: LoopbackServer) -> None:
    server.queue(slow_reply(provider))
    interrupt = KeyboardInterrupt()
    stream = prompt(provider).stream()

    def body(_: object) -> None:
        (request,) = server.requests
        assert client_connected(server, request)
        if how == "raise":
            raise interrupt
        signal.raise_signal(signal.SIGINT)  # the default handler raises KeyboardInterrupt here

    with pytest.raises(KeyboardInterrupt) as caught:
        consume(stream, body)
    (request,) = server.requests
    if how == "raise":
        assert caught.value is interrupt
    assert type(caught.value) is KeyboardInterrupt
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert_released(server, request)
    assert stream.response.interrupted


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sigint_while_a_read_blocks(provider: str, server: LoopbackServer) -> None:
    """Ctrl-C while the SDK waits for the next chunk: raised inside the stream, which closes."""
    server.queue(slow_reply(provider, repeat=10, delay=0.2))
    stream = prompt(provider).stream()
    timers: list[threading.Timer] = []

    def body(_: object) -> None:
        if not timers:  # after the first chunk, while the next is awaited
            timers.append(sigint_main_thread_after(0.1))

    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            consume(stream, body)
    finally:
        for timer in timers:
            stop_timer(timer)
    assert timers
    assert type(caught.value) is KeyboardInterrupt
    assert raised_inside_mirastream(caught.value)
    (request,) = server.requests
    assert_released(server, request)
    assert stream.response.interrupted


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sigint_while_waiting_for_the_response_headers(
    provider: str, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C before the server answers at all (a model that takes long to start)."""
    answered = answer_late(server, slow_reply(provider), monkeypatch)
    stream = prompt(provider).stream()
    timer = sigint_main_thread_after(0.15)
    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            consume(stream, no_chunk_yet)
    finally:
        stop_timer(timer)
    assert not answered.is_set()
    assert type(caught.value) is KeyboardInterrupt
    assert raised_inside_mirastream(caught.value)
    (request,) = server.requests
    assert not client_connected(server, request)
    assert request.disconnected.wait(NOTICE + THINKING)
    assert stream.response.interrupted


@pytest.mark.parametrize("provider", PROVIDERS)
def test_close_from_another_thread_stops_a_blocked_read(provider: str, server: LoopbackServer) -> None:
    """`close()` is "safe to call at any time": also from a thread other than the consumer's."""
    server.queue(slow_reply(provider, repeat=2, delay=0.05))
    stream = prompt(provider).stream()
    failures: list[BaseException] = []
    main = threading.main_thread().ident

    def stop() -> None:
        # As soon as the consumer waits inside mirastream for its next chunk:
        if wait_until(lambda: main_thread_inside_mirastream(main), 1.0):
            try:
                stream.close()
            except BaseException as error:
                failures.append(error)

    stopper = threading.Thread(target=stop)
    seen = 0

    def body(_: object) -> None:
        nonlocal seen
        seen += 1
        if seen == 1:
            stopper.start()

    try:
        consume(stream, body)
    finally:
        stopper.join()
    assert not failures, failures
    # Up to the first chunk with text, chunks are read before any is handed over (Anthropic
    # sends two without text first): those come without a wait, then the close takes effect.
    assert seen <= 4
    (request,) = server.requests
    assert_released(server, request)
    assert stream.response.interrupted


# ---------------------------------------------------------------------------------------------
# Async streams


@pytest.mark.parametrize("provider", PROVIDERS)
def test_aclose_in_the_loop_body_closes_the_response_and_ends_the_loop(
    provider: str, server: LoopbackServer
) -> None:
    server.queue(slow_reply(provider))

    async def main() -> None:
        stream = prompt(provider).stream_async()
        seen = 0
        async for _ in stream:
            seen += 1
            (request,) = server.requests
            assert client_connected(server, request)
            await stream.aclose()
            assert not client_connected(server, request)
        assert seen == 1
        await assert_released_async(server, request)
        assert stream.response.interrupted
        await stream.aclose()  # again: nothing happens
        with pytest.raises(StreamAlreadyConsumed):
            aiter(stream)
        assert not others()

    run_async(main)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_leaving_async_with_mid_stream_closes_the_response_at_once(
    provider: str, server: LoopbackServer
) -> None:
    server.queue(slow_reply(provider))

    async def main() -> None:
        async with prompt(provider).stream_async() as stream:
            chunks = aiter(stream)  # held: only leaving the block can close it
            await anext(chunks)
            (request,) = server.requests
            assert client_connected(server, request)
        assert not client_connected(server, request)  # before the loop ran anything else
        await assert_released_async(server, request)
        assert stream.response.interrupted
        with pytest.raises(StopAsyncIteration):
            await anext(chunks)
        assert not others()

    run_async(main)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_break_inside_async_with_closes_the_response_when_the_block_ends(
    provider: str, server: LoopbackServer
) -> None:
    """The README's pattern: `async with ... as stream: async for chunk in stream: ... break`."""
    server.queue(slow_reply(provider))

    async def main() -> None:
        async with prompt(provider).stream_async() as stream:
            async for _ in stream:
                (request,) = server.requests
                assert client_connected(server, request)
                break
        try:
            assert not client_connected(server, request), "still open after `async with` ended"
            assert not others(), f"left for the event loop: {others()}"
        finally:
            await asyncio.sleep(0.1)  # let the finalizer's task close it, so nothing leaks
        assert stream.response.interrupted

    run_async(main)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_break_without_async_with_is_closed_by_the_event_loop_soon(
    provider: str, server: LoopbackServer
) -> None:
    """Documented: without `async with`, the event loop finalises the generator on a later turn."""
    server.queue(slow_reply(provider))

    async def main() -> None:
        stream = prompt(provider).stream_async()
        async for _ in stream:
            (request,) = server.requests
            break
        assert await asyncio.to_thread(request.disconnected.wait, NOTICE)
        assert not client_connected(server, request)
        assert stream.response.interrupted
        assert not others()

    run_async(main)


@pytest.mark.parametrize("how", ["async for", "collect"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_cancelling_the_task_while_it_waits_for_a_chunk(
    provider: str, how: str, server: LoopbackServer
) -> None:
    server.queue(slow_reply(provider))

    async def main() -> None:
        stream = prompt(provider).stream_async()

        async def consume() -> None:
            async for _ in stream:
                pass

        # `collect()` in a task is what docs/errors.md shows
        task = asyncio.create_task(stream.collect() if how == "collect" else consume())
        while not stream.text:  # the first chunk came; the task waits for the next
            await asyncio.sleep(0.005)
        (request,) = server.requests
        assert client_connected(server, request)
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as caught:
            await task
        assert raised_inside_mirastream(caught.value)
        assert task.cancelled()
        assert not client_connected(server, request)
        assert not others(), f"left pending: {others()}"
        await assert_released_async(server, request)
        assert stream.response.interrupted

    run_async(main)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cancelling_the_task_while_its_loop_body_awaits(provider: str, server: LoopbackServer) -> None:
    """The consumer uses `async with`, and is cancelled while it handles a chunk."""
    server.queue(slow_reply(provider))

    async def main() -> None:
        stream = prompt(provider).stream_async()
        first = asyncio.Event()

        async def consume() -> None:
            async with stream:
                async for _ in stream:
                    first.set()
                    await asyncio.sleep(30)

        task = asyncio.create_task(consume())
        await first.wait()
        (request,) = server.requests
        assert client_connected(server, request)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        try:
            assert not client_connected(server, request), "still open after the task ended"
            assert not others(), f"left pending: {others()}"
        finally:
            await asyncio.sleep(0.1)
        assert stream.response.interrupted

    run_async(main)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_aclose_from_another_task_stops_the_consumer(provider: str, server: LoopbackServer) -> None:
    """A stop handler in one task, the consumer in another (a chat server's usual shape)."""
    server.queue(slow_reply(provider, repeat=5, delay=0.1))

    async def main() -> None:
        stream = prompt(provider).stream_async()
        first = asyncio.Event()

        async def consume() -> int:
            seen = 0
            async for _ in stream:
                seen += 1
                first.set()
            return seen

        task = asyncio.create_task(consume())
        await first.wait()
        (request,) = server.requests
        try:
            await stream.aclose()
            assert not client_connected(server, request)
            seen = await asyncio.wait_for(task, 0.5)  # the consumer's loop just ends
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        assert 1 <= seen <= 4  # the chunks read ahead up to the first with text, and one more
        assert stream.response.interrupted
        assert not others()

    run_async(main)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cancelling_while_the_server_is_silent_is_immediate_and_does_not_block_the_loop(
    provider: str, server: LoopbackServer
) -> None:
    server.queue(slow_reply(provider, repeat=2, delay=0.4))

    async def main() -> None:
        stream = prompt(provider).stream_async()
        first = asyncio.Event()

        async def consume() -> None:
            async for _ in stream:
                first.set()

        gaps: list[float] = []

        async def heartbeat() -> None:
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        task = asyncio.create_task(consume())
        await first.wait()
        await asyncio.sleep(0.05)  # the server says nothing for another 0.35 s
        (request,) = server.requests
        beat = asyncio.create_task(heartbeat())
        await asyncio.sleep(0.02)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        took = time.monotonic() - started
        await asyncio.sleep(0.02)
        beat.cancel()
        with pytest.raises(asyncio.CancelledError):
            await beat
        assert took < 0.2, f"the cancellation took {took:.2f} s"
        assert max(gaps) < 0.2, f"the event loop was blocked for {max(gaps):.2f} s"
        assert not client_connected(server, request)
        assert stream.response.interrupted

    run_async(main)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cancelling_while_waiting_for_the_response_headers(
    provider: str, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered = answer_late(server, slow_reply(provider), monkeypatch)

    async def main() -> None:
        stream = prompt(provider).stream_async()

        async def consume() -> None:
            async for item in stream:
                no_chunk_yet(item)

        task = asyncio.create_task(consume())
        while not server.requests:  # sent, and the server is thinking
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        (request,) = server.requests
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not answered.is_set()
        assert not client_connected(server, request), "the request still runs"
        assert not others(), f"left pending: {others()}"
        assert stream.response.interrupted

    run_async(main)
    assert not answered.is_set(), "asyncio.run waited for the server to answer"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_ctrl_c_during_asyncio_run(provider: str, server: LoopbackServer) -> None:
    """asyncio.run turns SIGINT into cancelling the main task, then raises KeyboardInterrupt."""
    server.queue(slow_reply(provider, repeat=10, delay=0.2))
    streams: list[Any] = []
    timer: threading.Timer | None = None

    async def main() -> None:
        nonlocal timer
        stream = prompt(provider).stream_async()
        streams.append(stream)
        async for _ in stream:
            if timer is None:
                timer = sigint_main_thread_after(0.1)

    try:
        with pytest.raises(KeyboardInterrupt):
            run_async(main)
    finally:
        if timer is not None:
            stop_timer(timer)
    assert timer is not None
    (request,) = server.requests
    assert_released(server, request)
    assert streams[0].response.interrupted


# ---------------------------------------------------------------------------------------------
# Stopping while a failed request waits to be retried


def waited_to_retry(error: BaseException) -> bool:
    """Whether `error` was raised while tenacity waited before a retry."""
    return any("tenacity" in frame.filename for frame in traceback.extract_tb(error.__traceback__))


def answered_once(server: LoopbackServer) -> bool:
    return len(server.requests) == 1 and server.requests[0].finished.is_set()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sigint_while_waiting_to_retry(provider: str, server: LoopbackServer) -> None:
    """A 500 is retried after a backoff (0.25 to 0.5 s at first); Ctrl-C during it stops everything."""
    server.queue(server_error(provider), slow_reply(provider))
    stream = prompt(provider).stream()
    timers: list[threading.Timer] = []

    def interrupt() -> None:  # 0.05 s into the backoff
        if wait_until(lambda: answered_once(server), 5.0):
            timers.append(sigint_main_thread_after(0.05))

    waiter = threading.Thread(target=interrupt)
    waiter.start()
    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            consume(stream, no_chunk_yet)
    finally:
        waiter.join()
        for timer in timers:
            stop_timer(timer)
    assert type(caught.value) is KeyboardInterrupt
    assert waited_to_retry(caught.value)
    assert len(server.requests) == 1
    assert stream.response.interrupted


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cancelling_while_waiting_to_retry(provider: str, server: LoopbackServer) -> None:
    server.queue(server_error(provider), slow_reply(provider))

    async def main() -> None:
        stream = prompt(provider).stream_async()
        task = asyncio.create_task(stream.collect())
        while not answered_once(server):
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as caught:
            await task
        assert waited_to_retry(caught.value)
        assert not others(), f"left pending: {others()}"
        assert stream.response.interrupted
        await asyncio.sleep(0.5)  # past the backoff: no retry is sent after all
        assert len(server.requests) == 1

    run_async(main)


# ---------------------------------------------------------------------------------------------
# Repetition: nothing grows


@pytest.mark.parametrize("provider", PROVIDERS)
def test_breaking_out_of_twenty_streams_grows_nothing(provider: str, server: LoopbackServer) -> None:
    """The cached sync client stays open here (as in real use): only what leaks could grow."""

    def once() -> None:
        server.reset()
        server.queue(slow_reply(provider, delay=0.01))
        for _ in prompt(provider).stream():
            break
        (request,) = server.requests
        assert not client_connected(server, request)

    once()  # warm: the SDK imported, its client made
    after_one = Snapshot.take(server)
    for _ in range(20):
        once()
    grown = settle(server, after_one, timeout=1.0)
    assert not grown, "grew over 20 more streams:\n" + "\n".join(grown)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cancelling_twenty_streams_in_one_event_loop_grows_nothing(
    provider: str, server: LoopbackServer
) -> None:
    """Inside one loop, where its shutdown cannot tidy up: no socket, thread or task accumulates."""

    async def once() -> None:
        server.reset()
        server.queue(slow_reply(provider, delay=0.01))
        stream = prompt(provider).stream_async()
        first = asyncio.Event()

        async def consume() -> None:
            async for _ in stream:
                first.set()

        task = asyncio.create_task(consume())
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        (request,) = server.requests
        assert not client_connected(server, request)

    async def main() -> None:
        for _ in range(2):  # warm: the SDK imported, the loop's client made, executor threads started
            await once()
        # The default executor (the legacy client reads in it) is a pool of up to min(32, cpus + 4)
        # threads, joined when asyncio.run ends (checked by `no_leaks`): left out here.
        after_warm_up = Snapshot.take(server, pools=("asyncio_",))
        for _ in range(20):
            await once()
        deadline = time.monotonic() + 1.0
        while (grown := Snapshot.take(server, pools=("asyncio_",)).grown_since(after_warm_up)) and (
            time.monotonic() < deadline
        ):
            await asyncio.sleep(0.02)
        assert not grown, "grew over 20 more streams:\n" + "\n".join(grown)
        assert not others()

    run_async(main)


# ---------------------------------------------------------------------------------------------
# Tool code


def code_stops(pids: set[int]) -> bool:
    """Whether the processes `pids` are all gone within a moment.

    The group is killed with SIGKILL; a process the session does not reap itself (the code's
    own children) can take a few milliseconds to die.
    """
    return wait_until(lambda: not running(pids), 1.0)


def no_code_left(before: set[int], language: str) -> bool:
    """Whether every process of the code (not a kept kernel) is gone within a moment.

    A process that was killed stays listed (a zombie) until its parent reaps it, a moment
    later; one that is still there after two seconds was left behind.
    """
    return wait_until(lambda: not _code_processes(before, language), 2.0)


def descendants_since(before: set[int]) -> dict[int, str]:
    """The processes started since `before`, with their states (for failure messages)."""
    return {pid: state for pid, state in descendants().items() if pid not in before}


def _kernels(pids: set[int]) -> set[int]:
    """The Jupyter kernels among `pids`, known by their command line.

    One that is being launched has the command line of this process (a fork, before its
    `exec`); one that was killed and not reaped yet (a zombie) has none, and is known by its
    name, `python*` (no code of the shell tests runs Python).
    """
    ours = Path("/proc/self/cmdline").read_bytes()
    found = set()
    for pid in pids:
        with contextlib.suppress(OSError):  # ended and reaped meanwhile: not there any more
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            zombie = not command and Path(f"/proc/{pid}/comm").read_text().startswith("python")
            if b"ipykernel_launcher" in command or command == ours or zombie:
                found.add(pid)
    # A sandboxed kernel runs under its keeper and bubblewrap: the whole tree is the kernel's.
    grown = True
    while grown:
        grown = False
        for pid in pids - found:
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
                if parent in found:
                    found.add(pid)
                    grown = True
    return found


def _code_processes(before: set[int], language: str) -> set[int]:
    """The processes the tool loop started for the code (the session's child and what the code started).

    The interpreter prewarms its Python session when a stream begins: while shell code runs,
    that kernel is no process of the code. It is stopped with the stream if it is still
    starting, and otherwise kept, like any session, until `interpreter.close()` (or the end
    of the event loop), after which `no_leaks` finds no process left.
    """
    started = set(descendants()) - before
    return started if language == "python" else started - _kernels(started)


@pytest.mark.parametrize(
    ("provider", "language"),
    [*((p, "shell") for p in TOOL_PROVIDERS), ("openai", "python")],
)
def test_keyboard_interrupt_mid_run_stops_the_code(
    provider: str, language: str, server: LoopbackServer
) -> None:
    server.queue(tool_reply(provider, language, SHELL_SLEEP if language == "shell" else PYTHON_SLEEP))
    before = set(descendants())
    interpreter = CodeInterpreter(confirm="auto")
    stream = prompt(provider, [interpreter]).stream()
    code: set[int] = set()

    def body(item: object) -> None:
        if isinstance(item, ConsoleEvent) and "started" in item.content:
            code.update(_code_processes(before, language))
            signal.raise_signal(signal.SIGINT)

    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            consume(stream, body)
        assert type(caught.value) is KeyboardInterrupt
        assert len(code) >= (2 if language == "shell" else 1), code  # the shell and its `sleep`
        assert code_stops(code), f"the code still runs: {running(code)}"
        assert no_code_left(before, language), f"left: {descendants_since(before)}"
        assert stream.response.interrupted
        assert len(server.requests) == 1  # the model never got a result
    finally:
        interpreter.close()


def test_sigint_while_waiting_for_the_codes_output_stops_it(server: LoopbackServer) -> None:
    """Ctrl-C while the tool loop waits for output: raised inside mirastream, the code stops."""
    server.queue(tool_reply("openai", "shell", SHELL_SLEEP))
    before = set(descendants())
    interpreter = CodeInterpreter(confirm="auto")
    stream = prompt("openai", [interpreter]).stream()
    code: set[int] = set()
    timers: list[threading.Timer] = []

    def body(item: object) -> None:
        if isinstance(item, ConsoleEvent) and "started" in item.content:
            code.update(_code_processes(before, "shell"))
            timers.append(sigint_main_thread_after(0.2))

    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            consume(stream, body)
        assert raised_inside_mirastream(caught.value)
        assert len(code) >= 2, code
        assert code_stops(code), f"the code still runs: {running(code)}"
        assert _code_processes(before, "shell") == set()
        assert stream.response.interrupted
    finally:
        for timer in timers:
            stop_timer(timer)
        interpreter.close()


@pytest.mark.parametrize(
    ("provider", "language"),
    [*((p, "shell") for p in TOOL_PROVIDERS), ("openai", "python")],
)
def test_cancelling_the_task_mid_run_stops_the_code(
    provider: str, language: str, server: LoopbackServer
) -> None:
    server.queue(tool_reply(provider, language, SHELL_SLEEP if language == "shell" else PYTHON_SLEEP))
    before = set(descendants())
    interpreter = CodeInterpreter(confirm="auto")

    async def main() -> None:
        stream = prompt(provider, [interpreter]).stream_async()
        code: set[int] = set()
        started = asyncio.Event()

        async def consume() -> None:
            async for item in stream:
                if isinstance(item, ConsoleEvent) and "started" in item.content:
                    code.update(_code_processes(before, language))
                    started.set()

        task = asyncio.create_task(consume())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Checked inside the loop: its shutdown would close the session anyway.
        assert len(code) >= (2 if language == "shell" else 1), code
        assert code_stops(code), f"the code still runs: {running(code)}"
        assert no_code_left(before, language), f"left: {descendants_since(before)}"
        assert not others(), f"left pending: {others()}"
        assert stream.response.interrupted
        assert len(server.requests) == 1

    try:
        run_async(main)
    finally:
        interpreter.close()


def test_cancelling_the_task_while_its_loop_body_awaits_stops_the_code(server: LoopbackServer) -> None:
    """The consumer uses `async with` and is cancelled while it shows the code's output."""
    server.queue(tool_reply("openai", "shell", SHELL_SLEEP))
    before = set(descendants())
    interpreter = CodeInterpreter(confirm="auto")

    async def main() -> None:
        stream = prompt("openai", [interpreter]).stream_async()
        code: set[int] = set()
        started = asyncio.Event()

        async def consume() -> None:
            async with stream:
                async for item in stream:
                    if isinstance(item, ConsoleEvent) and "started" in item.content:
                        code.update(_code_processes(before, "shell"))
                        started.set()
                        await asyncio.sleep(30)

        task = asyncio.create_task(consume())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        try:
            assert len(code) >= 2, code
            assert not running(code), "the code still runs after the task ended"
            assert not others(), f"left pending: {others()}"
        finally:
            await asyncio.sleep(0.5)  # let the finalizer's task stop it, so nothing leaks
        assert stream.response.interrupted

    try:
        run_async(main)
    finally:
        interpreter.close()
