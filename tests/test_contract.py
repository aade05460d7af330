"""One contract for every provider: equivalent wire transcripts give the same aggregated response.

Each provider's real SDK talks to the loopback server in its own wire format. The transcripts
of a scenario carry the same answer in every format, so the provider-neutral view of the
result (text, thinking, tool calls, finish reason, usage, errors) must be identical, sync and
async, and the same template must reach every provider as the same messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mirastream import BasePrompt, Response
from mirastream.errors import MirastreamError, ServerError, StreamInterrupted

from .loopback import LoopbackServer, Recorded, Reply
from .reading import MODES, consume

TEMPLATE = """
SYSTEM: You are a chef who answers briefly.
USER: Recommend recipes that use {ingredient} as an ingredient
"""
SYSTEM_TEXT = "You are a chef who answers briefly."
USER_TEXT = "Recommend recipes that use apples as an ingredient"


@dataclass(frozen=True)
class Expected:
    """The provider-neutral view of a scenario's result."""

    text: str = ""
    thinking: str = ""
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    finish_reason: str | None = None
    usage: tuple[int, int] | None = None
    error: type[MirastreamError] | None = None


SCENARIOS: dict[str, Expected] = {
    "text": Expected(
        text="Try apple crumble, apple pie and baked apples.", finish_reason="stop", usage=(24, 10)
    ),
    "tool_calls": Expected(
        tool_calls=(
            ("get_weather", {"city": "Paris", "unit": "celsius"}),
            ("get_weather", {"city": "Tøkyo"}),
        ),
        finish_reason="tool_calls",
        usage=(82, 51),
    ),
    "thinking": Expected(
        text="Apple pie.", thinking="Apples are sweet.", finish_reason="stop", usage=(15, 7)
    ),
    "content_filter": Expected(text="Here is", finish_reason="content_filter", usage=(12, 2)),
    "length": Expected(text="Apple pie, apple", finish_reason="length", usage=(24, 4)),
    "error_event": Expected(text="Apple crumble", error=ServerError),
    "cut_off": Expected(text="Apple crumble needs", error=StreamInterrupted),
}


@dataclass(frozen=True)
class Harness:
    """How to run the contract against one provider."""

    name: str
    prompt_class: Callable[[], type[BasePrompt]]
    setup: Callable[[LoopbackServer, pytest.MonkeyPatch], None]
    transcripts: dict[str, str]
    read_request: Callable[[Recorded], tuple[str, list[tuple[str, str]]]]
    serve: Callable[..., Reply] = Reply.sse
    known_gaps: dict[str, str] = field(default_factory=dict)

    def reply(self, scenario: str, **options: Any) -> Reply:
        return self.serve(self.transcripts[scenario], **options)


def _openai_prompt() -> type[BasePrompt]:
    from mirastream.openai import OpenAICallParams, OpenAIPrompt

    class Recipes(OpenAIPrompt):
        prompt_template = TEMPLATE
        ingredient: str
        call_params = OpenAICallParams(model="gpt-4o-mini")

    return Recipes


