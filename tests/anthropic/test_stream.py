"""The Anthropic backend end to end: the real ``anthropic`` SDK against the loopback server.

Every scenario runs twice, through ``stream()`` and through ``stream_async()``.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import anthropic
import pytest
from anthropic.types import (
    InputJSONDelta,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    SignatureDelta,
    TextDelta,
    ThinkingDelta,
)
from anthropic.types.raw_message_delta_event import Delta as MessageDelta

from mirastream import ToolCall, ToolCallDelta, Usage
from mirastream.anthropic import AnthropicCallParams, AnthropicPrompt
from mirastream.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    MalformedStreamError,
    MirastreamError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)

from ..loopback import LoopbackServer, Reply, transcript
from ..reading import consume


class RecipeRecommender(AnthropicPrompt):
    prompt_template = """
    SYSTEM: You are a chef who answers briefly.
    USER: Recommend recipes that use {ingredient} as an ingredient
    """
    ingredient: str
    call_params = AnthropicCallParams(model="claude-sonnet-4-6", temperature=0.3)


MODES = ["sync", "async"]

EVENT_CLASSES = {
    "message_start": RawMessageStartEvent,
    "content_block_start": RawContentBlockStartEvent,
    "content_block_delta": RawContentBlockDeltaEvent,
    "content_block_stop": RawContentBlockStopEvent,
    "message_delta": RawMessageDeltaEvent,
    "message_stop": RawMessageStopEvent,
}


def sse_payloads(name: str) -> list[dict[str, Any]]:
    """The JSON payloads of a transcript's events, in order, without the pings."""
    payloads = []
    for block in transcript(name).decode().split("\n\n"):
        if not block.strip():
            continue
        name_line, data_line = block.split("\n")
        if name_line != "event: ping":
            payloads.append(json.loads(data_line.removeprefix("data: ")))
    return payloads


@pytest.mark.parametrize("mode", MODES)
def test_text_stream_with_usage(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("anthropic/text.sse"))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)

    assert error is None
    expected_text = "Try apple crumble, apple pie and baked apples."
    assert "".join(chunk.content for chunk in chunks) == expected_text == response.text
    assert sum(1 for chunk in chunks if chunk.content) >= 5
    assert all(isinstance(chunk.content, str) for chunk in chunks)
    assert response.finish_reason == "stop" and response.choice.raw_finish_reason == "end_turn"
    assert [chunk.finish_reason for chunk in chunks].count("stop") == 1
    assert response.usage == Usage(input_tokens=24, output_tokens=10, total_tokens=34, cached_input_tokens=0)
    assert response.model == "claude-sonnet-4-6"
    assert response.id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert response.thinking == "" and response.tool_calls == () and response.refusal is None
    assert not response.interrupted
    assert response.time_to_first_chunk is not None and response.duration is not None
    assert 0 < response.time_to_first_chunk <= response.duration

    usage_chunks = [chunk for chunk in chunks if chunk.usage is not None]
    assert [chunk.event_type for chunk in usage_chunks] == ["message_delta"]
    assert usage_chunks[0].usage == response.usage and usage_chunks[0].finish_reason == "stop"
    assert all(chunk.model == "claude-sonnet-4-6" and chunk.id == response.id for chunk in chunks)
    assert all(chunk.choice_index == 0 for chunk in chunks)

    request = server.last_request
    assert request.path == "/v1/messages"
    assert request.headers["authorization"] == "Bearer sk-ant-test-key"
    assert request.headers["anthropic-version"]
    body = request.json()
    assert body == {
        "model": "claude-sonnet-4-6",
        "max_tokens": 1024,
        "temperature": 0.3,
        "stream": True,
        "system": "You are a chef who answers briefly.",
        "messages": [{"role": "user", "content": "Recommend recipes that use apples as an ingredient"}],
    }


@pytest.mark.parametrize("mode", MODES)
def test_ping_events_are_not_yielded(server: LoopbackServer, mode: str) -> None:
    assert b"event: ping" in transcript("anthropic/text.sse")
    server.queue(Reply.sse("anthropic/text.sse", piece_size=5))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert error is None and not response.interrupted
    assert [chunk.event_type for chunk in chunks] == [
        payload["type"] for payload in sse_payloads("anthropic/text.sse")
    ]


@pytest.mark.parametrize("mode", MODES)
def test_native_chunk_is_the_sdk_event_with_the_same_values(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("anthropic/thinking.sse"))
    chunks, _, _ = consume(RecipeRecommender(ingredient="apples"), mode)

    payloads = sse_payloads("anthropic/thinking.sse")
    assert len(chunks) == len(payloads)
    for chunk, payload in zip(chunks, payloads, strict=True):
        event_class = EVENT_CLASSES[payload["type"]]
        native = chunk.chunk
        assert type(native) is event_class
        assert native == event_class.model_validate(payload)
        assert native.model_dump() == event_class.model_validate(payload).model_dump()
        assert chunk.chunk is native  # built once
        assert chunk.event_type == payload["type"]


