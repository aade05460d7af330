"""Hosted code execution: the provider runs the code, the stream shows it as local code.

Each provider's transcript (`tests/transcripts/hosted_code/`, provenance in its README) has
the model write some text, run code on the provider's servers, then answer. Read through the
real SDKs from the loopback server, sync and async, the stream must yield the code and its
output as the events of local code (with `provider_executed=True`), between the model's text,
with no confirmation and no request of mirastream's own; the LMC and Assistant-run views show
the same. The recorded OpenAI stream (`openai_responses/recorded/code_interpreter.sse`) runs
three executions in one response.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from mirastream import ResponseChunk
from mirastream._lmc import lmc_messages
from mirastream.errors import ConfigurationError
from mirastream.events import (
    CodeEvent,
    ConfirmationEvent,
    ConsoleEvent,
    Event,
    ImageEvent,
    MarkerEvent,
)
from mirastream.tools import HostedCodeInterpreter

from ..loopback import LoopbackServer, Reply

PROVIDERS = ["openai_responses", "anthropic", "gemini"]
MODES = ["sync", "async"]
BEFORE, AFTER = "Let me compute.", "34 / 24 is about 1.417."
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP438AAAAQBAYDFKhhdAAAAAElFTkSuQmCC"

# What each transcript's execution holds: its language, its code, its console output
# (stream, text) and images.
EXPECTED: dict[str, tuple[str, str, list[tuple[str, str]], list[str]]] = {
    "openai_responses": (
        "python",
        'x = 34 / 24\nprint("ratio:", round(x, 3))\nimport matplotlib.pyplot as plt\n'
        'plt.bar(["x"], [x]); plt.show()\n',
        [("stdout", "ratio: 1.417\n")],
        [PNG],
    ),
    "anthropic": (
        "shell",
        "python3 -c \"print('ratio:', round(34 / 24, 3))\"; ls /nope",
        [
            ("stdout", "ratio: 1.417\n"),
            ("stderr", "ls: cannot access '/nope': No such file or directory\n"),
            ("stderr", "[return code 2]\n"),
        ],
        [],
    ),
    "gemini": ("python", 'x = 34 / 24\nprint("ratio:", round(x, 3))\n', [("stdout", "ratio: 1.417\n")], []),
}
DEFINITIONS = {
    "openai_responses": {"type": "code_interpreter", "container": {"type": "auto"}},
    "anthropic": {"type": "code_execution_20250825", "name": "code_execution"},
    "gemini": {"codeExecution": {}},  # the SDK sends Gemini's camelCase
}


def prompt_class(provider: str, tools: list[Any]) -> type[Any]:
    """A prompt class of `provider` offering `tools`."""
    Params: Any
    Base: Any
    if provider == "openai_responses":
        from mirastream.openai import OpenAIResponsesCallParams as Params
        from mirastream.openai import OpenAIResponsesPrompt as Base

        params = Params(model="gpt-5-mini", tools=tools)
    elif provider == "openai":
        from mirastream.openai import OpenAICallParams as Params
        from mirastream.openai import OpenAIPrompt as Base

        params = Params(model="gpt-4o", tools=tools)
    elif provider == "anthropic":
        from mirastream.anthropic import AnthropicCallParams as Params
        from mirastream.anthropic import AnthropicPrompt as Base

        params = Params(model="claude-sonnet-4-6", max_tokens=1024, tools=tools)
    else:
        from mirastream.gemini import GeminiCallParams as Params
        from mirastream.gemini import GeminiPrompt as Base

        params = Params(model="gemini-2.5-flash", tools=tools)

    class Analyst(Base):  # type: ignore[misc]
        prompt_template = "USER: What is 34 / 24? Run code to check."
        call_params = params

    return Analyst


@pytest.fixture
def connect(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Point `provider`'s SDK at the loopback server and queue its transcript (`queue`)."""

    def setup(provider: str, queue: bool = True) -> None:
        if provider.startswith("openai"):
            monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
            monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
        elif provider == "anthropic":
            monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
            monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        else:
            monkeypatch.setenv("GEMINI_API_KEY", "gemini-test-key")
            monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
        if queue and provider in EXPECTED:
            server.queue(Reply.sse(f"hosted_code/{provider}.sse"))

    return setup


def read(stream_factory: Callable[[], Any], mode: str, view: str | None = None) -> tuple[list[Any], Any]:
    """Every item of a stream (or of its `view`: `lmc` or `run_events`), and the stream."""
    if mode == "sync":
        stream = stream_factory()
        with stream:
            items = list(getattr(stream, view)() if view else stream)
        return items, stream

    async def consume() -> tuple[list[Any], Any]:
        async with stream_factory() as stream:
            source = getattr(stream, view)() if view else stream
            return [item async for item in source], stream

    return asyncio.run(consume())


