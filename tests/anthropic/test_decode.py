"""The IO-free `AnthropicDecoder`, fed events directly: the cases transcripts rarely show."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mirastream import Usage
from mirastream._sse import ServerSentEvent, SSEDecoder
from mirastream.anthropic._decode import AnthropicDecoder
from mirastream.anthropic.chunk import AnthropicResponseChunk
from mirastream.errors import (
    AuthenticationError,
    BadRequestError,
    MalformedStreamError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)

from ..loopback import TRANSCRIPTS, transcript


def event(payload: dict[str, Any], name: str | None = "") -> ServerSentEvent:
    """An event as the API sends it: named after its payload's type unless `name` says otherwise."""
    return ServerSentEvent(payload["type"] if name == "" else name, json.dumps(payload).encode())


def message_start(**usage: int) -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {
            "id": "msg_01Dc",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-sonnet-4-6",
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 1, **usage},
        },
    }


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def block_delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def message_delta(stop_reason: str | None, **usage: int) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": 5, **usage},
    }


def decode(*payloads: dict[str, Any]) -> tuple[AnthropicDecoder, list[AnthropicResponseChunk]]:
    decoder = AnthropicDecoder()
    chunks = [chunk for payload in payloads if (chunk := decoder.feed(event(payload))) is not None]
    return decoder, chunks


def test_cached_input_tokens_count_as_input_tokens() -> None:
    decoder, chunks = decode(
        message_start(cache_read_input_tokens=1000, cache_creation_input_tokens=200),
        message_delta("end_turn", output_tokens=30),
        {"type": "message_stop"},
    )
    expected = Usage(input_tokens=1210, output_tokens=30, total_tokens=1240, cached_input_tokens=1000)
    assert decoder.response().usage == expected
    assert chunks[1].usage == expected
    assert chunks[0].usage is None  # message_start announces the input counts; message_delta reports them


def test_cumulative_counts_on_message_delta_replace_earlier_ones() -> None:
    decoder, _ = decode(
        message_start(cache_read_input_tokens=100),
        message_delta(None, output_tokens=3),
        message_delta("end_turn", output_tokens=9, input_tokens=40, cache_read_input_tokens=100),
        {"type": "message_stop"},
    )
    assert decoder.response().usage == Usage(
        input_tokens=140, output_tokens=9, total_tokens=149, cached_input_tokens=100
    )


def test_a_message_delta_without_stop_reason_finishes_nothing() -> None:
    decoder, chunks = decode(message_start(), message_delta(None))
    assert chunks[1].finish_reason is None and chunks[1].usage is not None
    assert decoder.response().finish_reason is None


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "paused"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("a_future_reason", None),
    ],
)
def test_stop_reasons_are_normalised_and_kept_raw(stop_reason: str, finish_reason: str | None) -> None:
    decoder, chunks = decode(message_start(), message_delta(stop_reason), {"type": "message_stop"})
    assert chunks[1].finish_reason == finish_reason
    choice = decoder.response().choice
    assert choice.finish_reason == finish_reason and choice.raw_finish_reason == stop_reason


def test_a_turn_with_tool_calls_ends_in_tool_calls_even_on_end_turn() -> None:
    decoder, _ = decode(
        message_start(),
        block_start(0, {"type": "tool_use", "id": "toolu_1", "name": "now", "input": {}}),
        {"type": "content_block_stop", "index": 0},
        message_delta("end_turn"),
        {"type": "message_stop"},
    )
    assert decoder.response().finish_reason == "tool_calls"
    assert decoder.response().tool_calls[0].arguments == {}


def test_a_tool_input_sent_whole_on_content_block_start_is_kept() -> None:
    decoder, chunks = decode(
        message_start(),
        block_start(
            0, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}
        ),
        {"type": "content_block_stop", "index": 0},
        message_delta("tool_use"),
        {"type": "message_stop"},
    )
    assert decoder.response().tool_calls[0].arguments == {"city": "Oslo"}
    pieces = [piece for chunk in chunks for piece in chunk.tool_calls]
    assert "".join(piece.arguments for piece in pieces) == decoder.response().tool_calls[0].raw_arguments