def _openai_setup(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")


def _openai_request(request: Recorded) -> tuple[str, list[tuple[str, str]]]:
    messages = request.json()["messages"]
    system = "\n".join(m["content"] for m in messages if m["role"] == "system")
    return system, [(m["role"], m["content"]) for m in messages if m["role"] != "system"]


def _openai_responses_prompt() -> type[BasePrompt]:
    from mirastream.openai import OpenAIResponsesCallParams, OpenAIResponsesPrompt

    class Recipes(OpenAIResponsesPrompt):
        prompt_template = TEMPLATE
        ingredient: str
        call_params = OpenAIResponsesCallParams(model="gpt-5-mini")

    return Recipes


def _openai_responses_request(request: Recorded) -> tuple[str, list[tuple[str, str]]]:
    body = request.json()
    return body.get("instructions", ""), [(item["role"], item["content"]) for item in body["input"]]


def _anthropic_prompt() -> type[BasePrompt]:
    from mirastream.anthropic import AnthropicCallParams, AnthropicPrompt

    class Recipes(AnthropicPrompt):
        prompt_template = TEMPLATE
        ingredient: str
        call_params = AnthropicCallParams(model="claude-sonnet-4-6", max_tokens=256)

    return Recipes


def _anthropic_setup(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)


def _anthropic_request(request: Recorded) -> tuple[str, list[tuple[str, str]]]:
    body = request.json()
    turns = []
    for message in body["messages"]:
        content = message["content"]
        text = content if isinstance(content, str) else "".join(block.get("text", "") for block in content)
        turns.append((message["role"], text))
    return body.get("system", ""), turns


def _gemini_prompt(legacy: bool) -> Callable[[], type[BasePrompt]]:
    def make() -> type[BasePrompt]:
        from mirastream.gemini import GeminiCallParams, GeminiLegacyPrompt, GeminiPrompt

        class Recipes(GeminiLegacyPrompt if legacy else GeminiPrompt):  # type: ignore[misc]
            prompt_template = TEMPLATE
            ingredient: str
            call_params = GeminiCallParams(model="gemini-2.5-flash")

        return Recipes

    return make


def _gemini_setup(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-test-key")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)


def _gemini_request(request: Recorded) -> tuple[str, list[tuple[str, str]]]:
    body = request.json()
    system = body.get("systemInstruction") or body.get("system_instruction") or {}
    system_text = "".join(part.get("text", "") for part in system.get("parts", []))
    turns = [
        (content["role"], "".join(p.get("text", "") for p in content["parts"]))
        for content in body["contents"]
    ]
    return system_text, turns


def _legacy_reply(name: str, **options: Any) -> Reply:
    from .gemini.wire import legacy_reply

    return legacy_reply(Path(name).stem, **options)


_GEMINI_TRANSCRIPTS = {
    "text": "gemini/text.sse",
    "tool_calls": "gemini/tool_calls.sse",
    "thinking": "gemini/thinking.sse",
    "content_filter": "gemini/safety.sse",
    "length": "gemini/length.sse",
    "error_event": "gemini/error_event.sse",
    "cut_off": "gemini/cut_off.sse",
}

HARNESSES = [
    Harness(
        name="openai",
        prompt_class=_openai_prompt,
        setup=_openai_setup,
        transcripts={
            "text": "openai/text.sse",
            "tool_calls": "openai/tool_calls.sse",
            "thinking": "openai/reasoning.sse",
            "content_filter": "openai/content_filter.sse",
            "length": "openai/length.sse",
            "error_event": "openai/error_event.sse",
            "cut_off": "openai/cut_off.sse",
        },
        read_request=_openai_request,
    ),
    Harness(
        name="anthropic",
        prompt_class=_anthropic_prompt,
        setup=_anthropic_setup,
        transcripts={
            "text": "anthropic/text.sse",
            "tool_calls": "anthropic/tool_calls.sse",
            "thinking": "anthropic/thinking.sse",
            "content_filter": "anthropic/refusal.sse",
            "length": "anthropic/length.sse",
            "error_event": "anthropic/error_event.sse",
            "cut_off": "anthropic/cut_off.sse",
        },
        read_request=_anthropic_request,
    ),
    Harness(
        name="gemini",
        prompt_class=_gemini_prompt(legacy=False),
        setup=_gemini_setup,
        transcripts=_GEMINI_TRANSCRIPTS,
        read_request=_gemini_request,
    ),
    Harness(
        name="gemini-legacy",
        prompt_class=_gemini_prompt(legacy=True),
        setup=_gemini_setup,
        transcripts=_GEMINI_TRANSCRIPTS,
        read_request=_gemini_request,
        serve=_legacy_reply,
    ),
    Harness(
        name="openai-responses",
        prompt_class=_openai_responses_prompt,
        setup=_openai_setup,
        transcripts={
            "text": "openai_responses/text.sse",
            "tool_calls": "openai_responses/tool_calls.sse",
            "thinking": "openai_responses/reasoning.sse",
            "content_filter": "openai_responses/content_filter.sse",
            "length": "openai_responses/length.sse",
            "error_event": "openai_responses/error_event.sse",
            "cut_off": "openai_responses/cut_off.sse",
        },
        read_request=_openai_responses_request,
    ),
]


@pytest.fixture(params=HARNESSES, ids=lambda harness: harness.name)
def harness(
    request: pytest.FixtureRequest, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> Harness:
    chosen: Harness = request.param
    chosen.setup(server, monkeypatch)
    return chosen


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_equivalent_transcripts_give_the_same_response(
    harness: Harness, server: LoopbackServer, scenario: str, mode: str, request: pytest.FixtureRequest
) -> None:
    if scenario in harness.known_gaps:
        request.applymarker(pytest.mark.xfail(reason=harness.known_gaps[scenario], strict=True))
    expected = SCENARIOS[scenario]
    server.queue(harness.reply(scenario))
    chunks, response, error = consume(harness.prompt_class()(ingredient="apples"), mode)

    if expected.error is None:
        assert error is None, error
        assert not response.interrupted
    else:
        assert isinstance(error, expected.error), error
        assert response.interrupted  # the stream's own response, as well as the error's
        assert error.provider == harness.name.split("-")[0]
        assert error.response is not None
        response = error.response
        assert response.interrupted

    assert response.text == expected.text
    assert "".join(chunk.content for chunk in chunks) == expected.text
    assert response.thinking == expected.thinking
    assert "".join(chunk.thinking for chunk in chunks) == expected.thinking
    assert [(call.name, call.arguments) for call in response.tool_calls] == list(expected.tool_calls)
    assert len({call.id for call in response.tool_calls}) == len(expected.tool_calls)
    if expected.error is None:
        assert response.finish_reason == expected.finish_reason
        assert [chunk.finish_reason for chunk in chunks if chunk.finish_reason] == [expected.finish_reason]
    if expected.usage is not None:
        assert response.usage is not None
        assert (response.usage.input_tokens, response.usage.output_tokens) == expected.usage
        assert response.usage.total_tokens == sum(expected.usage)
    for chunk in chunks:
        assert isinstance(chunk.content, str)
        assert chunk.choice is None or chunk.choices[0] is chunk.choice


def test_the_same_template_reaches_every_provider_as_the_same_messages(
    harness: Harness, server: LoopbackServer
) -> None:
    server.queue(harness.reply("text"))
    harness.prompt_class()(ingredient="apples").stream().collect()
    system, turns = harness.read_request(server.last_request)
    assert system == SYSTEM_TEXT
    assert turns == [("user", USER_TEXT)]


# The life of a stream, the same on every provider ----------------------------------------

FULL_TEXT = SCENARIOS["text"].text


def test_text_grows_while_streaming(harness: Harness, server: LoopbackServer) -> None:
    server.queue(harness.reply("text"))
    stream = harness.prompt_class()(ingredient="apples").stream()
    seen = []
    for chunk in stream:
        seen.append(stream.text)
        assert stream.text.endswith(chunk.content)
        assert not stream.done
    assert next(text for text in seen if text) == "Try"
    assert seen[-1] == FULL_TEXT
    assert stream.done


@pytest.mark.parametrize("mode", MODES)
def test_an_empty_stream_is_interrupted_with_an_empty_response(
    harness: Harness, server: LoopbackServer, mode: str
) -> None:
    server.queue(Reply(b""))
    chunks, _, error = consume(harness.prompt_class()(ingredient="apples"), mode)
    assert chunks == []
    assert isinstance(error, StreamInterrupted)
    assert error.response is not None
    assert error.response.interrupted and error.response.text == ""


def test_break_releases_the_connection_at_once(harness: Harness, server: LoopbackServer) -> None:
    server.queue(harness.reply("text", delay=0.05))
    stream = harness.prompt_class()(ingredient="apples").stream()
    for _chunk in stream:
        break
    assert stream.response.interrupted
    assert server.last_request.disconnected.wait(timeout=2)


def test_close_releases_the_connection_and_keeps_what_came(harness: Harness, server: LoopbackServer) -> None:
    reply = harness.reply("text", delay=0.05)
    server.queue(reply)
    with harness.prompt_class()(ingredient="apples").stream() as stream:
        iterator = iter(stream)
        first = next(chunk for chunk in iterator if chunk.content)  # the first chunk with text
        stream.close()
        assert server.last_request.disconnected.wait(timeout=2)
    assert stream.response.interrupted and not stream.done
    assert stream.response.text == first.content and FULL_TEXT.startswith(first.content)
    assert stream.response.id and stream.response.id.encode() in reply.body  # the id on the wire
    with pytest.raises(StopIteration):
        next(iterator)


async def _disconnected_within(server: LoopbackServer, seconds: float) -> bool:
    """Whether the server sees the client go, while this event loop keeps running."""
    for _ in range(int(seconds / 0.01)):
        if server.last_request.disconnected.is_set():
            return True
        await asyncio.sleep(0.01)
    return False


def test_leaving_async_with_releases_the_connection(
    harness: Harness, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.queue(harness.reply("text", delay=0.05))

    async def run() -> tuple[Response, str, bool]:
        async with harness.prompt_class()(ingredient="apples").stream_async() as stream:
            first_text = None
            async for chunk in stream:
                if chunk.content:  # the first chunk with text
                    first_text = chunk.content
                    break
        # Checked inside the loop: not merely when asyncio.run tears everything down.
        assert first_text is not None
        return stream.response, first_text, await _disconnected_within(server, 2)

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        response, first_text, disconnected = asyncio.run(run())
    assert disconnected
    assert response.interrupted and response.text == first_text
    assert not caplog.records  # no "error occurred during closing of asynchronous generator"


def test_aclose_releases_the_connection(harness: Harness, server: LoopbackServer) -> None:
    server.queue(harness.reply("text", delay=0.05))

    async def run() -> bool:
        stream = harness.prompt_class()(ingredient="apples").stream_async()
        iterator = aiter(stream)
        await anext(iterator)
        await stream.aclose()
        return await _disconnected_within(server, 2)

    assert asyncio.run(run())


def test_the_default_client_is_reused_across_streams(harness: Harness, server: LoopbackServer) -> None:
    server.queue(harness.reply("text"), harness.reply("text"))
    harness.prompt_class()(ingredient="apples").stream().collect()
    harness.prompt_class()(ingredient="pears").stream().collect()
    first, second = server.requests
    assert first.client_port == second.client_port  # the same pooled connection


def test_the_async_default_client_is_reused_within_an_event_loop(
    harness: Harness, server: LoopbackServer
) -> None:
    server.queue(harness.reply("text"), harness.reply("text"))

    async def run() -> None:
        for ingredient in ("apples", "pears"):
            async with harness.prompt_class()(ingredient=ingredient).stream_async() as stream:
                await stream.collect()

    asyncio.run(run())
    first, second = server.requests
    assert first.client_port == second.client_port