def outline(items: list[Any]) -> list[tuple[str, ...]]:
    """The stream as blocks: text runs joined, each code, console and image block summarised."""
    blocks: list[tuple[str, ...]] = []
    for item in items:
        if isinstance(item, ResponseChunk):
            if item.content:
                if blocks and blocks[-1][0] == "text":
                    blocks[-1] = ("text", blocks[-1][1] + item.content)
                else:
                    blocks.append(("text", item.content))
        elif isinstance(item, MarkerEvent):
            blocks.append((f"{item.type} {'start' if item.start else 'end'}",))
        elif isinstance(item, CodeEvent):
            if blocks[-1][0] == "code":
                blocks[-1] = ("code", item.format or "", blocks[-1][2] + item.code)
            else:
                blocks.append(("code", item.format or "", item.code))
        elif isinstance(item, ConsoleEvent):
            blocks.append(("console", item.stream, item.data))
        elif isinstance(item, ImageEvent):
            blocks.append(("image", item.mime, item.data))
        else:
            blocks.append((type(item).__name__,))
    return blocks


def expected_outline(provider: str) -> list[tuple[str, ...]]:
    language, code, outputs, images = EXPECTED[provider]
    return [
        ("text", BEFORE),
        ("code start",),
        ("code", language, code),
        ("code end",),
        ("console start",),
        *(("console", stream, text) for stream, text in outputs),
        *(("image", "image/png", data) for data in images),
        ("console end",),
        ("text", AFTER),
    ]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_hosted_code_streams_as_the_events_of_local_code(
    provider: str, mode: str, server: LoopbackServer, connect: Callable[..., None]
) -> None:
    connect(provider)
    prompt = prompt_class(provider, [HostedCodeInterpreter()])()
    items, stream = read(prompt.stream if mode == "sync" else prompt.stream_async, mode)

    assert outline(items) == expected_outline(provider)
    events = [item for item in items if isinstance(item, Event)]
    assert events and all(event.provider_executed for event in events)
    assert not any(isinstance(item, ConfirmationEvent) for item in items)  # not ours to stop
    assert stream.response.text == BEFORE + AFTER and stream.done
    assert len(server.requests) == 1  # the provider ran it: nothing was sent back
    assert server.requests[0].json()["tools"] == [DEFINITIONS[provider]]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_lmc_shows_the_hosted_code_and_its_output(
    provider: str, mode: str, connect: Callable[..., None]
) -> None:
    connect(provider)
    prompt = prompt_class(provider, [HostedCodeInterpreter()])()
    messages, _ = read(prompt.stream if mode == "sync" else prompt.stream_async, mode, "lmc")

    language, code, outputs, images = EXPECTED[provider]
    assert {"role": "assistant", "type": "code", "format": language, "start": True} in messages
    assert not any(message.get("type") == "confirmation" for message in messages)
    expected = [
        {"role": "assistant", "type": "message", "content": BEFORE},
        {"role": "assistant", "type": "code", "format": language, "content": code},
        {
            "role": "computer",
            "type": "console",
            "format": "output",
            "content": "".join(t for _, t in outputs),
        },
        *({"role": "computer", "type": "image", "format": "base64.png", "content": data} for data in images),
        {"role": "assistant", "type": "message", "content": AFTER},
    ]
    assert lmc_messages(messages) == expected


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_run_events_show_a_code_interpreter_step(
    provider: str, mode: str, connect: Callable[..., None]
) -> None:
    connect(provider)
    prompt = prompt_class(provider, [HostedCodeInterpreter()])()
    events, _ = read(prompt.stream if mode == "sync" else prompt.stream_async, mode, "run_events")

    _, code, outputs, _ = EXPECTED[provider]
    names = [name for name, _ in events]
    deltas = [
        data.delta.step_details.tool_calls[0] for name, data in events if name == "thread.run.step.delta"
    ]
    assert deltas and all(call.type == "code_interpreter" for call in deltas)
    assert "".join(call.code_interpreter.arguments for call in deltas) == code
    assert "".join(call.code_interpreter.output for call in deltas) == "".join(t for _, t in outputs)
    completed = [
        data.step_details.tool_calls[0]
        for name, data in events
        if name == "thread.run.step.completed" and data.type == "tool_calls"
    ]
    assert len(completed) == 1 and completed[0].code_interpreter.arguments == code
    # The first message ends before the code step starts; the answer is a message after it.
    first_step = names.index("thread.run.step.delta")
    assert names.index("thread.message.completed") < first_step
    assert names.count("thread.message.created") == 2 and names[-1] == "thread.run.completed"


