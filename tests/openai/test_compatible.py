"""What OpenAI-compatible servers send, through the real `openai` SDK over the loopback server.

Each body is served as one write per event, in 7-byte writes and with CRLF line endings, and
read sync and async: typed-part content, a prompt-filter chunk first, in-stream errors with
numeric codes (and whether they are retried), and chunks of the wrong shape after good ones.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import tenacity

from mirastream.errors import BadRequestError, MalformedStreamError, RateLimitError, ServerError
from mirastream.retries import is_retryable
from mirastream.testing import Reply as AnyReply

from ..loopback import LoopbackServer, Reply
from ..reading import consume
from .test_stream import RecipeRecommender

MODES = ["sync", "async"]
VARIANTS = ["events", "7-byte writes", "CRLF"]


def quick_retries() -> tenacity.Retrying:
    """The default policy's choice of what to retry, two retries, without the waits."""
    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(3), retry=tenacity.retry_if_exception(is_retryable), reraise=True
    )


def chunk(
    delta: dict[str, Any] | None = None, finish_reason: str | None = None, **fields: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": "chatcmpl-9",
        "object": "chat.completion.chunk",
        "created": 1763721600,
        "model": "mistral-medium-2508",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish_reason}],
    }
    payload.update(fields)
    return payload


def sse(*events: dict[str, Any] | bytes, done: bool = True) -> bytes:
    """A Chat Completions body: one `data:` event per payload (bytes are sent as they are)."""
    datas = [event if isinstance(event, bytes) else json.dumps(event).encode() for event in events]
    if done:
        datas.append(b"[DONE]")
    return b"".join(b"data: " + data + b"\n\n" for data in datas)


def reply(body: bytes, variant: str) -> AnyReply:
    if variant == "CRLF":
        return Reply.transcript(body.replace(b"\n", b"\r\n"))
    return Reply.transcript(body, piece_size=7 if variant == "7-byte writes" else None)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_typed_content_parts_and_a_prompt_filter_chunk_first(
    server: LoopbackServer, variant: str, mode: str
) -> None:
    prompt_filter = {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": [],
    }
    thinking = {"type": "thinking", "thinking": [{"type": "text", "text": "Apples are sweet."}]}
    body = sse(
        prompt_filter,
        chunk({"role": "assistant", "content": [thinking]}),
        chunk({"content": [{"type": "text", "text": "Apple"}, {"type": "text", "text": " pie."}]}),
        chunk({}, "stop", usage={"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15}),
    )
    server.queue(reply(body, variant))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert error is None
    assert [(c.content, c.thinking) for c in chunks] == [
        ("", ""),
        ("", "Apples are sweet."),
        ("Apple pie.", ""),
        ("", ""),
    ]
    assert (response.text, response.thinking, response.finish_reason) == (
        "Apple pie.",
        "Apples are sweet.",
        "stop",
    )
    assert (response.id, response.model) == ("chatcmpl-9", "mistral-medium-2508")
    assert chunks[2].delta is not None and chunks[2].delta.content == [  # the SDK's own view is untouched
        {"type": "text", "text": "Apple"},
        {"type": "text", "text": " pie."},
    ]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_reasoning_fields_calls_without_index_and_reasoning_outside_the_completion_count(
    server: LoopbackServer, variant: str, mode: str
) -> None:
    def call(call_id: str | None, arguments: str, name: str | None = None) -> dict[str, Any]:
        return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}

    usage = {
        "prompt_tokens": 20,
        "completion_tokens": 12,
        "total_tokens": 62,
        "completion_tokens_details": {"reasoning_tokens": 30},
    }
    body = sse(
        chunk({"role": "assistant", "reasoning_content": "Two cities"}),
        chunk(
            {
                "reasoning": ", two calls.",
                "reasoning_details": [{"type": "reasoning.text", "text": ", two calls."}],
            }
        ),
        chunk({"reasoning_details": [{"type": "reasoning.summary", "summary": " Done."}]}),
        chunk({"tool_calls": [call("call_a", '{"city": ', "get_weather")]}),
        chunk({"tool_calls": [call(None, '"Paris"}')]}),
        chunk({"tool_calls": [call("call_b", '{"city": "Oslo"}', "get_weather")]}),
        chunk({}, "tool_calls"),
        {**chunk(), "choices": [], "usage": usage},
    )
    server.queue(reply(body, variant))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert error is None
    assert response.thinking == "Two cities, two calls. Done."
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("call_a", "get_weather", {"city": "Paris"}),
        ("call_b", "get_weather", {"city": "Oslo"}),
    ]
    assert [piece.index for c in chunks for piece in c.tool_calls] == [0, 0, 1]
    assert response.finish_reason == "tool_calls"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
        20,
        42,
        62,
    )
    assert response.usage.reasoning_tokens == 30


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("code", "kind", "attempts"),
    [(400, BadRequestError, 1), (404, BadRequestError, 1), (429, RateLimitError, 3), (503, ServerError, 3)],
)
def test_an_error_event_before_any_chunk_is_retried_only_for_a_retryable_status(
    server: LoopbackServer, code: int, kind: type[Exception], attempts: int, mode: str
) -> None:
    body = sse({"error": {"code": code, "message": "Provider said no"}}, done=False)
    server.queue(*(reply(body, "events") for _ in range(attempts)))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode, retries=quick_retries())
    assert type(error) is kind and getattr(error, "status_code", None) == code
    assert "Provider said no" in str(error)
    assert len(server.requests) == attempts and server.pending == 0
    assert chunks == [] and response.text == ""


