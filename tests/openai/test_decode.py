"""The IO-free `OpenAIDecoder`, fed events directly: the chunk shapes transcripts rarely show."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mirastream import ToolCallDelta, Usage
from mirastream._sse import ServerSentEvent, iter_events
from mirastream.errors import MalformedStreamError, ServerError, StreamInterrupted
from mirastream.openai._decode import OpenAIDecoder
from mirastream.openai.chunk import OpenAIResponseChunk

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
    # A chunk's own fields are those of its first choice.
    assert [(c.choice_index, c.content, c.finish_reason) for c in chunks] == [
        (0, "", None),
        (1, "Pie", None),
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
