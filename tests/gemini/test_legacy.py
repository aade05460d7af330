"""The legacy client end to end: the real `google-generativeai` REST transport against the loopback server.

The transport posts to `/v1beta/models/<model>:streamGenerateContent?$alt=json;enum-encoding=int`
and reads the answer as one growing JSON array (`wire.legacy_reply`), not as SSE. Every
scenario runs through `stream()` and `stream_async()`.
"""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from typing import Any

import google.generativeai as legacy_genai
import pytest
from google.ai import generativelanguage as glm

from mirastream import Message, Response, ToolCall, ToolCallDelta
from mirastream.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContentFilterError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)
from mirastream.gemini import GeminiCallParams, GeminiLegacyPrompt, GeminiLegacyResponseChunk

from ..loopback import LoopbackServer, Reply
from ..reading import consume
from .conftest import API_KEY
from .wire import google_error, legacy_reply, payloads

STREAM_PATH = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?%24alt=json%3Benum-encoding%3Dint"
MODES = ["sync", "async"]
USER_TEXT = "Recommend recipes that use apples as an ingredient"


class RecipeRecommender(GeminiLegacyPrompt):
    prompt_template = """
    SYSTEM: You are a chef who answers briefly.
    USER: Recommend recipes that use {ingredient} as an ingredient
    """
    ingredient: str
    call_params = GeminiCallParams(model="gemini-2.5-flash", temperature=0.3)


def prompt() -> RecipeRecommender:
    return RecipeRecommender(ingredient="apples")


@pytest.mark.parametrize("mode", MODES)
def test_text_stream_with_usage(server: LoopbackServer, mode: str) -> None:
    server.queue(legacy_reply("text"))
    chunks, response, error = consume(prompt(), mode)

    assert error is None
    assert [chunk.content for chunk in chunks] == [
        part["text"] for payload in payloads("text") for part in payload["candidates"][0]["content"]["parts"]
    ]
    assert response.text == "Try apple crumble, apple pie and baked apples."
    assert response.finish_reason == "stop" and response.choice.raw_finish_reason == "STOP"
    assert [chunk.finish_reason for chunk in chunks] == [None] * 4 + ["stop"]
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
        24,
        10,
        34,
    )
    assert response.model == "gemini-2.5-flash"
    assert (
        response.id == "Yq3PaOzYJvyM1dkPj5avwQ4"
    )  # read from the body: the legacy protos have no responseId
    assert not response.interrupted

    request = server.last_request
    assert request.path == STREAM_PATH
    assert request.headers["x-goog-api-key"] == API_KEY
    assert request.json() == {
        "contents": [{"role": "user", "parts": [{"text": USER_TEXT}]}],
        "systemInstruction": {"parts": [{"text": "You are a chef who answers briefly."}]},
        "generationConfig": {"temperature": 0.3},
    }


@pytest.mark.parametrize("mode", MODES)
def test_chunk_is_the_legacy_sdk_object(server: LoopbackServer, mode: str) -> None:
    server.queue(legacy_reply("text"))
    chunks, _, _ = consume(prompt(), mode)

    for chunk in chunks:
        assert type(chunk) is GeminiLegacyResponseChunk
        native = chunk.chunk
        assert type(native) is legacy_genai.types.GenerateContentResponse
        assert chunk.chunk is native  # built once
        assert native.text == chunk.content  # the legacy object's own accessor agrees
        assert chunk.choice is chunk.choices[0]
        assert type(chunk.choice) is glm.Candidate
        assert chunk.delta is not None and type(chunk.delta) is glm.Content
        assert chunk.delta.parts[0].text == chunk.content
        assert chunk.model == "gemini-2.5-flash" and chunk.id == "Yq3PaOzYJvyM1dkPj5avwQ4"
    assert chunks[-1].choice is not None
    assert chunks[-1].choice.finish_reason == glm.Candidate.FinishReason.STOP


