"""The Gemini backend end to end: the real `google-genai` SDK against the loopback server.

Every scenario runs twice, through `stream()` and through `stream_async()`.
"""

from __future__ import annotations

import json

import pytest
from google.genai import errors as genai_errors
from google.genai import types

from mirastream import ToolCall, ToolCallDelta
from mirastream.errors import (
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)
from mirastream.gemini import GeminiCallParams, GeminiPrompt

from ..loopback import LoopbackServer, Reply
from ..reading import consume
from .conftest import API_KEY
from .wire import google_error, payloads


class RecipeRecommender(GeminiPrompt):
    prompt_template = """
    SYSTEM: You are a chef who answers briefly.
    USER: Recommend recipes that use {ingredient} as an ingredient
    """
    ingredient: str
    call_params = GeminiCallParams(model="gemini-2.5-flash", temperature=0.3)


MODES = ["sync", "async"]
PARIS_SIGNATURE = "CiQBjz1rX2FwcGxlLXNpZ25hdHVyZS0x"


def prompt() -> RecipeRecommender:
    return RecipeRecommender(ingredient="apples")


@pytest.mark.parametrize("mode", MODES)
def test_text_stream_with_usage(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("gemini/text.sse"))
    chunks, response, error = consume(prompt(), mode)

    assert error is None
    assert len(chunks) == len(payloads("text")) >= 5
    assert "".join(chunk.content for chunk in chunks) == response.text
    assert response.text == "Try apple crumble, apple pie and baked apples."
    assert [chunk.content for chunk in chunks][:2] == ["Try", " apple crumble,"]
    assert response.finish_reason == "stop" and response.choice.raw_finish_reason == "STOP"
    assert [chunk.finish_reason for chunk in chunks] == [None] * 4 + ["stop"]
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
        24,
        10,
        34,
    )
    assert response.usage.reasoning_tokens is None and response.usage.cached_input_tokens is None
    assert chunks[-1].usage == response.usage
    assert chunks[0].usage is not None and chunks[0].usage.output_tokens == 0  # the running count
    assert response.model == "gemini-2.5-flash"
    assert response.id == "Yq3PaOzYJvyM1dkPj5avwQ4"
    assert not response.interrupted
    assert response.time_to_first_chunk is not None and response.duration is not None
    assert 0 < response.time_to_first_chunk <= response.duration

    request = server.last_request
    assert request.path == "/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert request.headers["x-goog-api-key"] == API_KEY
    body = request.json()
    assert body["systemInstruction"] == {"parts": [{"text": "You are a chef who answers briefly."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Recommend recipes that use apples as an ingredient"}]}
    ]
    assert body["generationConfig"] == {"temperature": 0.3}
    assert "tools" not in body and "safetySettings" not in body


@pytest.mark.parametrize("mode", MODES)
def test_chunk_is_the_sdk_object_and_choices_are_its_candidates(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("gemini/text.sse"))
    chunks, _, _ = consume(prompt(), mode)

    for chunk, payload in zip(chunks, payloads("text"), strict=True):
        native = chunk.chunk
        assert type(native) is types.GenerateContentResponse
        assert native.response_id == payload["responseId"] == chunk.id
        assert chunk.model == payload["modelVersion"]
        assert chunk.choices == native.candidates
        assert chunk.choice is chunk.choices[0]
        assert type(chunk.choice) is types.Candidate
        assert chunk.delta is chunk.choice.content
        assert type(chunk.delta) is types.Content
        assert chunk.delta.parts is not None
        assert chunk.delta.parts[0].text == payload["candidates"][0]["content"]["parts"][0]["text"]
        assert chunk.content == chunk.delta.parts[0].text
        assert chunk.choice_index == 0
    assert chunks[-1].choice is not None
    assert chunks[-1].choice.finish_reason == types.FinishReason.STOP


@pytest.mark.parametrize("mode", MODES)
def test_function_calls_arrive_whole_with_ids_and_signature(server: LoopbackServer, mode: str) -> None:
    # Small pieces split the UTF-8 of "Tøkyo" and every JSON token across reads.
    server.queue(Reply.sse("gemini/tool_calls.sse", piece_size=7))
    chunks, response, error = consume(prompt(), mode)

    assert error is None
    assert response.finish_reason == "tool_calls"
    assert response.choice.raw_finish_reason == "STOP"
    assert response.tool_calls == (
        ToolCall(
            id="call_paris",
            name="get_weather",
            raw_arguments='{"city": "Paris", "unit": "celsius"}',
            arguments={"city": "Paris", "unit": "celsius"},
            signature=PARIS_SIGNATURE,
        ),
        ToolCall(
            id="call_tokyo",
            name="get_weather",
            raw_arguments='{"city": "T\\u00f8kyo"}',
            arguments={"city": "Tøkyo"},
        ),
    )
    assert [chunk.tool_calls for chunk in chunks] == [
        (ToolCallDelta(0, "call_paris", "get_weather", '{"city": "Paris", "unit": "celsius"}'),),
        (ToolCallDelta(1, "call_tokyo", "get_weather", '{"city": "T\\u00f8kyo"}'),),
    ]
    assert [chunk.finish_reason for chunk in chunks] == [None, "tool_calls"]
    assert all(chunk.content == "" for chunk in chunks)
    first = chunks[0].delta
    assert first is not None and first.parts is not None
    assert first.parts[0].function_call is not None and first.parts[0].function_call.id == "call_paris"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (82, 51)


@pytest.mark.parametrize("mode", MODES)
def test_calls_without_ids_get_stable_ids_from_their_position(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("gemini/tool_calls_no_ids.sse"))
    chunks, response, error = consume(prompt(), mode)

    assert error is None
    assert [(call.id, call.name, call.arguments, call.signature) for call in response.tool_calls] == [
        ("call_0", "get_weather", {"city": "Oslo"}, "Cg5vc2xvLXNpZ25hdHVyZQ=="),
        ("call_1", "get_time", {}, None),
    ]
    assert [delta.id for delta in chunks[0].tool_calls] == ["call_0", "call_1"]
    assert response.usage is not None and response.usage.cached_input_tokens == 32


@pytest.mark.parametrize("mode", MODES)
def test_thoughts_are_thinking_never_content(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("gemini/thinking.sse"))
    chunks, response, error = consume(prompt(), mode, thinking_config={"include_thoughts": True})

    assert error is None
    assert [(chunk.thinking, chunk.content) for chunk in chunks] == [
        ("Apples are", ""),
        (" sweet.", ""),
        ("", "Apple pie."),
    ]
    assert response.thinking == "Apples are sweet."
    assert response.text == "Apple pie."
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
        15,
        7,
        22,
    )
    assert response.usage.reasoning_tokens == 4
    assert server.last_request.json()["generationConfig"]["thinkingConfig"] == {"include_thoughts": True}


@pytest.mark.parametrize("mode", MODES)
def test_safety_stop_is_a_content_filter_finish(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("gemini/safety.sse"))
    chunks, response, error = consume(prompt(), mode)

    assert error is None
    assert response.text == "Here is"
    assert response.finish_reason == "content_filter"
    assert response.choice.raw_finish_reason == "SAFETY"
    last = chunks[-1]
    assert last.finish_reason == "content_filter"
    assert last.delta is None and last.content == ""  # the blocking chunk has no content
    assert last.choice is not None and last.choice.safety_ratings is not None
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 2)


