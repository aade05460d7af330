"""A tool of one's own, written only against the public `Tool` protocol, in the real tool loop.

Three tools prove that a new tool needs no engine change: `SlowCounter` subclasses
`BaseTool` and streams `ToolEvent` progress while it works; `Shout` streams its own
arguments as events while the model writes them (`watch()`); `Echo` implements the protocol
without subclassing anything. A scripted model drives them through each provider's SDK and
wire format, sync and async, and the replay server's recorded requests show what went back.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from mirastream import ResponseChunk
from mirastream.events import Event, ToolEvent
from mirastream.messages import Message, ToolCall
from mirastream.testing import Call, RecordedRequest, ReplayServer, Text, Turn
from mirastream.tools import BaseTool, CodeInterpreter, FunctionTool, Tool, ToolArgumentsError, ToolOutput

from ..seed_runs import MODES, PROVIDERS, open_stream, prompt_class, read, replay, replay_server

__all__ = ["replay", "replay_server"]  # fixtures

CALL_ID = "call_count_1"


def object_schema(required: tuple[str, ...] = (), **properties: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of an arguments object with these properties."""
    return {"type": "object", "properties": properties, "required": list(required)}


class Started:
    """A prewarm handle (`Prewarm`): records whether the stream cancelled it."""

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class SlowCounter(BaseTool):
    """Counts to `to`, reporting each number as a `ToolEvent` while it works."""

    name = "count"
    description = "Count from 1 up to a number, slowly."
    parameters = object_schema(("to",), to={"type": "integer", "description": "the last number"})

    def __init__(self) -> None:
        self.warms = 0
        self.awarms = 0
        self.prewarm: Started | None = None
        self.endings: list[tuple[str, str]] = []  # (call id, "completed" or "stopped")

    def provider_options(self, provider: str) -> dict[str, Any]:
        return {"cache_control": {"type": "ephemeral"}} if provider == "anthropic" else {}

    def warm(self) -> Started:
        self.warms += 1
        self.prewarm = Started()
        return self.prewarm

    def awarm(self) -> None:
        self.awarms += 1
        return None

    def _target(self, call: ToolCall) -> int:
        to = (call.arguments or {}).get("to")
        if not isinstance(to, int) or isinstance(to, bool) or to < 1:
            raise ToolArgumentsError(f"`to` must be a positive integer, not {to!r}.", tool_name=self.name)
        if to > 100:
            raise OverflowError(f"{to} is too far to count")
        return to

    def run(self, call: ToolCall) -> Iterator[Event | ToolOutput]:
        to = self._target(call)
        outcome = "stopped"
        try:
            for number in range(1, to + 1):
                yield ToolEvent(self.name, f"{number}\n", data={"counted": number})
            outcome = "completed"
            yield ToolOutput(f"Counted to {to}.")
        finally:
            self.endings.append((call.id, outcome))

    async def arun(self, call: ToolCall) -> AsyncIterator[Event | ToolOutput]:
        to = self._target(call)
        outcome = "stopped"
        try:
            for number in range(1, to + 1):
                await asyncio.sleep(0)  # real async work would await here
                yield ToolEvent(self.name, f"{number}\n", data={"counted": number})
            outcome = "completed"
            yield ToolOutput(f"Counted to {to}.")
        finally:
            self.endings.append((call.id, outcome))


class ArgumentPieces:
    """An `ArgumentWatcher`: each streamed piece of the arguments as a `ToolEvent`."""

    def __init__(self, tool: str) -> None:
        self.tool = tool

    def feed(self, arguments: str) -> list[Event]:
        return [ToolEvent(self.tool, arguments, data="piece")]

    def finish(self) -> list[Event]:
        return [ToolEvent(self.tool, "", data="written")]


class Shout(BaseTool):
    """Streams its own arguments while the model writes them; answers in capitals."""

    name = "shout"
    description = "Say a text loudly."
    parameters = object_schema(("text",), text={"type": "string"})

    def watch(self, call_id: str | None) -> ArgumentPieces:
        return ArgumentPieces(self.name)

    def run(self, call: ToolCall) -> Iterator[Event | ToolOutput]:
        yield ToolOutput(str((call.arguments or {}).get("text", "")).upper())


class Echo:
    """The protocol implemented from scratch, without `BaseTool`."""

    name = "echo"
    description = "Repeat a text."
    parameters = object_schema(text={"type": "string"})

    def provider_options(self, provider: str) -> dict[str, Any]:
        return {}

    def watch(self, call_id: str | None) -> None:
        return None

    def run(self, call: ToolCall) -> Iterator[Event | ToolOutput]:
        yield ToolOutput(f"echo: {(call.arguments or {}).get('text', '')}")

    async def arun(self, call: ToolCall) -> AsyncIterator[Event | ToolOutput]:
        yield ToolOutput(f"echo: {(call.arguments or {}).get('text', '')}")

    def warm(self) -> None:
        return None

    def awarm(self) -> None:
        return None

    def close(self) -> None:
        return None