@pytest.mark.parametrize("mode", MODES)
def test_function_calls_keep_their_ids_and_signatures(server: LoopbackServer, mode: str) -> None:
    server.queue(legacy_reply("tool_calls", piece_size=7))
    chunks, response, error = consume(prompt(), mode)

    assert error is None
    assert response.finish_reason == "tool_calls"
    assert response.tool_calls == (
        ToolCall.from_raw(
            "call_paris",
            "get_weather",
            '{"city": "Paris", "unit": "celsius"}',
            # read from the body: the legacy Part proto has no thoughtSignature, so `.chunk` lacks it
            signature="CiQBjz1rX2FwcGxlLXNpZ25hdHVyZS0x",
        ),
        ToolCall.from_raw("call_tokyo", "get_weather", '{"city": "T\\u00f8kyo"}'),
    )
    assert [delta for chunk in chunks for delta in chunk.tool_calls] == [
        ToolCallDelta(0, "call_paris", "get_weather", '{"city": "Paris", "unit": "celsius"}'),
        ToolCallDelta(1, "call_tokyo", "get_weather", '{"city": "T\\u00f8kyo"}'),
    ]
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (82, 51)


@pytest.mark.parametrize("mode", MODES)
def test_numbers_in_arguments_keep_their_json_type(server: LoopbackServer, mode: str) -> None:
    # Read from the body, as JSON: no protobuf Struct turns 3 into 3.0 on the way.
    body = (
        b'[{"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "scale", '
        b'"args": {"factor": 3, "ratio": 0.5, "tags": ["a", {"b": true}]}}}]}, "finishReason": 1}]}\n\n]'
    )
    server.queue(Reply(body, content_type="application/json", chunked=True))
    _, response, error = consume(prompt(), mode)

    assert error is None
    assert response.tool_calls[0].arguments == {"factor": 3, "ratio": 0.5, "tags": ["a", {"b": True}]}
    assert type(response.tool_calls[0].arguments["factor"]) is int
    assert response.tool_calls[0].id == "call_0"


@pytest.mark.parametrize("mode", MODES)
def test_finish_reasons_blocked_prompts_and_candidates(server: LoopbackServer, mode: str) -> None:
    server.queue(legacy_reply("safety"))
    _, response, _ = consume(prompt(), mode)
    assert (response.text, response.finish_reason, response.choice.raw_finish_reason) == (
        "Here is",
        "content_filter",
        "SAFETY",
    )

    server.queue(legacy_reply("length"))
    _, response, _ = consume(prompt(), mode)
    assert (response.text, response.finish_reason) == ("Apple pie, apple", "length")

    server.queue(legacy_reply("two_candidates"))
    _, response, _ = consume(prompt(), mode, candidate_count=2)
    assert [(choice.text, choice.finish_reason) for choice in response.choices] == [
        ("Apple tart.", "stop"),
        ("Apple sauce cake.", "length"),
    ]
    assert server.last_request.json()["generationConfig"]["candidateCount"] == 2

    server.queue(legacy_reply("blocked"))
    chunks, _, error = consume(prompt(), mode)
    assert isinstance(error, ContentFilterError) and "SAFETY" in str(error)
    assert chunks == [] and error.response is not None


@pytest.mark.parametrize("mode", MODES)
def test_cut_off_stream_is_interrupted_with_partial_answer(server: LoopbackServer, mode: str) -> None:
    server.queue(legacy_reply("cut_off"))
    _, _, error = consume(prompt(), mode)
    assert isinstance(error, StreamInterrupted)
    assert error.response is not None and error.response.text == "Apple crumble needs"


@pytest.mark.parametrize("mode", MODES)
def test_an_error_inside_the_stream_is_typed_with_the_partial_answer(
    server: LoopbackServer, mode: str
) -> None:
    # google-api-core would parse `{"error": ...}` into an empty response; the body is read raw.
    server.queue(legacy_reply("error_event"))
    chunks, _, error = consume(prompt(), mode)
    assert isinstance(error, ServerError) and error.status_code == 500
    assert "An internal error has occurred" in str(error)
    assert error.response is not None and error.response.text == "Apple crumble"
    assert [chunk.content for chunk in chunks] == ["Apple", " crumble"]
    assert len(server.requests) == 1  # chunks had reached the caller: never retried