@pytest.mark.parametrize("mode", MODES)
def test_a_recorded_response_with_three_executions(
    mode: str, server: LoopbackServer, connect: Callable[..., None]
) -> None:
    connect("openai_responses", queue=False)
    server.queue(Reply.sse("openai_responses/recorded/code_interpreter.sse"))
    prompt = prompt_class("openai_responses", [HostedCodeInterpreter()])()
    items, stream = read(prompt.stream if mode == "sync" else prompt.stream_async, mode)

    blocks = outline(items)
    codes = [block[2] for block in blocks if block[0] == "code"]
    assert codes[2] == "sums[:20]\n" and codes[0].startswith("import random, math\nN=10000\n")
    assert [block for block in blocks if block[0] == "console"] == [
        ("console", "stdout", "(2, 12, 69868, 6.9868)\n"),
        ("console", "stdout", "(PosixPath('/mnt/data/roll2dice_sums_10000.csv'), True, 10000)\n"),
        ("console", "stdout", "[6, 7, 2, 5, 5, 11, 4, 8, 10, 7, 5, 8, 8, 7, 10, 8, 9, 5, 4, 7]\n"),
    ]
    assert [block[0] for block in blocks].count("console end") == 3
    assert blocks[-1][0] == "text" and blocks[-1][1].startswith("Here\u2019s a simulation")
    assert stream.response.text == blocks[-1][1]


def test_chat_completions_has_no_hosted_code_execution(
    server: LoopbackServer, connect: Callable[..., None]
) -> None:
    connect("openai")
    prompt = prompt_class("openai", [HostedCodeInterpreter()])()
    with pytest.raises(ConfigurationError, match="Chat Completions"):
        prompt.stream()
    with pytest.raises(ConfigurationError, match="OpenAIResponsesPrompt"):
        prompt.stream_async()
    assert server.requests == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_raw_provider_dict_is_sent_as_is_and_yields_only_chunks(
    provider: str, server: LoopbackServer, connect: Callable[..., None]
) -> None:
    """A provider dict keeps working as before: sent unchanged, its pieces only on `chunk.hosted`."""
    raw = {
        "openai_responses": {"type": "code_interpreter", "container": {"type": "auto"}},
        "anthropic": {"type": "code_execution_20250825", "name": "code_execution"},
        "gemini": {"code_execution": {}},
    }[provider]
    connect(provider)
    items, stream = read(prompt_class(provider, [raw])().stream, "sync")

    assert all(isinstance(item, ResponseChunk) for item in items)
    pieces = [piece for item in items for piece in item.hosted]
    assert "".join(piece.text for piece in pieces if piece.kind == "code") == EXPECTED[provider][1]
    assert [piece.kind for piece in pieces][-1] == "end"
    assert stream.response.text == BEFORE + AFTER
    assert server.requests[0].json()["tools"] == [DEFINITIONS[provider]]


def test_a_turn_cut_off_mid_code_closes_the_code_block() -> None:
    from mirastream.chunks import HostedPiece
    from mirastream.tools.hosted import HostedCodeEvents

    events = HostedCodeEvents()
    shown = events.feed([HostedPiece("code", "ci_1", "print(1)", language="python")])
    shown += events.finish()
    assert [(type(event).__name__, event.start, event.end) for event in shown] == [
        ("MarkerEvent", True, False),
        ("CodeEvent", False, False),
        ("MarkerEvent", False, True),
    ]
    assert all(event.provider_executed for event in shown)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_hosted_code_native_events_are_the_sdks_own(provider: str, connect: Callable[..., None]) -> None:
    """The chunks that carry hosted pieces still build the SDK's own objects (`.chunk`)."""
    connect(provider)
    items, _ = read(prompt_class(provider, [HostedCodeInterpreter()])().stream, "sync")
    natives = [item.chunk for item in items if isinstance(item, ResponseChunk) and item.hosted]
    assert natives
    if provider == "openai_responses":
        assert {native.type for native in natives} == {
            "response.code_interpreter_call_code.delta",
            "response.code_interpreter_call_code.done",
            "response.output_item.done",
        }
        assert natives[-1].item.outputs[1].type == "image"
    elif provider == "anthropic":
        kinds = {getattr(native, "content_block", None).__class__.__name__ for native in natives}
        assert "BashCodeExecutionToolResultBlock" in kinds
    else:
        parts = [part for native in natives for part in native.candidates[0].content.parts]
        assert parts[0].executable_code.code == EXPECTED["gemini"][1]
        assert parts[1].code_execution_result.output == "ratio: 1.417\n"
