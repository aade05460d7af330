"""`stream.lmc()` and `stream.run_events()`: the seeds' own loops over the real methods.

The translators are tested item by item in test_lmc.py and test_run_events.py; here the
stream methods drive them over each provider's wire format, sync and async.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from mirastream.testing import ReplayServer
from mirastream.tools import CodeInterpreter

from .seed_runs import (
    ANSWER,
    CODE,
    MODES,
    OUTPUT,
    PROVIDERS,
    QUESTION,
    SEED_LMC,
    prompt_class,
    replay,
    replay_server,
    seed_for,
    seed_turns,
)
from .test_run_events import CodeTutorStream

__all__ = ["replay", "replay_server"]  # fixtures


@pytest.fixture(scope="module")
def interpreter() -> Iterator[CodeInterpreter]:
    code = CodeInterpreter(confirm="ask")  # iterating on is consent, as in Open Interpreter
    yield code
    code.close()


def collect(stream: Any, view: str, mode: str) -> list[Any]:
    if mode == "sync":
        return list(getattr(stream, view)())

    async def read() -> list[Any]:
        return [item async for item in getattr(stream, view)()]

    return asyncio.run(read())


def open_stream(provider: str, mode: str, interpreter: CodeInterpreter) -> Any:
    prompt = prompt_class(provider, [interpreter])(question=QUESTION)
    return prompt.stream() if mode == "sync" else prompt.stream_async()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_lmc_streams_the_seed(
    provider: str, mode: str, replay: ReplayServer, interpreter: CodeInterpreter
) -> None:
    replay.queue(*seed_turns())
    stream = open_stream(provider, mode, interpreter)
    streamed = collect(stream, "lmc", mode)
    assert streamed == seed_for(provider)
    if provider != "gemini":  # Gemini sends a call whole: its code comes in one piece
        assert streamed == SEED_LMC
    assert stream.done and stream.response.text == ANSWER
    assert stream.response.lmc_messages() == [
        {"role": "assistant", "type": "code", "format": "python", "content": CODE},
        {"role": "computer", "type": "console", "format": "output", "content": OUTPUT},
        {"role": "assistant", "type": "message", "content": ANSWER},
    ]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_seed_loop_runs_unchanged_on_run_events(
    provider: str,
    mode: str,
    replay: ReplayServer,
    interpreter: CodeInterpreter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    replay.queue(*seed_turns())
    stream = open_stream(provider, mode, interpreter)
    CodeTutorStream().process_stream(collect(stream, "run_events", mode))
    assert capsys.readouterr().out == (
        f"Run created: queued\n{CODE}\nOutput: {OUTPUT}{ANSWER}\nRun completed: completed\n"
    )
    assert stream.done


def test_breaking_out_of_lmc_at_the_confirmation_runs_nothing(
    replay: ReplayServer, interpreter: CodeInterpreter
) -> None:
    replay.queue(*seed_turns())
    stream = open_stream("openai", "sync", interpreter)
    seen = []
    for chunk in stream.lmc():
        seen.append(chunk)
        if "executing" in chunk:
            break
    assert seen == SEED_LMC[:7]
    assert stream.response.interrupted and len(replay.requests) == 1


def test_run_events_of_a_failed_stream_end_with_run_failed_then_raise(replay: ReplayServer) -> None:
    from mirastream.errors import AuthenticationError
    from mirastream.testing import ErrorReply

    replay.queue(ErrorReply(status=401))
    stream = prompt_class("openai", [])(question=QUESTION).stream(retries=0)
    events: list[Any] = []

    def read() -> None:
        for event in stream.run_events():
            events.append(event)

    with pytest.raises(AuthenticationError):
        read()
    assert [name for name, _ in events][-1] == "thread.run.failed"
    assert stream.response.interrupted
