"""Events of the wrong shape after valid ones: a typed error carrying the partial response.

Never an `AttributeError`, `TypeError`, `KeyError` or `RecursionError`; and, fuzzed with
random splits, wrong types and truncation, either the right answer or a typed error.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mirastream._sse import SSEDecoder
from mirastream.anthropic import AnthropicCallParams, AnthropicPrompt
from mirastream.anthropic._decode import AnthropicDecoder
from mirastream.errors import MalformedStreamError, MirastreamError

from ..loopback import LoopbackServer, Reply, transcript
from ..reading import MODES, consume

VALID = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"claude-x",'
    b'"usage":{"input_tokens":5,"output_tokens":1}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"Apple"}}\n\n'
)

WRONG_SHAPES = [
    b'{"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"x"}}',  # never started
    b'{"type":"content_block_delta","index":[0],"delta":{"type":"text_delta","text":"x"}}',
    b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":5}}',
    b'{"type":"content_block_delta","index":0,"delta":[1,2]}',
    b'{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":7,"name":"f"}}',
    b'{"type":"content_block_start","index":1,"content_block":{"type":"thinking","thinking":["a"]}}',
    b'{"type":"message_delta","delta":{"stop_reason":5}}',
    b'{"type":"message_delta","delta":{},"usage":{"output_tokens":NaN}}',
    b'{"type":"message_delta","delta":{},"usage":[5]}',
    b'{"type":"message_start","message":{"id":["x"]}}',
    b'{"type":"content_block_stop","index":9}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"type":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b"not json at all",
    b"NaN",
]


def event(data: bytes) -> bytes:
    return b"event: content_block_delta\ndata: " + data + b"\n\n"


class Chef(AnthropicPrompt):
    prompt_template = "USER: A dessert?"
    call_params = AnthropicCallParams(model="claude-sonnet-4-6")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("data", WRONG_SHAPES, ids=range(len(WRONG_SHAPES)))
def test_a_wrong_event_after_valid_ones_is_malformed_with_the_partial_response(
    server: LoopbackServer, data: bytes, mode: str
) -> None:
    server.queue(Reply(VALID + event(data)))
    chunks, response, error = consume(Chef(), mode)
    assert isinstance(error, MalformedStreamError)
    assert error.provider == "anthropic"
    assert error.response is not None and error.response.text == "Apple"
    assert error.response.id == "msg_1" and response.interrupted
    assert "".join(chunk.content for chunk in chunks) == "Apple"


def feed_all(decoder: AnthropicDecoder, body: bytes, sizes: list[int]) -> None:
    sse = SSEDecoder()
    position = 0
    for size in sizes * (len(body) // max(1, sum(sizes)) + 1):
        for item in sse.feed(body[position : position + size]):
            decoder.feed(item)
        position += size
        if position >= len(body):
            break
    decoder.finish()


def attempt(decoder: AnthropicDecoder, body: bytes, sizes: list[int]) -> MirastreamError | None:
    """Feed the whole body; the typed error it raised, if any."""
    try:
        feed_all(decoder, body, sizes)
    except MirastreamError as error:
        return error
    return None


def mutate(value: Any, draw: Any) -> Any:
    """`value` with one field somewhere replaced by a value of another type."""
    if isinstance(value, dict) and value:
        key = draw(st.sampled_from(sorted(value)))
        return {**value, key: mutate(value[key], draw)}
    if isinstance(value, list) and value:
        position = draw(st.integers(0, len(value) - 1))
        return [*value[:position], mutate(value[position], draw), *value[position + 1 :]]
    return draw(st.sampled_from([5, -1, 1.5, "text", None, [], {}, [5], {"a": 1}, True, float("nan")]))


RECORDED = [
    "recorded/anthropic_thinking.sse",
    "recorded/anthropic_tool_json.sse",
    "anthropic/tool_calls_with_text.sse",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_streams_give_the_answer_or_a_typed_error(data: st.DataObject) -> None:
    body = transcript(data.draw(st.sampled_from(RECORDED)))
    events = [block for block in body.split(b"\n\n") if block.strip()]
    damage = data.draw(st.sampled_from(["none", "wrong_type", "truncate", "garbage"]))
    if damage == "wrong_type":
        position = data.draw(st.integers(0, len(events) - 1))
        head, _, payload = events[position].partition(b"data: ")
        mutated = mutate(json.loads(payload), data.draw)
        events[position] = head + b"data: " + json.dumps(mutated).encode()
    elif damage == "garbage":
        position = data.draw(st.integers(0, len(events) - 1))
        events[position] = b"data: " + data.draw(st.binary(max_size=40))
    body = b"".join(event + b"\n\n" for event in events)
    if damage == "truncate":
        body = body[: data.draw(st.integers(0, len(body)))]
    sizes = data.draw(st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=20))
    decoder = AnthropicDecoder()
    error = attempt(decoder, body, sizes)
    if error is not None:
        assert damage != "none" and error.provider == "anthropic"
    elif damage == "none":
        reference = AnthropicDecoder()
        feed_all(reference, body, [len(body)])
        assert decoder.response() == reference.response()
    decoder.response()  # the partial response always builds
