"""The seeds' own run, "What's 34/24?", scripted for the replay server on every wire format.

`SEED_LMC` is the stream Open Interpreter documents for that question, copied from its
"Streaming Response" guide (docs/guides/streaming-response.mdx of OpenInterpreter/
open-interpreter, as published at docs.openinterpreter.com/guides/streaming-response):
30 dicts, the model's code written in the pieces `34`, ` /`, ` `, `24`, then run, then the
answer in the pieces `The`, ` result`, ... The scripted model here streams the same pieces.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mirastream.testing import Call, ReplayServer, Text, Turn, serve

PROVIDERS = ["openai", "anthropic", "gemini"]
MODES = ["sync", "async"]
QUESTION = "What's 34/24?"

SEED_LMC: list[dict[str, Any]] = [
    {"role": "assistant", "type": "code", "format": "python", "start": True},
    {"role": "assistant", "type": "code", "format": "python", "content": "34"},
    {"role": "assistant", "type": "code", "format": "python", "content": " /"},
    {"role": "assistant", "type": "code", "format": "python", "content": " "},
    {"role": "assistant", "type": "code", "format": "python", "content": "24"},
    {"role": "assistant", "type": "code", "format": "python", "end": True},
    {
        "role": "computer",
        "type": "confirmation",
        "format": "execution",
        "content": {"type": "code", "format": "python", "content": "34 / 24"},
    },
    {"role": "computer", "type": "console", "start": True},
    {"role": "computer", "type": "console", "format": "active_line", "content": "1"},
    {"role": "computer", "type": "console", "format": "output", "content": "1.4166666666666667\n"},
    {"role": "computer", "type": "console", "format": "active_line", "content": None},
    {"role": "computer", "type": "console", "end": True},
    {"role": "assistant", "type": "message", "start": True},
    {"role": "assistant", "type": "message", "content": "The"},
    {"role": "assistant", "type": "message", "content": " result"},
    {"role": "assistant", "type": "message", "content": " of"},
    {"role": "assistant", "type": "message", "content": " the"},
    {"role": "assistant", "type": "message", "content": " division"},
    {"role": "assistant", "type": "message", "content": " "},
    {"role": "assistant", "type": "message", "content": "34"},
    {"role": "assistant", "type": "message", "content": "/"},
    {"role": "assistant", "type": "message", "content": "24"},
    {"role": "assistant", "type": "message", "content": " is"},
    {"role": "assistant", "type": "message", "content": " approximately"},
    {"role": "assistant", "type": "message", "content": " "},
    {"role": "assistant", "type": "message", "content": "1"},
    {"role": "assistant", "type": "message", "content": "."},
    {"role": "assistant", "type": "message", "content": "42"},
    {"role": "assistant", "type": "message", "content": "."},
    {"role": "assistant", "type": "message", "end": True},
]

CODE_PIECES = [d["content"] for d in SEED_LMC if d["type"] == "code" and "content" in d]
ANSWER_PIECES = [d["content"] for d in SEED_LMC if d["type"] == "message" and "content" in d]
CODE = "".join(CODE_PIECES)
ANSWER = "".join(ANSWER_PIECES)
OUTPUT = "1.4166666666666667\n"


def seed_for(provider: str) -> list[dict[str, Any]]:
    """The seed's stream as `provider`'s wire can carry it.

    Gemini sends a function call whole, in one chunk (its API streams no argument pieces),
    so there the code arrives as one piece, `34 / 24`; everything else is the seed's.
    """
    if provider != "gemini":
        return SEED_LMC
    code = [d for d in SEED_LMC if d["type"] == "code" and "content" in d]
    first = SEED_LMC.index(code[0])
    return [*SEED_LMC[:first], {**code[0], "content": CODE}, *SEED_LMC[first + len(code) :]]


def seed_turns() -> tuple[Turn, Turn]:
    """The model of the seed's run: a code-interpreter call, then the answer."""
    arguments = ['{"language": "python", "code": "', *CODE_PIECES, '"}']
    return Turn(Call("execute", arguments, id="call_34_24"), usage=(40, 12)), Turn(
        Text(*ANSWER_PIECES), usage=(60, 17)
    )


def prompt_class(provider: str, tools: list[Any]) -> type[Any]:
    """A prompt class of `provider` asking the seed's question with `tools`."""
    if provider == "openai":
        from mirastream.openai import OpenAICallParams, OpenAIPrompt

        class OpenAIQuestion(OpenAIPrompt):
            prompt_template = "USER: {question}"
            question: str
            call_params = OpenAICallParams(model="gpt-4o", tools=tools)

        return OpenAIQuestion
    if provider == "anthropic":
        from mirastream.anthropic import AnthropicCallParams, AnthropicPrompt

        class AnthropicQuestion(AnthropicPrompt):
            prompt_template = "USER: {question}"
            question: str
            call_params = AnthropicCallParams(model="claude-sonnet-4-6", max_tokens=512, tools=tools)

        return AnthropicQuestion
    from mirastream.gemini import GeminiCallParams, GeminiPrompt

    class GeminiQuestion(GeminiPrompt):
        prompt_template = "USER: {question}"
        question: str
        call_params = GeminiCallParams(model="gemini-2.5-flash", tools=tools)

    return GeminiQuestion


@pytest.fixture(scope="module")
def replay_server() -> Iterator[ReplayServer]:
    """A replay server for the module."""
    with ReplayServer() as server:
        yield server


@pytest.fixture
def replay(replay_server: ReplayServer) -> Iterator[ReplayServer]:
    """The module's replay server, emptied, with every provider pointed at it for the test."""
    replay_server.reset()
    with serve(server=replay_server, check=False):
        yield replay_server
    replay_server.reset()


def read(
    make_stream: Callable[[], Any], mode: str, on_item: Callable[[Any], bool | None] | None = None
) -> tuple[list[Any], Any, Exception | None]:
    """Read a stream in `mode` until its end, its error, or `on_item` returning True (stop).

    Returns the items, the stream and the error it raised (`None` if none).
    """
    items: list[Any] = []

    def sync() -> tuple[list[Any], Any, Exception | None]:
        stream = make_stream()
        try:
            with stream:
                for item in stream:
                    items.append(item)
                    if on_item is not None and on_item(item):
                        break
        except Exception as error:
            return items, stream, error
        return items, stream, None

    async def consume() -> tuple[list[Any], Any, Exception | None]:
        stream = make_stream()
        try:
            async with stream:
                async for item in stream:
                    items.append(item)
                    if on_item is not None and on_item(item):
                        break
        except Exception as error:
            return items, stream, error
        return items, stream, None

    return sync() if mode == "sync" else asyncio.run(consume())


def open_stream(prompt: Any, mode: str, status: bool = False) -> Callable[[], Any]:
    """A factory of `prompt`'s stream in `mode` (with the tool loop's status events if asked)."""

    def make() -> Any:
        stream = prompt.stream() if mode == "sync" else prompt.stream_async()
        return stream.with_status() if status else stream

    return make