def count_turns(to: Any) -> tuple[Turn, Turn]:
    """The model counts with the tool, then answers."""
    return (
        Turn(Text("Let me", " count."), Call("count", {"to": to}, id=CALL_ID), usage=(12, 6)),
        Turn(Text("Done", " counting."), usage=(30, 4)),
    )


def last_tool_message(request: RecordedRequest) -> Message:
    """The tool result a recorded request sends back, read from its body in any wire format."""
    messages = request.messages()
    assert messages[-1].role == "tool", messages
    return messages[-1]


def test_the_three_tools_implement_the_protocol() -> None:
    for tool in (SlowCounter(), Shout(), Echo()):
        assert isinstance(tool, Tool)
    assert isinstance(CodeInterpreter(), Tool)  # the built-in ones too
    assert isinstance(FunctionTool.from_function(len, name="length"), Tool)
    assert not isinstance(object(), Tool)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_progress_events_stream_between_the_turns_and_the_output_goes_back(
    provider: str, mode: str, replay: ReplayServer
) -> None:
    counter = SlowCounter()
    replay.queue(*count_turns(3))
    prompt = prompt_class(provider, [counter])(question="Count to 3.")
    items, stream, error = read(open_stream(prompt, mode), mode)
    assert error is None

    positions = [index for index, item in enumerate(items) if isinstance(item, ToolEvent)]
    assert positions == list(range(positions[0], positions[0] + 3))  # together, in one run
    assert [item.content for item in items if isinstance(item, ToolEvent)] == ["1\n", "2\n", "3\n"]
    assert [item.data for item in items if isinstance(item, ToolEvent)] == [{"counted": n} for n in (1, 2, 3)]
    before = "".join(item.content for item in items[: positions[0]] if isinstance(item, ResponseChunk))
    after = "".join(item.content for item in items[positions[-1] :] if isinstance(item, ResponseChunk))
    assert (before, after) == ("Let me count.", "Done counting.")
    assert items[positions[0]].item_type == "tool"
    assert items[positions[0]].to_lmc() == {
        "role": "computer",
        "type": "tool",
        "format": "count",
        "content": {"counted": 1},
    }

    assert len(replay.requests) == 2
    result = last_tool_message(replay.requests[1])
    assert (result.content, result.name) == ("Counted to 3.", "count")
    response = stream.response
    assert response.text == "Done counting."
    (step_result,) = response.steps[0].results
    assert (step_result.output, step_result.is_error) == ("Counted to 3.", False)
    assert counter.endings == [(step_result.call.id, "completed")]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_tool_arguments_error_goes_back_as_an_error_result(
    provider: str, mode: str, replay: ReplayServer
) -> None:
    replay.queue(*count_turns(0))
    prompt = prompt_class(provider, [SlowCounter()])(question="Count to 0.")
    items, stream, error = read(open_stream(prompt, mode), mode)
    assert error is None
    assert not any(isinstance(item, ToolEvent) for item in items)
    assert last_tool_message(replay.requests[1]).content == "`to` must be a positive integer, not 0."
    (result,) = stream.response.steps[0].results
    assert result.is_error
    assert stream.response.text == "Done counting."


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_plain_exception_goes_back_as_the_tool_raised(
    provider: str, mode: str, replay: ReplayServer
) -> None:
    replay.queue(*count_turns(1000))
    prompt = prompt_class(provider, [SlowCounter()])(question="Count to 1000.")
    _, stream, error = read(open_stream(prompt, mode), mode)
    assert error is None
    sent = last_tool_message(replay.requests[1]).content
    assert sent == "The tool raised OverflowError: 1000 is too far to count"
    (result,) = stream.response.steps[0].results
    assert result.is_error and result.output == sent


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_closing_the_stream_mid_tool_closes_the_tools_generator(
    provider: str, mode: str, replay: ReplayServer
) -> None:
    counter = SlowCounter()
    replay.queue(count_turns(5)[0])
    prompt = prompt_class(provider, [counter])(question="Count to 5.")
    items, stream, error = read(open_stream(prompt, mode), mode, lambda item: isinstance(item, ToolEvent))
    assert error is None
    assert isinstance(items[-1], ToolEvent) and items[-1].content == "1\n"
    assert [outcome for _, outcome in counter.endings] == ["stopped"]  # its `finally` ran
    assert len(replay.requests) == 1  # no result went back
    assert stream.response.interrupted
    if mode == "sync":
        assert counter.prewarm is not None and counter.prewarm.cancelled  # the stream stopped early


@pytest.mark.parametrize("mode", MODES)
def test_warm_is_called_once_per_stream(mode: str, replay: ReplayServer) -> None:
    counter = SlowCounter()
    prompt = prompt_class("openai", [counter])(question="Count to 2.")
    for _ in range(2):
        replay.queue(*count_turns(2))
        _, _, error = read(open_stream(prompt, mode), mode)
        assert error is None
    assert len(replay.requests) == 4  # two streams of two turns each
    assert (counter.warms, counter.awarms) == ((2, 0) if mode == "sync" else (0, 2))
    if mode == "sync":
        assert counter.prewarm is not None and not counter.prewarm.cancelled  # a finished stream keeps it