def test_a_server_tool_input_is_not_a_tool_call() -> None:
    decoder, chunks = decode(
        message_start(),
        block_start(0, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}),
        block_delta(0, {"type": "input_json_delta", "partial_json": '{"query": "apple pie"}'}),
        {"type": "content_block_stop", "index": 0},
        block_start(1, {"type": "text", "text": ""}),
        block_delta(1, {"type": "text_delta", "text": "Found it."}),
        {"type": "content_block_stop", "index": 1},
        message_delta("end_turn"),
        {"type": "message_stop"},
    )
    assert decoder.response().tool_calls == ()
    assert all(chunk.tool_calls == () for chunk in chunks)
    assert decoder.response().finish_reason == "stop"
    assert decoder.response().text == "Found it."


def test_text_on_content_block_start_is_content() -> None:
    decoder, chunks = decode(message_start(), block_start(0, {"type": "text", "text": "Hello"}))
    assert chunks[1].content == "Hello" and decoder.text == "Hello"


def test_events_are_recognised_by_their_payload_when_unnamed() -> None:
    decoder = AnthropicDecoder()
    for payload in (
        message_start(),
        {"type": "ping"},
        block_start(0, {"type": "text", "text": ""}),
        block_delta(0, {"type": "text_delta", "text": "Hi"}),
        message_delta("end_turn"),
        {"type": "message_stop"},
    ):
        decoder.feed(event(payload, name=None))
    decoder.finish()
    assert decoder.response().text == "Hi"


def test_pings_unknown_events_and_events_after_message_stop_yield_nothing() -> None:
    decoder = AnthropicDecoder()
    assert decoder.feed(ServerSentEvent("ping", b'{"type": "ping"}')) is None
    assert decoder.feed(ServerSentEvent("ping", b"not even json")) is None
    assert decoder.feed(ServerSentEvent(None, b"")) is None
    assert decoder.feed(event(message_start())) is not None
    assert decoder.feed(event({"type": "message_annotation", "note": "newer than us"})) is None
    assert decoder.feed(event({"type": "message_stop"})) is not None
    assert decoder.feed(event(block_delta(0, {"type": "text_delta", "text": "late"}))) is None
    decoder.finish()
    assert decoder.text == ""


def test_unknown_content_blocks_and_deltas_are_chunks_without_text() -> None:
    _, chunks = decode(
        message_start(),
        block_start(0, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}),
        block_delta(0, {"type": "a_future_delta", "value": 1}),
    )
    assert [(chunk.content, chunk.thinking, chunk.tool_calls) for chunk in chunks[1:]] == [("", "", ())] * 2


@pytest.mark.parametrize(
    ("kind", "error_class"),
    [
        ("overloaded_error", ServerError),
        ("api_error", ServerError),
        ("rate_limit_error", RateLimitError),
        ("invalid_request_error", BadRequestError),
        ("authentication_error", AuthenticationError),
        ("permission_error", AuthenticationError),
        ("billing_error", ProviderError),
        ("a_future_error", ServerError),
    ],
)
def test_error_events_are_typed_errors(kind: str, error_class: type[ProviderError]) -> None:
    decoder = AnthropicDecoder()
    decoder.feed(event(message_start()))
    payload = {"type": "error", "error": {"type": kind, "message": "Something went wrong"}}
    with pytest.raises(error_class) as caught:
        decoder.feed(event(payload))
    assert type(caught.value) is error_class
    assert caught.value.body == payload and caught.value.provider == "anthropic"
    assert "Something went wrong" in str(caught.value)