@pytest.mark.parametrize("mode", MODES)
def test_an_error_before_the_first_chunk_is_retried(server: LoopbackServer, mode: str) -> None:
    overloaded = b'[{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}]'
    server.queue(Reply(overloaded, content_type="application/json", chunked=True), legacy_reply("text"))
    _, response, error = consume(prompt(), mode, retries=1)
    assert error is None and response.text == "Try apple crumble, apple pie and baked apples."
    assert len(server.requests) == 2

    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}
    quota = json.dumps([google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", retry)]).encode()
    server.queue(Reply(quota, content_type="application/json", chunked=True))
    _, _, error = consume(prompt(), mode, retries=0)
    assert isinstance(error, RateLimitError) and error.status_code == 429 and error.retry_after == 7.0
    assert "in the stream" in str(error)


@pytest.mark.parametrize("mode", MODES)
def test_thought_parts_are_thinking(server: LoopbackServer, mode: str) -> None:
    server.queue(legacy_reply("thinking"))
    chunks, response, _ = consume(prompt(), mode)
    assert [(chunk.thinking, chunk.content) for chunk in chunks] == [
        ("Apples are", ""),
        (" sweet.", ""),
        ("", "Apple pie."),
    ]
    assert response.thinking == "Apples are sweet."
    assert response.text == "Apple pie."
    # Thinking counts as output, as on GeminiPrompt: 3 answer + 4 thought tokens.
    assert response.usage is not None and response.usage.reasoning_tokens == 4
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
        15,
        7,
        22,
    )


@pytest.mark.parametrize("mode", MODES)
def test_http_errors_are_typed(server: LoopbackServer, mode: str) -> None:
    unauthenticated = google_error(401, "UNAUTHENTICATED", "Request had invalid authentication.")
    server.queue(Reply.error(401, unauthenticated))
    chunks, _, error = consume(prompt(), mode)
    assert isinstance(error, AuthenticationError) and error.status_code == 401
    assert error.response is None and chunks == []
    assert len(server.requests) == 1  # sent once: no credential "refresh", no retry

    server.queue(Reply.error(400, google_error(400, "INVALID_ARGUMENT", "Invalid value at 'contents'")))
    _, _, error = consume(prompt(), mode)
    assert isinstance(error, BadRequestError) and "Invalid value" in str(error)
    assert error.body == {"code": 400, "status": "INVALID_ARGUMENT", "message": "Invalid value at 'contents'"}

    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12.5s"}
    server.queue(Reply.error(429, google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", retry)))
    _, _, error = consume(prompt(), mode, retries=0)
    assert isinstance(error, RateLimitError) and error.retry_after == 12.5

    server.queue(Reply.error(503, google_error(503, "UNAVAILABLE", "The model is overloaded.")))
    _, _, error = consume(prompt(), mode, retries=0)
    assert isinstance(error, ServerError) and error.status_code == 503
    assert len(server.requests) == 4  # google-api-core's own retry is off: each error sent once

    server.queue(Reply.error(500, google_error(500, "INTERNAL", "Internal error.")), legacy_reply("text"))
    _, response, error = consume(prompt(), mode, retries=1)
    assert error is None and response.text == "Try apple crumble, apple pie and baked apples."
    assert len(server.requests) == 6  # the 500 once, then mirastream's one retry


@pytest.mark.parametrize("mode", MODES)
def test_history_is_sent_without_signatures(server: LoopbackServer, mode: str) -> None:
    class Chat(GeminiLegacyPrompt):
        prompt_template = """
        USER: Weather in Paris?
        MESSAGES: {history}
        """
        history: list[Message]

    call = ToolCall.from_raw("call_paris", "get_weather", '{"city": "Paris"}', signature="CiQBjz1r")
    history = [
        Message(role="assistant", tool_calls=(call,)),
        Message(role="tool", tool_call_id="call_paris", content='{"celsius": 21}'),
    ]
    server.queue(legacy_reply("text"))
    _, _, error = consume(Chat(history=history), mode)
    assert error is None
    assert server.last_request.json()["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        {
            "role": "model",
            "parts": [
                {"functionCall": {"id": "call_paris", "name": "get_weather", "args": {"city": "Paris"}}}
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"id": "call_paris", "name": "get_weather", "response": {"celsius": 21}}}
            ],
        },
    ]