@pytest.mark.parametrize("mode", MODES)
def test_max_tokens_is_a_length_finish(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("gemini/length.sse"))
    _, response, error = consume(prompt(), mode, max_output_tokens=4)

    assert error is None
    assert response.text == "Apple pie, apple"
    assert (response.finish_reason, response.choice.raw_finish_reason) == ("length", "MAX_TOKENS")
    assert server.last_request.json()["generationConfig"]["maxOutputTokens"] == 4


@pytest.mark.parametrize("mode", MODES)
def test_error_payload_mid_stream_is_a_typed_error_with_partial_answer(
    server: LoopbackServer, mode: str
) -> None:
    server.queue(Reply.sse("gemini/error_event.sse"))
    chunks, _, error = consume(prompt(), mode)

    assert isinstance(error, ServerError)
    assert error.status_code == 500 and error.provider == "gemini"
    assert "in the stream" in str(error) and "An internal error has occurred" in str(error)
    assert isinstance(error.body, dict) and error.body["status"] == "INTERNAL"
    assert error.response is not None and error.response.interrupted
    assert error.response.text == "Apple crumble" == "".join(chunk.content for chunk in chunks)


@pytest.mark.parametrize("mode", MODES)
def test_stream_ending_without_finish_reason_is_interrupted(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("gemini/cut_off.sse"))
    chunks, response, error = consume(prompt(), mode)

    assert isinstance(error, StreamInterrupted)
    assert error.provider == "gemini"
    assert error.response is not None and error.response.text == "Apple crumble needs"
    assert error.response.interrupted and response.interrupted
    assert "".join(chunk.content for chunk in chunks) == "Apple crumble needs"


