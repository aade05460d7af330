"""The OpenAI backend end to end: the real ``openai`` SDK against the loopback server.

Every scenario runs twice, through ``stream()`` and through ``stream_async()``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionChunk
from pydantic import ValidationError

from mirastream import Message, ToolCall, ToolCallDelta
from mirastream.errors import (
    AuthenticationError,
    BadRequestError,
    MalformedStreamError,
    RateLimitError,
    ServerError,
)
from mirastream.openai import OpenAICallParams, OpenAIPrompt

from ..loopback import LoopbackServer, Reply, transcript
from ..reading import consume


class RecipeRecommender(OpenAIPrompt):
    prompt_template = """
    SYSTEM: You are a chef who answers briefly.
    USER: Recommend recipes that use {ingredient} as an ingredient
    """
    ingredient: str
    call_params = OpenAICallParams(model="gpt-4o-mini", temperature=0.3)


MODES = ["sync", "async"]


def sse_payloads(name: str) -> list[dict[str, Any]]:
    """The JSON payloads of a transcript, in order (without ``[DONE]``)."""
    payloads = []
    for block in transcript(name).decode().split("\n\n"):
        if block.startswith("data: {"):
            payloads.append(json.loads(block[len("data: ") :]))
    return payloads


@pytest.mark.parametrize("mode", MODES)
def test_text_stream_with_usage(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("openai/text.sse"))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)

    assert error is None
    expected_text = "".join(
        choice["delta"].get("content") or ""
        for payload in sse_payloads("openai/text.sse")
        for choice in payload["choices"]
    )
    assert "".join(chunk.content for chunk in chunks) == expected_text == response.text
    assert all(isinstance(chunk.content, str) for chunk in chunks)
    assert response.finish_reason == "stop"
    assert [chunk.finish_reason for chunk in chunks].count("stop") == 1
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
        24,
        10,
        34,
    )
    assert response.model == "gpt-4o-mini-2024-07-18"
    assert response.id == "chatcmpl-CjT9qFz3YbW0kQe1LmNa7s2Pd"
    assert not response.interrupted
    assert response.time_to_first_chunk is not None and response.duration is not None
    assert 0 < response.time_to_first_chunk <= response.duration

    last = chunks[-1]
    assert last.choice is None and last.delta is None and last.choices == []
    assert last.content == "" and last.usage == response.usage

    request = server.last_request
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test-key"
    body = request.json()
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["model"] == "gpt-4o-mini"
    assert body["temperature"] == 0.3
    assert body["messages"] == [
        {"role": "system", "content": "You are a chef who answers briefly."},
        {"role": "user", "content": "Recommend recipes that use apples as an ingredient"},
    ]


@pytest.mark.parametrize("mode", MODES)
def test_native_chunk_is_the_sdk_object_with_the_same_values(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("openai/text.sse"))
    chunks, _, _ = consume(RecipeRecommender(ingredient="apples"), mode)

    payloads = sse_payloads("openai/text.sse")
    assert len(chunks) == len(payloads)
    for chunk, payload in zip(chunks, payloads, strict=True):
        native = chunk.chunk
        assert type(native) is ChatCompletionChunk
        assert native.model_dump() == ChatCompletionChunk.model_validate(payload).model_dump()
        assert chunk.chunk is native  # built once
        assert chunk.model == payload["model"]
    first = chunks[1]
    assert first.choice is not None and first.choice.index == 0
    assert first.delta is not None and first.delta.content == first.content == "Try"


@pytest.mark.parametrize("mode", MODES)
def test_usage_can_be_turned_off(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("openai/text.sse"))
    consume(RecipeRecommender(ingredient="apples"), mode, include_usage=False)
    assert "stream_options" not in server.last_request.json()


@pytest.mark.parametrize("mode", MODES)
def test_refusal_is_kept_apart_from_the_text(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("openai/refusal.sse"))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert error is None
    assert response.refusal == "I'm sorry, I can't help with that."
    assert response.text == ""
    assert all(chunk.content == "" for chunk in chunks)
    assert response.finish_reason == "stop"


@pytest.mark.parametrize("mode", MODES)
def test_several_choices_are_aggregated_per_choice(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("openai/n2.sse"))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode, n=2)
    assert error is None
    assert server.last_request.json()["n"] == 2
    assert [choice.index for choice in response.choices] == [0, 1]
    assert response.choices[0].text == "Apple tart."
    assert response.choices[1].text == "Apple sauce cake."
    assert [choice.finish_reason for choice in response.choices] == ["stop", "length"]
    assert response.text == "Apple tart."
    second_choice_text = "".join(chunk.content for chunk in chunks if chunk.choice_index == 1)
    assert second_choice_text == "Apple sauce cake."
    assert all(chunk.choice is None or chunk.choice.index == chunk.choice_index for chunk in chunks)


@pytest.mark.parametrize("mode", MODES)
def test_tool_call_arguments_split_mid_token(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("openai/tool_calls.sse", piece_size=11))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert error is None
    assert response.finish_reason == "tool_calls"
    assert response.tool_calls == (
        ToolCall(
            id="call_Xa91LmQzR2",
            name="get_weather",
            raw_arguments='{"city": "Paris", "unit": "celsius"}',
            arguments={"city": "Paris", "unit": "celsius"},
        ),
        ToolCall(
            id="call_Bq72NcVw8K",
            name="get_weather",
            raw_arguments='{"city": "T\\u00f8kyo"}',
            arguments={"city": "Tøkyo"},
        ),
    )
    deltas = [delta for chunk in chunks for delta in chunk.tool_calls]
    assert deltas[0] == ToolCallDelta(0, "call_Xa91LmQzR2", "get_weather", "")
    assert "".join(d.arguments for d in deltas if d.index == 0) == '{"city": "Paris", "unit": "celsius"}'
    assert [d.index for d in deltas].count(1) == 4


@pytest.mark.parametrize("mode", MODES)
def test_parallel_tool_calls_packed_in_one_chunk_stay_apart(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("openai/tool_calls_interleaved.sse"))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert error is None
    assert [(call.id, call.arguments) for call in response.tool_calls] == [
        ("call_one", {"a": 1, "b": 2}),
        ("call_two", {"a": 3, "b": 4}),
    ]
    assert len(chunks[1].tool_calls) == 2


@pytest.mark.parametrize("mode", MODES)
def test_reasoning_from_compatible_servers_is_thinking_not_content(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("openai/reasoning.sse"))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert error is None
    assert response.thinking == "Apples are sweet."
    assert response.text == "Apple pie."
    assert "".join(chunk.thinking for chunk in chunks) == "Apples are sweet."
    assert response.usage is not None and response.usage.reasoning_tokens == 4


@pytest.mark.parametrize("mode", MODES)
def test_error_event_mid_stream_is_a_typed_error_with_partial_answer(
    server: LoopbackServer, mode: str
) -> None:
    server.queue(Reply.sse("openai/error_event.sse"))
    _, _, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert isinstance(error, ServerError)
    assert "The server had an error" in str(error)
    assert error.response is not None and error.response.text == "Apple crumble"


@pytest.mark.parametrize("mode", MODES)
def test_malformed_chunk_is_a_typed_error_with_partial_answer(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("openai/malformed.sse"))
    _, _, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert isinstance(error, MalformedStreamError)
    assert error.response is not None and error.response.text == "Apple"


@pytest.mark.parametrize("mode", MODES)
def test_http_401_is_an_authentication_error(server: LoopbackServer, mode: str) -> None:
    server.queue(
        Reply.error(
            401,
            {
                "error": {
                    "message": "Incorrect API key provided: sk-test-key.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
        )
    )
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert isinstance(error, AuthenticationError)
    assert error.status_code == 401 and error.provider == "openai"
    assert "Incorrect API key" in str(error)
    assert isinstance(error.__cause__, openai.AuthenticationError)
    assert error.response is None and chunks == []
    assert response.interrupted
    assert len(server.requests) == 1  # never retried


@pytest.mark.parametrize("mode", MODES)
def test_http_400_is_a_bad_request_error(server: LoopbackServer, mode: str) -> None:
    payload = {"error": {"message": "Unsupported value: 'temperature'", "type": "invalid_request_error"}}
    server.queue(Reply.error(400, payload))
    _, _, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert isinstance(error, BadRequestError)
    assert error.status_code == 400
    assert error.body == payload["error"]


RATE_LIMITED = Reply.error(
    429, {"error": {"message": "Rate limit reached", "type": "requests"}}, headers={"retry-after": "7"}
)


def test_http_429_carries_retry_after(server: LoopbackServer) -> None:
    class NoRetries(RecipeRecommender):
        retries = 0
        client = openai.OpenAI(api_key="sk-own", base_url=f"{server.url}/v1", max_retries=0)

    server.queue(RATE_LIMITED)
    with pytest.raises(RateLimitError) as caught:
        NoRetries(ingredient="apples").stream(retries=0).collect()
    assert caught.value.retry_after == 7 and caught.value.status_code == 429
    assert server.last_request.headers["authorization"] == "Bearer sk-own"
    NoRetries.client.close()


def test_http_429_carries_retry_after_async(server: LoopbackServer) -> None:
    async def run() -> RateLimitError:
        class NoRetries(RecipeRecommender):
            retries = 0
            async_client = openai.AsyncOpenAI(api_key="sk-own", base_url=f"{server.url}/v1", max_retries=0)

        try:
            async with NoRetries(ingredient="apples").stream_async(retries=0) as stream:
                with pytest.raises(RateLimitError) as caught:
                    await stream.collect()
        finally:
            await NoRetries.async_client.close()
        return caught.value

    server.queue(RATE_LIMITED)
    error = asyncio.run(run())
    assert error.retry_after == 7 and error.provider == "openai"


def test_history_with_tool_calls_is_encoded_for_chat_completions(server: LoopbackServer) -> None:
    class Chat(OpenAIPrompt):
        prompt_template = """
        SYSTEM: You are terse.
        MESSAGES: {history}
        USER: {question}
        """
        history: list[Message]
        question: str

    call = ToolCall.from_raw("call_1", "get_weather", '{"city": "Oslo"}')
    history = [
        Message(role="user", content="Weather in Oslo?"),
        Message(role="assistant", tool_calls=(call,)),
        Message(role="tool", tool_call_id="call_1", name="get_weather", content="-3 C"),
        Message(role="assistant", content="It is -3 C."),
    ]
    server.queue(Reply.sse("openai/text.sse"))
    Chat(history=history, question="And tomorrow?").stream().collect()
    assert server.last_request.json()["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "-3 C"},
        {"role": "assistant", "content": "It is -3 C."},
        {"role": "user", "content": "And tomorrow?"},
    ]


def test_response_message_continues_a_conversation(server: LoopbackServer) -> None:
    server.queue(Reply.sse("openai/tool_calls.sse"))
    response = RecipeRecommender(ingredient="apples").stream().collect()
    message = response.message()
    assert message.role == "assistant"
    assert [call.id for call in message.tool_calls] == ["call_Xa91LmQzR2", "call_Bq72NcVw8K"]


def test_parameters_are_overridden_per_call(server: LoopbackServer) -> None:
    server.queue(Reply.sse("openai/text.sse"))
    RecipeRecommender(ingredient="apples").stream(temperature=0, max_tokens=50, seed=7).collect()
    body = server.last_request.json()
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0, 50, 7)
    assert RecipeRecommender.call_params.temperature == 0.3  # the class is unchanged


def test_extra_body_and_headers_reach_the_wire(server: LoopbackServer) -> None:
    server.queue(Reply.sse("openai/text.sse"))
    RecipeRecommender(ingredient="apples").stream(
        extra_body={"enable_thinking": True}, extra_headers={"x-trace": "abc"}
    ).collect()
    assert server.last_request.json()["enable_thinking"] is True
    assert server.last_request.headers["x-trace"] == "abc"


def test_a_stream_is_iterated_once(server: LoopbackServer) -> None:
    from mirastream.errors import StreamAlreadyConsumed

    server.queue(Reply.sse("openai/text.sse"))
    stream = RecipeRecommender(ingredient="apples").stream()
    stream.collect()
    with pytest.raises(StreamAlreadyConsumed):
        list(stream)


def test_closing_before_iterating_sends_nothing(server: LoopbackServer) -> None:
    from mirastream.errors import StreamAlreadyConsumed

    stream = RecipeRecommender(ingredient="apples").stream()
    stream.close()
    with pytest.raises(StreamAlreadyConsumed):
        list(stream)
    assert server.requests == []


def test_collect_finishes_a_stream_already_started(server: LoopbackServer) -> None:
    server.queue(Reply.sse("openai/text.sse"))
    stream = RecipeRecommender(ingredient="apples").stream()
    iterator = iter(stream)
    next(iterator)
    response = stream.collect()
    assert response.text == "Try apple crumble, apple pie and baked apples."
    assert not response.interrupted


def test_unknown_or_invalid_parameters_fail_before_any_request(server: LoopbackServer) -> None:
    prompt = RecipeRecommender(ingredient="apples")
    with pytest.raises(ValidationError, match="temprature"):
        prompt.stream(temprature=0.2)
    with pytest.raises(ValidationError, match="less than or equal to 2"):
        prompt.stream(temperature=3)
    with pytest.raises(ValidationError, match="not both"):
        prompt.stream(max_tokens=5, max_completion_tokens=5)
    with pytest.raises(ValidationError):
        OpenAICallParams(model="gpt-4o-mini", top_p=1.5)
    assert server.requests == []