def test_request_kwargs_are_the_request_body() -> None:
    kwargs = prompt().request_kwargs(
        tools=[{"function_declarations": [{"name": "f", "parameters": {"type": "OBJECT"}}]}],
        extra_config={"response_logprobs": True},
        timeout=4,
    )
    assert kwargs == {
        "request": {
            "model": "models/gemini-2.5-flash",
            "contents": [
                {"role": "user", "parts": [{"text": "Recommend recipes that use apples as an ingredient"}]}
            ],
            "system_instruction": {"parts": [{"text": "You are a chef who answers briefly."}]},
            "tools": [{"function_declarations": [{"name": "f", "parameters": {"type": "OBJECT"}}]}],
            "generation_config": {"temperature": 0.3, "response_logprobs": True},
        },
        "timeout": 4,
    }


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"seed": 1}, "seed"),
        ({"thinking_config": {"thinking_budget": 0}}, "thinking_config"),
        ({"http_options": {"headers": {}}}, "http_options"),
        ({"extra_config": {"thinking_level": "low"}}, "thinking_level"),
        ({"safety_settings": [{"category": "HARM_NONSENSE", "threshold": "BLOCK_NONE"}]}, "HARM_NONSENSE"),
    ],
)
def test_what_the_legacy_protos_cannot_carry_fails_before_any_request(
    server: LoopbackServer, overrides: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        prompt().stream(**overrides)
    with pytest.raises(ConfigurationError, match=match):
        prompt().stream_async(**overrides)
    assert server.requests == []


def test_break_releases_the_connection(server: LoopbackServer) -> None:
    server.queue(legacy_reply("text", delay=0.05))
    stream = prompt().stream()
    for _chunk in stream:
        break
    assert stream.response.interrupted
    assert server.last_request.disconnected.wait(timeout=2)


def test_leaving_async_with_releases_the_connection(server: LoopbackServer) -> None:
    server.queue(legacy_reply("text", delay=0.05))

    async def run() -> tuple[Response, bool]:
        async with prompt().stream_async() as stream:
            async for _chunk in stream:
                break
        disconnected = await asyncio.to_thread(server.last_request.disconnected.wait, 2)
        return stream.response, disconnected

    response, disconnected = asyncio.run(run())
    assert disconnected and response.interrupted


def test_async_streaming_does_not_block_the_event_loop(server: LoopbackServer) -> None:
    server.queue(legacy_reply("text", delay=0.05))

    async def run() -> int:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        async with prompt().stream_async() as stream:
            await stream.collect()
        ticker.cancel()
        return ticks

    assert asyncio.run(run()) >= 10  # the loop kept running during ~0.25 s of streaming


def test_the_package_has_no_async_streaming_over_rest(server: LoopbackServer) -> None:
    """Why `stream_async` uses worker threads: the package's async client cannot stream over REST.

    Its `transport="rest"` async client runs the blocking REST call inside the coroutine
    and returns a sync iterator, which cannot be awaited. If this starts passing through,
    native async is available and the thread bridge in `_legacy.py` can go.
    """
    server.queue(legacy_reply("text"))
    contents = [{"parts": [{"text": "hi"}]}]
    request = glm.GenerateContentRequest(model="models/gemini-2.5-flash", contents=contents)

    client = glm.GenerativeServiceAsyncClient(
        transport="rest", client_options={"api_key": "k", "api_endpoint": server.url}
    )

    async def run() -> None:
        await client.stream_generate_content(request)

    try:
        with warnings.catch_warnings():
            # The SDK drops the streamed HTTP response it just opened, socket and all.
            warnings.filterwarnings("ignore", message="unclosed <socket", category=ResourceWarning)
            with pytest.raises(TypeError, match="can't be used in 'await' expression"):
                asyncio.run(run())
            gc.collect()
        assert len(server.requests) == 1  # sent, blocking the event loop, before failing
    finally:
        client.transport.close()