@pytest.mark.parametrize("mode", MODES)
def test_choices_choice_and_delta_for_each_event_type(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("anthropic/thinking.sse"))
    chunks, _, _ = consume(RecipeRecommender(ingredient="apples"), mode)
    by_type = [(chunk.event_type, chunk) for chunk in chunks]

    for event_type, chunk in by_type:
        if event_type in ("message_start", "message_stop"):
            assert chunk.choices == [] and chunk.choice is None and chunk.delta is None
        else:
            assert chunk.choices == [chunk.chunk] and chunk.choice is chunk.chunk
        if event_type in ("content_block_start", "content_block_stop"):
            assert chunk.delta is None

    deltas = [chunk.delta for event_type, chunk in by_type if event_type == "content_block_delta"]
    assert [type(delta).__name__ for delta in deltas] == [
        "ThinkingDelta",
        "ThinkingDelta",
        "SignatureDelta",
        "TextDelta",
        "TextDelta",
    ]
    assert isinstance(deltas[0], ThinkingDelta) and deltas[0].thinking == "Apples"
    text_chunk = next(chunk for chunk in chunks if chunk.content == "Apple")
    assert isinstance(text_chunk.choice, RawContentBlockDeltaEvent)
    assert text_chunk.choice.index == 1  # the content block
    assert text_chunk.choice.delta is text_chunk.delta
    assert isinstance(text_chunk.delta, TextDelta) and text_chunk.delta.text == "Apple"

    message_delta = next(chunk for event_type, chunk in by_type if event_type == "message_delta")
    assert isinstance(message_delta.delta, MessageDelta)
    assert message_delta.delta.stop_reason == "end_turn"
    assert isinstance(message_delta.choice, RawMessageDeltaEvent)
    assert message_delta.choice.usage.output_tokens == 7

    start = chunks[0]
    assert isinstance(start.chunk, RawMessageStartEvent)
    assert start.chunk.message.usage.input_tokens == 15


@pytest.mark.parametrize("mode", MODES)
def test_thinking_is_kept_apart_from_the_text(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("anthropic/thinking.sse"))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert error is None
    assert response.thinking == "Apples are sweet."
    assert response.text == "Apple pie."
    assert "".join(chunk.thinking for chunk in chunks) == "Apples are sweet."
    assert "".join(chunk.content for chunk in chunks) == "Apple pie."
    assert all(not (chunk.content and chunk.thinking) for chunk in chunks)
    assert sum(1 for chunk in chunks if chunk.thinking) >= 2
    signature_chunk = next(chunk for chunk in chunks if isinstance(chunk.delta, SignatureDelta))
    assert signature_chunk.content == "" and signature_chunk.thinking == ""
    assert isinstance(signature_chunk.delta, SignatureDelta)
    assert signature_chunk.delta.signature not in response.text + response.thinking
    assert response.usage == Usage(
        input_tokens=15, output_tokens=7, total_tokens=22, cached_input_tokens=0, reasoning_tokens=4
    )
    assert response.finish_reason == "stop"


@pytest.mark.parametrize("mode", MODES)
def test_tool_calls_with_arguments_split_mid_token(server: LoopbackServer, mode: str) -> None:
    # Pieces of 7 bytes also split the two bytes of the "ø" in "Tøkyo" between reads.
    server.queue(Reply.sse("anthropic/tool_calls.sse", piece_size=7))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert error is None
    assert response.finish_reason == "tool_calls" and response.choice.raw_finish_reason == "tool_use"
    assert response.tool_calls == (
        ToolCall(
            id="toolu_01Xa91LmQzR2",
            name="get_weather",
            raw_arguments='{"city": "Paris", "unit": "celsius"}',
            arguments={"city": "Paris", "unit": "celsius"},
        ),
        ToolCall(
            id="toolu_01Bq72NcVw8K",
            name="get_weather",
            raw_arguments='{"city": "Tøkyo"}',
            arguments={"city": "Tøkyo"},
        ),
    )
    assert response.usage == Usage(input_tokens=82, output_tokens=51, total_tokens=133, cached_input_tokens=0)
    deltas = [delta for chunk in chunks for delta in chunk.tool_calls]
    assert deltas[0] == ToolCallDelta(0, "toolu_01Xa91LmQzR2", "get_weather", "")
    assert ToolCallDelta(1, "toolu_01Bq72NcVw8K", "get_weather", "") in deltas
    assert "".join(d.arguments for d in deltas if d.index == 0) == '{"city": "Paris", "unit": "celsius"}'
    assert "".join(d.arguments for d in deltas if d.index == 1) == '{"city": "Tøkyo"}'
    assert all(d.id is None and d.name is None for d in deltas if d.arguments)
    assert all(chunk.content == "" for chunk in chunks)
    pieces = [
        payload["delta"]["partial_json"]
        for payload in sse_payloads("anthropic/tool_calls.sse")
        if payload["type"] == "content_block_delta" and payload["delta"]["partial_json"]
    ]
    argument_chunks = [chunk for chunk in chunks if chunk.tool_calls and chunk.tool_calls[0].arguments]
    assert [chunk.tool_calls[0].arguments for chunk in argument_chunks] == pieces
    assert all(isinstance(chunk.delta, InputJSONDelta) for chunk in argument_chunks)


