"""Prewarming: the code interpreter's Python kernel starts as soon as a stream with the tool begins.

Real SDKs against the loopback server, real kernels. The server holds the model's first reply
until a condition holds (the kernel is ready, or is starting), so each test sees the moment
it is about however long a kernel takes to start on a busy machine. Every test ends with
nothing left: no child process, no thread, no open file, no pending task.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from mirastream.events import ActiveLineEvent, ConfirmationEvent, ConsoleEvent
from mirastream.tools import CodeInterpreter
from mirastream.tools.execution import Limits, SessionStartError

from ..cancellation_helpers import (
    Snapshot,
    close_cached_clients,
    connect,
    descendants,
    prompt,
    settle,
    tool_reply,
    wait_until,
)
from ..loopback import LoopbackServer, Reply

pytest.importorskip("ipykernel")

MODES = ["sync", "async"]
CODE = "import sys, time\nprint(sys.argv[sys.argv.index('-f') + 1], time.monotonic())"
"""The code the model runs: which kernel runs it (its connection file: in a sandbox the kernel
does not know its pid on the host), and when it starts (the host's clock)."""
EXECUTION_START = 0.3
"""Seconds from the complete tool call to its code running, in a kernel that is ready."""
KERNEL_START = 60.0
"""Seconds a kernel may take to start on a very busy machine (the wait is over when it is ready)."""
PREWARM_THREAD = "mirastream-prewarm"


@pytest.fixture(autouse=True)
def no_leaks(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the SDKs at the server; fail the test if it leaves a process, thread or fd behind."""
    connect(server, monkeypatch)
    close_cached_clients()
    before = Snapshot.take(server)
    yield
    close_cached_clients()  # their idle pooled connections are kept on purpose
    problems = settle(server, before, timeout=5.0)
    assert not problems, "left behind:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Helpers


def running_kernels() -> set[str]:
    """The connection files of the Jupyter kernels this process started that still run.

    Only its own children (the kernel, or the keeper of its sandbox), not zombies: what a
    kernel forks has the kernel's command line until it execs.
    """
    found = set()
    for pid, state in descendants().items():
        with contextlib.suppress(OSError):  # ended meanwhile
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if (
                state != "Z"
                and parent == os.getpid()
                and any(b"ipykernel_launcher" in arg for arg in command)
            ):
                found.add(command[len(command) - command[::-1].index(b"-f")].decode())
    return found


def prewarm_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == PREWARM_THREAD]


class Kernels:
    """Every kernel this process runs while the watch is on, sampled every 10 ms."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="kernel watch")

    def _watch(self) -> None:
        while True:
            self.seen |= running_kernels()
            if self._stop.wait(0.01):
                return

    def __enter__(self) -> Kernels:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()


def hold_first_reply(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch, condition: Callable[[], bool]
) -> list[bool]:
    """Make the server answer its first request only once `condition()` holds.

    It waits `KERNEL_START` seconds at most; the returned list then says whether it held.
    """
    held: list[bool] = []
    take = server.next_reply

    def next_reply() -> Any:
        if not held:
            held.append(wait_until(condition, KERNEL_START))
        return take()

    monkeypatch.setattr(server, "next_reply", next_reply)
    return held


def ready(session: Any) -> bool:
    """Whether the session's kernel runs and has finished starting."""
    return bool(session.alive and not session.starting)


class Run:
    """What a stream yielded, and when (the host's `time.monotonic()`)."""

    def __init__(self) -> None:
        self.items: list[tuple[float, Any]] = []
        self.starting_at_call: bool | None = None

    def add(self, item: Any, session: Any) -> None:
        self.items.append((time.monotonic(), item))
        if isinstance(item, ConfirmationEvent):  # the tool call is complete
            self.starting_at_call = session.starting

    def execution(self) -> tuple[str, float]:
        """The kernel that ran `CODE`, and the seconds from the complete call to the code running."""
        (called,) = [at for at, item in self.items if isinstance(item, ConfirmationEvent)]
        output = "".join(item.content for _, item in self.items if isinstance(item, ConsoleEvent))
        kernel, started = output.split()
        return kernel, float(started) - called


def stream(mode: str, interpreter: CodeInterpreter, on_session: Callable[[Any], None] | None = None) -> Run:
    """Stream one prompt with `interpreter` to its end; `on_session` gets the Python session first."""
    run = Run()
    if mode == "sync":
        session = interpreter.session("python")  # the one the prewarm starts
        if on_session is not None:
            on_session(session)
        for item in prompt("openai", [interpreter]).stream():
            run.add(item, session)
        return run

    async def main() -> None:
        session = interpreter.async_session("python")
        if on_session is not None:
            on_session(session)
        async for item in prompt("openai", [interpreter]).stream_async():
            run.add(item, session)

    run_async(main)
    return run


def run_async(main: Callable[[], Any]) -> Any:
    """`asyncio.run(main())`; fails if the loop reported anything (a task destroyed pending, ...)."""
    reports: list[str] = []

    async def checked() -> Any:
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, context: reports.append(str(context.get("message")))
        )
        result = await main()
        gc.collect()  # a task whose exception nobody retrieved reports it when collected
        return result

    result = asyncio.run(checked())
    assert not reports, reports
    return result


def execute_turns(server: LoopbackServer) -> None:
    """The model calls the interpreter with `CODE`, then answers."""
    server.queue(tool_reply("openai", "python", CODE), Reply.sse("tools/openai_final.sse"))


# ---------------------------------------------------------------------------------------------
# The kernel is ready when the call comes


@pytest.mark.parametrize("mode", MODES)
def test_the_kernel_is_ready_before_the_call_and_runs_it_at_once(
    mode: str, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    execute_turns(server)
    interpreter = CodeInterpreter(confirm="auto")
    sessions: list[Any] = []
    held = hold_first_reply(server, monkeypatch, lambda: bool(sessions) and ready(sessions[0]))
    try:
        with Kernels() as kernels:
            run = stream(mode, interpreter, sessions.append)
        assert held == [True], "the kernel was not started before the model's reply"
        pid, waited = run.execution()
        assert kernels.seen == {pid}  # one kernel: the prewarmed one ran the code
        assert waited < EXECUTION_START, f"the code started {waited * 1000:.0f} ms after the call"
        assert len(server.requests) == 2
    finally:
        interpreter.close()


@pytest.mark.parametrize("mode", MODES)
def test_a_call_that_comes_while_the_kernel_starts_waits_for_it(
    mode: str, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    execute_turns(server)
    interpreter = CodeInterpreter(confirm="auto")
    sessions: list[Any] = []
    held = hold_first_reply(server, monkeypatch, lambda: bool(sessions) and sessions[0].starting)
    try:
        with Kernels() as kernels:
            run = stream(mode, interpreter, sessions.append)
        assert held == [True]
        assert run.starting_at_call is True  # the call was complete before the kernel was ready
        pid, _ = run.execution()
        assert kernels.seen == {pid}  # it waited for that start: no second kernel
        # ... to its end: the kernel was set up (it reports active lines) before the code ran.
        assert [item.line for _, item in run.items if isinstance(item, ActiveLineEvent)] == [1, 2, None]
        assert ready(sessions[0]) is (mode == "sync")  # an async session ends with its loop
    finally:
        interpreter.close()


@pytest.mark.parametrize("mode", MODES)
def test_a_stream_without_calls_leaves_the_warm_kernel_to_the_next(mode: str, server: LoopbackServer) -> None:
    server.queue(Reply.sse("openai/text.sse"))
    execute_turns(server)
    interpreter = CodeInterpreter(confirm="auto")
    chef = prompt("openai", [interpreter])
    try:
        with Kernels() as kernels:
            if mode == "sync":
                session = interpreter.session("python")
                text = chef.stream().collect().text
                assert wait_until(lambda: ready(session), KERNEL_START)
                (warm,) = running_kernels()
                assert wait_until(lambda: not prewarm_threads(), 5.0)  # it ends once the kernel is ready
                run = Run()
                for item in prompt("openai", [interpreter]).stream():
                    run.add(item, session)
            else:

                async def main() -> tuple[str, str, Run]:
                    session = interpreter.async_session("python")
                    text = (await chef.stream_async().collect()).text
                    while not ready(session):
                        await asyncio.sleep(0.01)  # the prewarm goes on after the stream
                    (warm,) = running_kernels()
                    run = Run()
                    async for item in prompt("openai", [interpreter]).stream_async():
                        run.add(item, session)
                    return text, warm, run

                text, warm, run = run_async(main)
        assert text
        pid, waited = run.execution()
        assert pid == warm and kernels.seen == {warm}
        assert waited < EXECUTION_START
    finally:
        interpreter.close()


# ---------------------------------------------------------------------------------------------
# Failures


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_prewarm_is_reported_by_the_call_as_without_prewarm(
    mode: str, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """A kernel that cannot start (too little memory): the call raises what it raises unwarmed."""

    def fail(prewarm: bool) -> tuple[SessionStartError, set[str]]:
        """The stream's error, and the kernels launched."""
        server.reset()
        server.queue(tool_reply("openai", "python", CODE))
        interpreter = CodeInterpreter(confirm="auto", limits=Limits(max_memory_mb=50), prewarm=prewarm)
        sessions: list[Any] = []
        with Kernels() as kernels:
            if prewarm:  # the model answers once the prewarm is over: it failed before the call
                hold_first_reply(server, monkeypatch, lambda: bool(kernels.seen) and not sessions[0].starting)
            try:
                with pytest.raises(SessionStartError) as caught:
                    stream(mode, interpreter, sessions.append)
            finally:
                interpreter.close()
        return caught.value, kernels.seen

    errors: dict[bool, SessionStartError] = {}
    launched: dict[bool, set[str]] = {}
    for prewarm in (False, True):
        errors[prewarm], launched[prewarm] = fail(prewarm)
    assert len(launched[True]) == 1  # the call reported the prewarm's failure: it did not retry
    for error in errors.values():
        assert str(error).startswith("the Python kernel ")
        assert "Limits.max_memory_mb=50 may be too low" in str(error)
    assert str(errors[True]).splitlines()[0] == str(errors[False]).splitlines()[0]
    assert errors[True].response is not None  # reported like any stream failure
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "Exception" not in captured.err, captured.err


# ---------------------------------------------------------------------------------------------
# Stopping while the kernel starts


def test_stopping_a_sync_stream_while_the_kernel_starts_aborts_the_start(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    execute_turns(server)
    before = set(descendants())
    interpreter = CodeInterpreter(confirm="auto")
    hold_first_reply(server, monkeypatch, lambda: bool(running_kernels()))  # launched, not ready
    try:
        with prompt("openai", [interpreter]).stream() as chunks:
            for _ in chunks:
                session = interpreter.session("python")
                assert session.starting
                break
        # Before `close()`: the stream's end stopped the kernel, and the prewarm thread ends.
        assert wait_until(lambda: not prewarm_threads(), 5.0), "the prewarm thread still runs"
        assert set(descendants()) - before == set()
        assert not session.alive and not session.starting
        assert chunks.response.interrupted
    finally:
        interpreter.close()


@pytest.mark.parametrize("how", ["cancel", "break"])
def test_stopping_an_async_stream_while_the_kernel_starts_aborts_the_start(
    how: str, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    execute_turns(server)
    before = set(descendants())
    interpreter = CodeInterpreter(confirm="auto")
    answer = threading.Event()  # "cancel": the model answers only after the test
    if how == "cancel":
        hold_first_reply(server, monkeypatch, answer.is_set)
    else:
        hold_first_reply(server, monkeypatch, lambda: bool(running_kernels()))

    async def main() -> None:
        session = interpreter.async_session("python")
        chef = prompt("openai", [interpreter])
        if how == "cancel":
            consumer = asyncio.create_task(chef.stream_async().collect())
            while not running_kernels():
                await asyncio.sleep(0.01)  # launched, not ready: cancel while it starts
            assert session.starting
            consumer.cancel()
            with pytest.raises(asyncio.CancelledError):
                await consumer
        else:
            async with chef.stream_async() as chunks:
                async for _ in chunks:
                    assert session.starting
                    break
            assert chunks.response.interrupted
        # At once, inside the loop: no task left, the kernel stopped and reaped.
        assert asyncio.all_tasks() == {asyncio.current_task()}
        assert set(descendants()) - before == set()
        assert not session.alive and not session.starting

    try:
        run_async(main)
    finally:
        answer.set()
        interpreter.close()


def test_closing_the_interpreter_while_the_kernel_starts_stops_it(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream without calls ends while the kernel starts; `close()` then aborts the start."""
    server.queue(Reply.sse("openai/text.sse"))
    before = set(descendants())
    interpreter = CodeInterpreter()
    session = interpreter.session("python")
    hold_first_reply(server, monkeypatch, lambda: session.starting)
    assert prompt("openai", [interpreter]).stream().collect().text
    assert session.starting  # the kernel starts beyond the stream
    started = time.monotonic()
    interpreter.close()
    assert time.monotonic() - started < 5.0
    assert wait_until(lambda: not prewarm_threads(), 5.0), "the prewarm thread still runs"
    assert set(descendants()) - before == set()
    assert not session.alive and not session.starting


def test_an_async_prewarm_still_starting_when_the_loop_ends_leaves_nothing(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.queue(Reply.sse("openai/text.sse"))
    interpreter = CodeInterpreter()
    sessions: list[Any] = []
    hold_first_reply(server, monkeypatch, lambda: bool(sessions) and sessions[0].starting)

    async def main() -> None:
        sessions.append(interpreter.async_session("python"))
        assert (await prompt("openai", [interpreter]).stream_async().collect()).text
        assert sessions[0].starting
        # The prewarm task is still pending: asyncio.run cancels it, which stops the kernel.
        assert [task.get_name() for task in asyncio.all_tasks()].count("mirastream-prewarm") == 1

    run_async(main)
    assert not sessions[0].alive and not sessions[0].starting
    interpreter.close()


# ---------------------------------------------------------------------------------------------
# Without prewarming


@pytest.mark.parametrize("mode", MODES)
def test_without_prewarm_nothing_starts_before_the_call(
    mode: str, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    execute_turns(server)
    interpreter = CodeInterpreter(confirm="auto", prewarm=False)
    early: list[tuple[set[str], list[threading.Thread]]] = []

    def a_while_later() -> bool:
        time.sleep(0.5)
        early.append((running_kernels(), prewarm_threads()))
        return True

    hold_first_reply(server, monkeypatch, a_while_later)
    try:
        with Kernels() as kernels:
            run = stream(mode, interpreter)
        assert early == [(set(), [])]
        pid, _ = run.execution()
        assert kernels.seen == {pid}  # the call started it
    finally:
        interpreter.close()


def test_shell_only_interpreters_and_the_option_prewarm_nothing() -> None:
    assert CodeInterpreter(languages=("shell",)).warm_up() is None
    interpreter = CodeInterpreter(prewarm=False)
    assert interpreter.prewarm is False and "prewarm=False" in repr(interpreter)
    assert CodeInterpreter().prewarm is True