@pytest.mark.parametrize("mode", MODES)
def test_a_retried_error_event_is_followed_by_the_answer(server: LoopbackServer, mode: str) -> None:
    server.queue(
        reply(sse({"error": {"code": 502, "message": "upstream"}}, done=False), "events"),
        reply(sse(chunk({"content": "Pie."}, "stop")), "events"),
    )
    _, response, error = consume(RecipeRecommender(ingredient="apples"), mode, retries=quick_retries())
    assert error is None and response.text == "Pie." and len(server.requests) == 2


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_an_error_event_after_chunks_keeps_the_partial_answer(
    server: LoopbackServer, variant: str, mode: str
) -> None:
    body = sse(
        chunk({"content": "Apple"}), {"error": {"code": 400, "message": "Token limit reached"}}, done=False
    )
    server.queue(reply(body, variant))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert isinstance(error, BadRequestError) and error.status_code == 400
    assert error.response is not None and error.response.text == "Apple" and error.response.interrupted
    assert [c.content for c in chunks] == ["Apple"] and response.text == "Apple"
    assert len(server.requests) == 1


WRONG_SHAPES = [
    b'{"choices": [5]}',
    b'{"choices": [{"index": 0, "delta": ["content"]}]}',
    b'{"choices": [{"index": 0, "delta": {"content": {"text": "x"}}}]}',
    b'{"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": [1]}]}}]}',
    b'{"choices": [{"index": 0, "delta": {"content": NaN}}]}',
    b'{"usage": {"prompt_tokens": NaN}}',
    b"[" * 100_000 + b"]" * 100_000,
    b"not json",
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("data", WRONG_SHAPES, ids=lambda data: repr(data[:40]))
def test_a_chunk_of_the_wrong_shape_raises_malformed_with_the_partial_answer(
    server: LoopbackServer, data: bytes, variant: str, mode: str
) -> None:
    if variant == "7-byte writes" and len(data) > 1000:
        variant = (
            "events"  # 28 000 writes of one event prove nothing more than the 7-byte split of the others
        )
    server.queue(reply(sse(chunk({"role": "assistant", "content": "Apple"}), data), variant))
    chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert type(error) is MalformedStreamError and error.provider == "openai"
    assert error.response is not None and error.response.text == "Apple" and error.response.interrupted
    assert [c.content for c in chunks] == ["Apple"]
    assert response.interrupted and len(server.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_an_event_beyond_the_size_limit_raises_malformed_with_the_partial_answer(
    server: LoopbackServer, mode: str
) -> None:
    endless = b"data: " + b"x" * (16 * 1024 * 1024 + 1)  # a line that never ends, past 16 MiB
    server.queue(Reply.transcript(sse(chunk({"content": "Apple"}), done=False) + endless, piece_size=1 << 20))
    chunks, _, error = consume(RecipeRecommender(ingredient="apples"), mode)
    assert type(error) is MalformedStreamError and "16777216 bytes" in str(error)
    assert error.response is not None and error.response.text == "Apple"
    assert [c.content for c in chunks] == ["Apple"]