@pytest.mark.parametrize("mode", MODES)
def test_tool_calls_are_numbered_by_call_not_by_content_block(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("anthropic/tool_calls_with_text.sse"))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert error is None
    assert response.text == "I'll check the weather in both cities."
    assert [call.id for call in response.tool_calls] == ["toolu_01Xa91LmQzR2", "toolu_01Bq72NcVw8K"]
    starts = [(chunk.tool_calls[0].index, chunk.choice) for chunk in chunks if chunk.tool_calls]
    assert {ordinal for ordinal, _ in starts} == {0, 1}
    block_of_call = {
        ordinal: event.index
        for ordinal, event in starts
        if isinstance(event, (RawContentBlockStartEvent, RawContentBlockDeltaEvent))
    }
    assert block_of_call == {0: 1, 1: 2}
    assert response.finish_reason == "tool_calls"


@pytest.mark.parametrize("mode", MODES)
def test_refusal_is_a_content_filter_finish(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("anthropic/refusal.sse"))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert error is None
    assert response.text == "Here is"
    assert response.finish_reason == "content_filter"
    assert response.choice.raw_finish_reason == "refusal"
    assert response.refusal is None and not response.interrupted
    assert response.usage == Usage(input_tokens=12, output_tokens=2, total_tokens=14, cached_input_tokens=0)
    last_delta = next(chunk for chunk in chunks if chunk.event_type == "message_delta")
    assert last_delta.finish_reason == "content_filter"
    assert isinstance(last_delta.delta, MessageDelta) and last_delta.delta.stop_details is not None
    assert last_delta.delta.stop_details.type == "refusal"


@pytest.mark.parametrize("mode", MODES)
def test_max_tokens_is_a_length_finish(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("anthropic/length.sse"))
    _, response, error = consume(RecipeRecommender(ingredient="apples"), mode, max_tokens=4)
    assert error is None
    assert server.last_request.json()["max_tokens"] == 4
    assert response.text == "Apple pie, apple"
    assert response.finish_reason == "length" and response.choice.raw_finish_reason == "max_tokens"
    assert response.usage is not None and (response.usage.input_tokens, response.usage.output_tokens) == (
        24,
        4,
    )


@pytest.mark.parametrize("mode", MODES)
def test_stream_cut_off_without_message_stop_keeps_the_partial_answer(
    server: LoopbackServer, mode: str
) -> None:
    server.queue(Reply.sse("anthropic/cut_off.sse"))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert isinstance(error, StreamInterrupted)
    assert error.provider == "anthropic"
    assert "message_stop" in str(error)
    assert error.response is not None and error.response.text == "Apple crumble needs"
    assert error.response.interrupted and response.interrupted
    assert error.response.usage is not None and error.response.usage.input_tokens == 24
    assert "".join(chunk.content for chunk in chunks) == "Apple crumble needs"


@pytest.mark.parametrize("mode", MODES)
def test_error_event_mid_stream_is_a_typed_error_with_partial_answer(
    server: LoopbackServer, mode: str
) -> None:
    server.queue(Reply.sse("anthropic/error_event.sse"))
    chunks, _, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert isinstance(error, ServerError)
    assert error.provider == "anthropic"
    assert "overloaded_error" in str(error) and "Overloaded" in str(error)
    assert error.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert error.response is not None and error.response.text == "Apple crumble"
    assert error.response.interrupted
    assert "".join(chunk.content for chunk in chunks) == "Apple crumble"


@pytest.mark.parametrize("mode", MODES)
def test_malformed_event_is_a_typed_error_with_partial_answer(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("anthropic/malformed.sse"))
    _, _, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert isinstance(error, MalformedStreamError)
    assert error.provider == "anthropic"
    assert error.response is not None and error.response.text == "Apple"


@pytest.mark.parametrize("mode", MODES)
def test_http_401_is_an_authentication_error(server: LoopbackServer, mode: str) -> None:
    payload = {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
        "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
    }
    server.queue(Reply.error(401, payload))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert isinstance(error, AuthenticationError)
    assert error.status_code == 401 and error.provider == "anthropic"
    assert "invalid x-api-key" in str(error)
    assert error.body == payload
    assert isinstance(error.__cause__, anthropic.AuthenticationError)
    assert error.response is None and chunks == []
    assert response.interrupted
    assert len(server.requests) == 1  # never retried