@pytest.mark.parametrize("provider", PROVIDERS)
def test_provider_options_land_in_that_providers_tool_definition(provider: str, replay: ReplayServer) -> None:
    replay.queue(*count_turns(1))
    prompt_class(provider, [SlowCounter()])(question="Count to 1.").stream().collect()
    body = replay.requests[0].json()
    assert replay.requests[0].tool_names() == ["count"]
    if provider == "anthropic":
        (tool,) = body["tools"]
        assert tool["cache_control"] == {"type": "ephemeral"}
        assert tool["input_schema"] == SlowCounter.parameters
        assert tool["description"] == SlowCounter.description
    else:
        assert "cache_control" not in replay.requests[0].body.decode()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_watch_streams_the_arguments_while_the_model_writes_them(
    provider: str, mode: str, replay: ReplayServer
) -> None:
    pieces = ['{"text": "hel', "lo the", 're"}']
    replay.queue(
        Turn(Text("Shouting."), Call("shout", pieces, id="call_shout"), usage=(9, 9)),
        Turn(Text("I shouted."), usage=(20, 3)),
    )
    prompt = prompt_class(provider, [Shout()])(question="Shout hello there.")
    items, stream, error = read(open_stream(prompt, mode), mode)
    assert error is None

    events = [(index, item) for index, item in enumerate(items) if isinstance(item, ToolEvent)]
    written = [item.content for _, item in events if item.data == "piece"]
    assert "".join(written) == "".join(pieces)
    if provider != "gemini":  # Gemini sends a call whole, in one chunk
        assert written == pieces
    assert events[-1][1].data == "written"  # `finish()`, once the model's turn ended
    chunk_positions = [index for index, item in enumerate(items) if isinstance(item, ResponseChunk)]
    answer_start = next(i for i in chunk_positions if items[i].content == "I shouted.")
    assert all(index < answer_start for index, _ in events)
    first_call_chunk = next(i for i in chunk_positions if items[i].tool_calls)
    assert events[0][0] > first_call_chunk  # right after the chunk that carries the piece

    assert last_tool_message(replay.requests[1]).content == "HELLO THERE"
    assert stream.response.steps[0].results[0].output == "HELLO THERE"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_tool_without_base_tool_runs_in_the_loop(provider: str, mode: str, replay: ReplayServer) -> None:
    replay.queue(
        Turn(Call("echo", {"text": "ping"}, id="call_echo"), usage=(5, 5)),
        Turn(Text("It said ping."), usage=(9, 3)),
    )
    prompt = prompt_class(provider, [Echo()])(question="Echo ping.")
    _, stream, error = read(open_stream(prompt, mode), mode)
    assert error is None
    assert last_tool_message(replay.requests[1]).content == "echo: ping"
    assert replay.requests[0].tool_names() == ["echo"]
    assert stream.response.text == "It said ping."


def test_anthropic_is_told_that_an_error_result_is_an_error(replay: ReplayServer) -> None:
    replay.queue(*count_turns(0))
    prompt_class("anthropic", [SlowCounter()])(question="Count to 0.").stream().collect()
    (block,) = [
        block
        for message in replay.requests[1].json()["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block["type"] == "tool_result"
    ]
    assert block.get("is_error") is True


class Sleeper(BaseTool):
    """Works for a while between two progress events."""

    name = "sleeper"
    description = "Take a nap."
    parameters = object_schema()

    def run(self, call: ToolCall) -> Iterator[Event | ToolOutput]:
        yield ToolEvent(self.name, "asleep\n")
        time.sleep(0.5)
        yield ToolEvent(self.name, "awake\n")
        yield ToolOutput("slept")

    async def arun(self, call: ToolCall) -> AsyncIterator[Event | ToolOutput]:
        yield ToolEvent(self.name, "asleep\n")
        await asyncio.sleep(0.5)
        yield ToolEvent(self.name, "awake\n")
        yield ToolOutput("slept")


@pytest.mark.parametrize("mode", MODES)
def test_a_stop_from_elsewhere_while_a_tool_runs_stops_the_run(mode: str, replay: ReplayServer) -> None:
    replay.queue(Turn(Call("sleeper", {}), usage=(3, 3)), Turn(Text("Rested."), usage=(5, 2)))
    stream = open_stream(prompt_class("openai", [Sleeper()])(question="Nap."), mode)()
    items: list[Any] = []
    if mode == "sync":
        stopper = threading.Timer(0.2, stream.close)
        stopper.start()
        items.extend(stream)
        stopper.join()
    else:

        async def consume() -> None:
            async def stop() -> None:
                await asyncio.sleep(0.2)
                await stream.aclose()

            stopping = asyncio.create_task(stop())
            items.extend([item async for item in stream])
            await stopping

        asyncio.run(consume())
    assert len(replay.requests) == 1  # the next turn was never sent
    assert stream.response.interrupted
    assert not any(isinstance(item, ResponseChunk) and item.content == "Rested." for item in items)