@pytest.mark.parametrize("mode", MODES)
def test_blocked_prompt_is_a_content_filter_error(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("gemini/blocked.sse"))
    chunks, _, error = consume(prompt(), mode)

    assert isinstance(error, ContentFilterError)
    assert "SAFETY" in str(error) and error.provider == "gemini"
    feedback = payloads("blocked")[0]["promptFeedback"]
    assert error.body == feedback and error.body["blockReason"] == "SAFETY"  # as on the wire
    assert chunks == []
    assert error.response is not None and error.response.text == "" and error.response.interrupted


@pytest.mark.parametrize("mode", MODES)
def test_several_candidates_are_aggregated_per_candidate(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("gemini/two_candidates.sse"))
    chunks, response, error = consume(prompt(), mode, candidate_count=2)

    assert error is None
    assert server.last_request.json()["generationConfig"]["candidateCount"] == 2
    assert [(choice.index, choice.text, choice.finish_reason) for choice in response.choices] == [
        (0, "Apple tart.", "stop"),
        (1, "Apple sauce cake.", "length"),
    ]
    assert len(chunks[0].choices) == 2 and chunks[0].choice_index == 0
    assert [chunk.choice_index for chunk in chunks] == [0, 0, 1, 1]
    assert "".join(chunk.content for chunk in chunks if chunk.choice_index == 1) == " sauce cake."
    assert all(chunk.choice is not None and chunk.choice.index == chunk.choice_index for chunk in chunks)
    assert response.text == "Apple tart."


@pytest.mark.parametrize("mode", MODES)
def test_http_401_is_an_authentication_error(server: LoopbackServer, mode: str) -> None:
    payload = google_error(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
        "or other valid authentication credential.",
    )
    server.queue(Reply.error(401, payload))
    chunks, response, error = consume(prompt(), mode)

    assert isinstance(error, AuthenticationError)
    assert error.status_code == 401 and error.provider == "gemini"
    assert "invalid authentication credentials" in str(error)
    assert error.body == payload["error"]
    assert isinstance(error.__cause__, genai_errors.ClientError)
    assert error.response is None and chunks == []
    assert response.interrupted
    assert len(server.requests) == 1  # never retried


@pytest.mark.parametrize("mode", MODES)
def test_http_400_is_a_bad_request_error(server: LoopbackServer, mode: str) -> None:
    message = "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty."
    payload = google_error(400, "INVALID_ARGUMENT", message)
    server.queue(Reply.error(400, payload))
    _, _, error = consume(prompt(), mode)

    assert isinstance(error, BadRequestError)
    assert error.status_code == 400
    assert "must not be empty" in str(error)


@pytest.mark.parametrize("mode", MODES)
def test_an_invalid_key_is_an_authentication_error_although_gemini_says_400(
    server: LoopbackServer, mode: str
) -> None:
    payload = google_error(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        },
    )
    server.queue(Reply.error(400, payload))
    _, _, error = consume(prompt(), mode)

    assert isinstance(error, AuthenticationError)
    assert error.status_code == 400
    assert "API key not valid" in str(error)


RATE_LIMITED = google_error(
    429,
    "RESOURCE_EXHAUSTED",
    "You exceeded your current quota, please check your plan and billing details.",
    {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [
            {
                "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
            }
        ],
    },
    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"},
)


@pytest.mark.parametrize("mode", MODES)
def test_http_429_takes_its_wait_from_retry_info(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.error(429, RATE_LIMITED))
    _, _, error = consume(prompt(), mode, retries=0)

    assert isinstance(error, RateLimitError)
    assert error.status_code == 429 and error.retry_after == 7
    assert len(server.requests) == 1


def test_http_429_prefers_a_retry_after_header(server: LoopbackServer) -> None:
    server.queue(Reply.error(429, RATE_LIMITED, headers={"retry-after": "3"}))
    with pytest.raises(RateLimitError) as caught:
        prompt().stream(retries=0).collect()
    assert caught.value.retry_after == 3


@pytest.mark.parametrize("mode", MODES)
def test_http_503_is_a_server_error(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.error(503, google_error(503, "UNAVAILABLE", "The model is overloaded.")))
    _, _, error = consume(prompt(), mode, retries=0)

    assert isinstance(error, ServerError)
    assert error.status_code == 503 and "in the stream" not in str(error)


ALL_TRANSCRIPTS = (
    "text",
    "tool_calls",
    "tool_calls_no_ids",
    "thinking",
    "safety",
    "length",
    "cut_off",
    "blocked",
    "two_candidates",
)


def test_the_transcripts_are_valid_gemini_responses() -> None:
    for name in ALL_TRANSCRIPTS:
        for payload in payloads(name):
            parsed = types.GenerateContentResponse.model_validate(payload)
            assert parsed.model_version == "gemini-2.5-flash"
            assert json.loads(parsed.model_dump_json(exclude_none=True, by_alias=True))