def test_an_error_payload_without_its_event_name_is_still_an_error() -> None:
    with pytest.raises(ServerError, match="Overloaded"):
        AnthropicDecoder().feed(
            event({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, None)
        )


def test_an_error_event_that_is_not_json_is_still_an_error() -> None:
    with pytest.raises(ServerError, match="upstream connect error"):
        AnthropicDecoder().feed(ServerSentEvent("error", b"upstream connect error"))


@pytest.mark.parametrize(
    "data",
    [
        b'{"type": "content_block_delta", "index": 0, "delta": {"type": "text_del',
        b'["not", "an", "object"]',
        b'{"type": "content_block_delta", "index": 0}',
        b'{"type": "content_block_delta", "delta": {"type": "input_json_delta", "partial_json": "{"}}',
        b'{"type": "message_start"}',
    ],
)
def test_events_that_break_the_format_are_malformed(data: bytes) -> None:
    decoder = AnthropicDecoder()
    decoder.feed(event(block_start(0, {"type": "tool_use", "id": "t", "name": "n", "input": {}})))
    with pytest.raises(MalformedStreamError):
        decoder.feed(ServerSentEvent("content_block_delta", data))


def test_finish_requires_the_stop_reason_or_message_stop() -> None:
    decoder, _ = decode(message_start(), message_delta(None))
    with pytest.raises(StreamInterrupted):
        decoder.finish()
    decoder.feed(event({"type": "message_stop"}))
    decoder.finish()


def test_a_message_whose_stop_reason_arrived_is_whole_without_message_stop() -> None:
    # As with the SDK, which never waits for message_stop: the stream may end right after it.
    decoder, _ = decode(message_start(), message_delta("end_turn"))
    decoder.finish()
    assert decoder.response().finish_reason == "stop"


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=200))
def test_the_response_does_not_depend_on_how_the_bytes_are_split(sizes: list[int]) -> None:
    body = transcript("anthropic/tool_calls_with_text.sse")
    sse = SSEDecoder()
    decoder = AnthropicDecoder()
    position = 0
    for size in sizes * (len(body) // sum(sizes) + 1):
        for item in sse.feed(body[position : position + size]):
            decoder.feed(item)
        position += size
        if position >= len(body):
            break
    decoder.finish()
    response = decoder.response()
    assert response.text == "I'll check the weather in both cities."
    assert [call.arguments for call in response.tool_calls] == [
        {"city": "Paris", "unit": "celsius"},
        {"city": "Tøkyo"},
    ]


def test_chunks_are_decoded_without_the_sdk_and_build_its_event_on_demand() -> None:
    script = """
import sys
from mirastream._sse import SSEDecoder
from mirastream.anthropic._decode import AnthropicDecoder
from pathlib import Path

decoder = AnthropicDecoder()
chunks = [c for e in SSEDecoder().feed(Path(sys.argv[1]).read_bytes()) if (c := decoder.feed(e))]
text = "".join(c.content for c in chunks)
usage = [c.usage for c in chunks if c.usage]
print("before", "anthropic" in sys.modules, text, usage[0].total_tokens, chunks[3].event_type)
native = chunks[3].chunk
print("after", "anthropic" in sys.modules, type(native).__name__, repr(native.delta.text))
"""
    result = subprocess.run(
        [sys.executable, "-c", script, str(TRANSCRIPTS / "anthropic" / "text.sse")],
        capture_output=True,
        text=True,
        check=True,
    )
    before, after = result.stdout.splitlines()
    assert before == "before False Try apple crumble, apple pie and baked apples. 34 content_block_delta"
    assert after == "after True RawContentBlockDeltaEvent ' apple'"


def test_text_deltas_carry_the_message_model_and_id() -> None:
    _, chunks = decode(
        message_start(),
        block_start(0, {"type": "text", "text": ""}),
        block_delta(0, {"type": "text_delta", "text": "Hi"}),
        block_delta(0, {"type": "thinking_delta", "thinking": "Hmm"}),
    )
    assert [(chunk.content, chunk.thinking, chunk.event_type) for chunk in chunks[2:]] == [
        ("Hi", "", "content_block_delta"),
        ("", "Hmm", "content_block_delta"),
    ]
    assert {(chunk.model, chunk.id) for chunk in chunks} == {("claude-sonnet-4-6", "msg_01Dc")}


def test_an_event_named_error_is_an_error_whatever_its_payload_says() -> None:
    payload = {"type": "overloaded", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(ServerError, match="Overloaded"):
        AnthropicDecoder().feed(event(payload, "error"))


def test_plain_event_tuples_decode_like_named_events() -> None:
    body = transcript("anthropic/tool_calls_with_text.sse")
    plain, named = AnthropicDecoder(), AnthropicDecoder()
    for item in SSEDecoder().feed(body):
        assert repr(plain.feed(item)) == repr(named.feed(ServerSentEvent(*item)))
    plain.finish()
    named.finish()
    assert plain.response() == named.response()
    assert plain.response().tool_calls