@pytest.mark.parametrize("mode", MODES)
def test_http_400_is_a_bad_request_error(server: LoopbackServer, mode: str) -> None:
    payload = {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
        "request_id": "req_011CSHoEeqs5C35K2UUqR7Fz",
    }
    server.queue(Reply.error(400, payload))
    _, _, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert isinstance(error, BadRequestError)
    assert error.status_code == 400
    assert "max_tokens: Field required" in str(error)
    assert error.body == payload


RATE_LIMITED = {
    "type": "error",
    "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your rate limit"},
}
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


@pytest.mark.parametrize(
    ("reply", "error_class", "status"),
    [
        (Reply.error(429, RATE_LIMITED, headers={"retry-after": "7"}), RateLimitError, 429),
        (Reply.error(529, OVERLOADED), ServerError, 529),
    ],
)
def test_http_429_and_529_without_retries(
    server: LoopbackServer, reply: Reply, error_class: type[MirastreamError], status: int
) -> None:
    class NoRetries(RecipeRecommender):
        retries = 0
        client = anthropic.Anthropic(api_key="sk-ant-own", base_url=server.url, max_retries=0)

    server.queue(reply)
    with pytest.raises(error_class) as caught:
        NoRetries(ingredient="apples").stream().collect()
    error = caught.value
    assert isinstance(error, (RateLimitError, ServerError))
    assert error.status_code == status and error.provider == "anthropic"
    if isinstance(error, RateLimitError):
        assert error.retry_after == 7
    assert server.last_request.headers["authorization"] == "Bearer sk-ant-own"
    assert len(server.requests) == 1
    NoRetries.client.close()


@pytest.mark.parametrize(
    ("reply", "error_class", "status"),
    [
        (Reply.error(429, RATE_LIMITED, headers={"retry-after": "7"}), RateLimitError, 429),
        (Reply.error(529, OVERLOADED), ServerError, 529),
    ],
)
def test_http_429_and_529_without_retries_async(
    server: LoopbackServer, reply: Reply, error_class: type[MirastreamError], status: int
) -> None:
    async def run() -> MirastreamError:
        class NoRetries(RecipeRecommender):
            retries = 0
            async_client = anthropic.AsyncAnthropic(api_key="sk-ant-own", base_url=server.url, max_retries=0)

        try:
            async with NoRetries(ingredient="apples").stream_async() as stream:
                with pytest.raises(error_class) as caught:
                    await stream.collect()
        finally:
            await NoRetries.async_client.close()
        return caught.value

    server.queue(reply)
    error = asyncio.run(run())
    assert isinstance(error, (RateLimitError, ServerError))
    assert error.status_code == status and error.provider == "anthropic"
    if isinstance(error, RateLimitError):
        assert error.retry_after == 7
    assert len(server.requests) == 1


def _unused_url() -> str:
    """The URL of a loopback port that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_an_unreachable_server_is_a_connection_error() -> None:
    class Unreachable(RecipeRecommender):
        retries = 0
        client = anthropic.Anthropic(api_key="sk-ant-own", base_url=_unused_url(), max_retries=0)

    with pytest.raises(APIConnectionError) as caught:
        Unreachable(ingredient="apples").stream().collect()
    Unreachable.client.close()
    assert type(caught.value) is APIConnectionError and caught.value.provider == "anthropic"
    assert caught.value.response is None
    assert isinstance(caught.value.__cause__, anthropic.APIConnectionError)


def test_an_unreachable_server_is_a_connection_error_async() -> None:
    async def run() -> APIConnectionError:
        class Unreachable(RecipeRecommender):
            retries = 0
            async_client = anthropic.AsyncAnthropic(
                api_key="sk-ant-own", base_url=_unused_url(), max_retries=0
            )

        try:
            async with Unreachable(ingredient="apples").stream_async() as stream:
                with pytest.raises(APIConnectionError) as caught:
                    await stream.collect()
        finally:
            await Unreachable.async_client.close()
        return caught.value

    error = asyncio.run(run())
    assert type(error) is APIConnectionError and error.provider == "anthropic"
    assert isinstance(error.__cause__, anthropic.APIConnectionError)


@pytest.mark.parametrize("mode", MODES)
def test_a_stalled_body_is_a_timeout(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("anthropic/text.sse", delay=1.0))
    _, _, error = consume(RecipeRecommender(ingredient="apples"), mode, timeout=0.2, retries=0)
    assert isinstance(error, APITimeoutError)
    assert error.provider == "anthropic"
    assert error.response is not None and error.response.text == ""
