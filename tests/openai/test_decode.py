"""The IO-free `OpenAIDecoder`, fed events directly: the chunk shapes transcripts rarely show."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mirastream import ToolCallDelta, Usage
from mirastream._sse import ServerSentEvent, iter_events
from mirastream.errors import (
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    MalformedStreamError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)
from mirastream.openai._decode import OpenAIDecoder
from mirastream.openai.chunk import OpenAIResponseChunk
from mirastream.retries import is_retryable

from ..loopback import transcript


def chunk(*choices: dict[str, Any], usage: dict[str, Any] | None = None) -> tuple[None, bytes]:
    """A `chat.completion.chunk` event as a raw `(event, data)` pair."""
    payload = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1763721600,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": list(choices),
        "usage": usage,
    }
    return None, json.dumps(payload).encode()


def choice(index: int = 0, finish_reason: str | None = None, **delta: Any) -> dict[str, Any]:
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


DONE = (None, b"[DONE]")


def decode(*events: tuple[str | None, bytes]) -> tuple[OpenAIDecoder, list[OpenAIResponseChunk]]:
    decoder = OpenAIDecoder()
    chunks = [item for event in events if (item := decoder.feed(event)) is not None]
    return decoder, chunks


def test_several_choices_in_one_chunk_are_each_accumulated() -> None:
    decoder, chunks = decode(
        chunk(choice(0, role="assistant", content=""), choice(1, role="assistant", content="")),
        chunk(choice(1, content="Pie"), choice(0, content="Tart")),
        chunk(choice(0, content="."), choice(1, finish_reason="length")),
        chunk(choice(0, finish_reason="stop")),
        DONE,
    )
    decoder.finish()
    response = decoder.response()
    assert [(c.index, c.text, c.finish_reason) for c in response.choices] == [
        (0, "Tart.", "stop"),
        (1, "Pie", "length"),
    ]
    # A chunk's own fields are those of choice 0 when it is there (even listed second),
    # else of its first choice.
    assert [(c.choice_index, c.content, c.finish_reason) for c in chunks] == [
        (0, "", None),
        (0, "Tart", None),
        (0, ".", None),
        (0, "", "stop"),
    ]


def test_tool_call_pieces_of_several_choices_in_one_chunk_stay_with_their_choice() -> None:
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "now", "arguments": "{}"}}
    decoder, chunks = decode(
        chunk(choice(0, tool_calls=[call]), choice(1, content="No tools.")),
        chunk(choice(0, finish_reason="tool_calls"), choice(1, finish_reason="stop")),
        DONE,
    )
    decoder.finish()
    first, second = decoder.response().choices
    assert [(c.id, c.name, c.arguments) for c in first.tool_calls] == [("call_1", "now", {})]
    assert second.tool_calls == () and second.text == "No tools."
    assert chunks[0].tool_calls == (ToolCallDelta(0, "call_1", "now", "{}"),)


def test_a_delta_with_text_and_more_keeps_everything() -> None:
    decoder, chunks = decode(
        chunk(choice(role="assistant", content="Hel", reasoning_content="Think", refusal=None)),
        chunk(choice(content="lo", refusal="No.")),
        chunk(choice(content="!", finish_reason="stop")),
        DONE,
    )
    decoder.finish()
    response = decoder.response()
    assert (response.text, response.thinking, response.choice.refusal) == ("Hello!", "Think", "No.")
    assert [(c.content, c.thinking, c.finish_reason) for c in chunks] == [
        ("Hel", "Think", None),
        ("lo", "", None),
        ("!", "", "stop"),
    ]


def test_text_chunks_carry_only_their_text() -> None:
    _, chunks = decode(chunk(choice(content="Hi")), chunk(choice(content=None)), chunk(choice()))
    assert [(c.content, c.thinking, c.tool_calls, c.finish_reason) for c in chunks] == [
        ("Hi", "", (), None),
        ("", "", (), None),
        ("", "", (), None),
    ]
    assert chunks[0].model == "gpt-4o-mini-2024-07-18" and chunks[0].id == "chatcmpl-1"


def test_the_usage_chunk_has_no_choice_and_sets_the_usage() -> None:
    counts = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    decoder, chunks = decode(chunk(choice(content="Hi", finish_reason="stop")), chunk(usage=counts), DONE)
    decoder.finish()
    expected = Usage(input_tokens=12, output_tokens=3, total_tokens=15)
    assert chunks[1].usage == decoder.response().usage == expected
    assert (chunks[1].content, chunks[1].choice_index, chunks[1].choices) == ("", 0, [])


def test_done_ends_the_stream_and_later_events_are_ignored() -> None:
    decoder, chunks = decode(chunk(choice(content="Hi")), (None, b"[DONE] "), chunk(choice(content="late")))
    decoder.finish()
    assert decoder.text == "Hi" and len(chunks) == 1


def test_a_stream_without_done_or_finish_reason_is_interrupted() -> None:
    decoder, _ = decode(chunk(choice(content="Hi")))
    with pytest.raises(StreamInterrupted):
        decoder.finish()


def test_json_with_surrounding_whitespace_is_accepted() -> None:
    _, data = chunk(choice(content="Hi"))
    _, chunks = decode((None, b"  " + data + b"\t "))
    assert chunks[0].content == "Hi"


@pytest.mark.parametrize("data", [b'{"id": "chatcmpl-1", "choices": [', b"[1, 2]", b"\xff\xfe", b"DONE"])
def test_data_that_is_not_a_json_object_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedStreamError):
        OpenAIDecoder().feed((None, data))


def test_an_error_object_is_a_typed_error() -> None:
    data = json.dumps({"error": {"message": "The server is overloaded", "type": "server_error"}})
    with pytest.raises(ServerError, match="overloaded"):
        OpenAIDecoder().feed((None, data.encode()))


def test_raw_events_and_named_events_decode_alike() -> None:
    body = transcript("openai/tool_calls_interleaved.sse")
    raw, named = OpenAIDecoder(), OpenAIDecoder()
    for event in iter_events([body]):
        raw_chunk, named_chunk = raw.feed(event), named.feed(ServerSentEvent(*event))
        assert repr(raw_chunk) == repr(named_chunk)
    raw.finish()
    named.finish()
    assert raw.response() == named.response()
    assert raw.response().tool_calls


# --- compatible servers -----------------------------------------------------------------------


def test_content_as_typed_parts_splits_text_and_thinking() -> None:
    thinking_part = {
        "type": "thinking",
        "thinking": [{"type": "text", "text": "Sweet"}, {"type": "text", "text": "?"}],
    }
    decoder, chunks = decode(
        chunk(choice(role="assistant", content=[thinking_part])),
        chunk(choice(content=[{"type": "thinking", "thinking": " Yes."}, {"type": "text", "text": "Pie"}])),
        chunk(
            choice(content=[{"type": "image_url", "image_url": {"url": "x"}}, {"type": "text", "text": "."}])
        ),
        chunk(choice(content=[{"type": "thinking", "thinking": []}], finish_reason="stop")),
        DONE,
    )
    decoder.finish()
    assert [(c.content, c.thinking) for c in chunks] == [
        ("", "Sweet?"),
        ("Pie", " Yes."),
        (".", ""),
        ("", ""),
    ]
    response = decoder.response()
    assert (response.text, response.thinking, response.finish_reason) == ("Pie.", "Sweet? Yes.", "stop")


def test_id_and_model_come_from_the_first_chunk_that_has_them() -> None:
    prompt_filter = {
        "id": "",
        "model": "",
        "object": "",
        "created": 0,
        "choices": [],
        "prompt_filter_results": [],
    }
    decoder, chunks = decode(
        (None, json.dumps(prompt_filter).encode()),
        chunk(choice(content="Hi", finish_reason="stop")),
        DONE,
    )
    decoder.finish()
    assert (decoder.response().id, decoder.response().model) == ("chatcmpl-1", "gpt-4o-mini-2024-07-18")
    assert chunks[0].content == "" and chunks[0].choice is None


@pytest.mark.parametrize(
    ("delta", "thinking"),
    [
        ({"reasoning_content": "A"}, "A"),
        ({"reasoning": "B"}, "B"),
        (
            {
                "reasoning_details": [
                    {"type": "reasoning.text", "text": "C"},
                    {"type": "reasoning.encrypted", "data": "x"},
                ]
            },
            "C",
        ),
        ({"reasoning_details": [{"type": "reasoning.summary", "summary": "D"}]}, "D"),
        # OpenRouter sends the same text twice: once in `reasoning`, once in `reasoning_details`.
        ({"reasoning": "E", "reasoning_details": [{"type": "reasoning.text", "text": "E"}]}, "E"),
        ({"reasoning_content": "", "reasoning": None, "reasoning_details": []}, ""),
    ],
)
def test_reasoning_fields_become_thinking(delta: dict[str, Any], thinking: str) -> None:
    decoder, chunks = decode(chunk(choice(**delta)))
    assert chunks[0].thinking == decoder.response().thinking == thinking


def test_tool_call_pieces_without_index_follow_their_ids() -> None:
    def call(call_id: str | None, arguments: str, name: str | None = None) -> dict[str, Any]:
        return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}

    decoder, chunks = decode(
        chunk(choice(tool_calls=[call("a", '{"city": ', "weather")])),
        chunk(choice(tool_calls=[call(None, '"Paris"}')])),  # no id: continues the last call
        chunk(choice(tool_calls=[call("b", "{}", "time")])),  # a new id: the next call
        chunk(choice(tool_calls=[call("a", "")])),  # a known id: that call
        chunk(choice(finish_reason="tool_calls")),
        DONE,
    )
    decoder.finish()
    assert [(c.id, c.name, c.arguments) for c in decoder.response().tool_calls] == [
        ("a", "weather", {"city": "Paris"}),
        ("b", "time", {}),
    ]
    assert [piece.index for c in chunks for piece in c.tool_calls] == [0, 0, 1, 0]


def test_tool_call_arguments_sent_decoded_are_encoded_again() -> None:
    call = {"index": 0, "id": "c", "function": {"name": "f", "arguments": {"x": 1}}}
    decoder, chunks = decode(chunk(choice(tool_calls=[call], finish_reason="tool_calls")), DONE)
    assert decoder.response().tool_calls[0].arguments == {"x": 1}
    assert chunks[0].tool_calls[0].arguments == '{"x": 1}'


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        # OpenAI: reasoning inside completion_tokens.
        (
            {
                "prompt_tokens": 6,
                "completion_tokens": 212,
                "total_tokens": 218,
                "completion_tokens_details": {"reasoning_tokens": 198},
            },
            (6, 212, 218, 198),
        ),
        # Reasoning outside: the total adds it.
        (
            {
                "prompt_tokens": 5,
                "completion_tokens": 10,
                "total_tokens": 115,
                "completion_tokens_details": {"reasoning_tokens": 100},
            },
            (5, 110, 115, 100),
        ),
        # Reasoning outside: more reasoning than completion (the total left it out as well).
        (
            {
                "prompt_tokens": 43,
                "completion_tokens": 10,
                "total_tokens": 53,
                "completion_tokens_details": {"reasoning_tokens": 11},
            },
            (43, 21, 64, 11),
        ),
        ({"prompt_tokens": 3, "completion_tokens": 2}, (3, 2, 5, None)),
    ],
)
def test_output_tokens_include_reasoning_wherever_it_is_counted(
    usage: dict[str, Any], expected: tuple[int, int, int, int | None]
) -> None:
    _, chunks = decode(chunk(usage=usage))
    counts = chunks[0].usage
    assert counts is not None
    assert (
        counts.input_tokens,
        counts.output_tokens,
        counts.total_tokens,
        counts.reasoning_tokens,
    ) == expected


@pytest.mark.parametrize(
    ("error", "kind", "status"),
    [
        ({"code": 400, "message": "Token limit reached"}, BadRequestError, 400),
        ({"code": "400", "message": "bad"}, BadRequestError, 400),
        ({"code": 429, "message": "slow down"}, RateLimitError, 429),
        ({"code": 503, "message": "busy"}, ServerError, 503),
        ({"code": 401, "message": "who?"}, AuthenticationError, 401),
        ({"status": 502, "message": "gateway"}, ServerError, 502),
        (
            {"type": "invalid_request_error", "code": "context_length_exceeded", "message": "long"},
            BadRequestError,
            None,
        ),
        ({"code": "content_filter", "message": "filtered"}, ContentFilterError, None),
        ("a bare message", ServerError, None),
    ],
)
def test_error_payloads_are_typed_by_their_status_or_type(
    error: Any, kind: type[ProviderError], status: int | None
) -> None:
    with pytest.raises(ProviderError) as raised:
        OpenAIDecoder().feed((None, json.dumps({"error": error}).encode()))
    assert type(raised.value) is kind
    assert raised.value.status_code == status
    assert is_retryable(raised.value) == (kind in (RateLimitError, ServerError))


def test_an_empty_error_object_is_no_error_as_for_the_sdk() -> None:
    _, chunks = decode((None, b'{"error": {}, "choices": [{"index": 0, "delta": {"content": "Hi"}}]}'))
    assert chunks[0].content == "Hi"


# --- malformed chunks ---------------------------------------------------------------------------

MALFORMED = [
    b'{"choices": [5]}',
    b'{"choices": {"index": 0}}',
    b'{"choices": "text"}',
    b'{"choices": [{"delta": []}]}',
    b'{"choices": [{"delta": {"content": 5}}]}',
    b'{"choices": [{"delta": {"content": NaN}}]}',
    b'{"choices": [{"delta": {"content": [5]}}]}',
    b'{"choices": [{"delta": {"content": [{"type": "text", "text": 5}]}}]}',
    b'{"choices": [{"delta": {"content": [{"type": "thinking", "thinking": [7]}]}}]}',
    b'{"choices": [{"delta": {"reasoning_content": ["a"]}}]}',
    b'{"choices": [{"delta": {"reasoning_details": {"text": "a"}}}]}',
    b'{"choices": [{"delta": {"reasoning_details": [{"type": ["x"]}, 3]}}]}',
    b'{"choices": [{"delta": {"refusal": {"a": 1}}}]}',
    b'{"choices": [{"delta": {"tool_calls": {"index": 0}}}]}',
    b'{"choices": [{"delta": {"tool_calls": [[1]]}}]}',
    b'{"choices": [{"delta": {"tool_calls": [{"index": "0"}]}}]}',
    b'{"choices": [{"delta": {"tool_calls": [{"index": 0, "function": "f"}]}}]}',
    b'{"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"name": 1}}]}}]}',
    b'{"choices": [{"delta": {"tool_calls": [{"index": 0, "id": 1}]}}]}',
    b'{"choices": [{"index": "0", "delta": {}}]}',
    b'{"choices": [{"index": 0, "finish_reason": 5}]}',
    b'{"usage": {"prompt_tokens": "5"}}',
    b'{"usage": {"prompt_tokens": 5.5}}',
    b'{"usage": {"completion_tokens_details": [1]}}',
    b'{"usage": [1]}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"choices": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b"NaN",
    b'{"choices": [',
    b"\xff\xfe{",
    b"[1, 2]",
    b"null",
]


@pytest.mark.parametrize("data", MALFORMED, ids=lambda data: repr(data[:60]))
def test_a_chunk_of_the_wrong_shape_is_malformed_and_keeps_what_arrived(data: bytes) -> None:
    decoder, _ = decode(chunk(choice(role="assistant", content="Hello")))
    with pytest.raises(MalformedStreamError):
        decoder.feed((None, data))
    response = decoder.response()
    assert response.text == "Hello" and response.id == "chatcmpl-1"


def feed_from_deep_in_the_stack(decoder: OpenAIDecoder, data: bytes, frames: int) -> None:
    if frames:
        feed_from_deep_in_the_stack(decoder, data, frames - 1)
    else:
        decoder.feed((None, data))


@pytest.mark.parametrize("depth", [900, 960, 990, 1100])
@pytest.mark.parametrize("frames", [0, 50, 200])
def test_nesting_near_the_recursion_limit_is_malformed_from_any_stack_depth(depth: int, frames: int) -> None:
    data = b'{"choices": ' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(MalformedStreamError):
        feed_from_deep_in_the_stack(OpenAIDecoder(), data, frames)


@pytest.mark.parametrize("error", [[[[1]]], 5, {"type": [[["x"]]], "message": ["not text"]}])
def test_an_error_payload_of_any_shape_is_a_typed_error(error: Any) -> None:
    with pytest.raises(ServerError, match="openai reported an error in the stream"):
        OpenAIDecoder().feed((None, json.dumps({"error": error}).encode()))


@pytest.mark.parametrize("depth", [400, 900, 990])
def test_a_deeply_nested_error_payload_is_a_typed_error_from_deep_in_the_stack(depth: int) -> None:
    data = b'{"error": ' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises((ServerError, MalformedStreamError)):  # typed either way, per where the parser stops
        feed_from_deep_in_the_stack(OpenAIDecoder(), data, 100)
