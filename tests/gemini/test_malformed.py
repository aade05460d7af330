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
from mirastream.errors import MalformedStreamError, MirastreamError
from mirastream.gemini import GeminiCallParams, GeminiPrompt
from mirastream.gemini._decode import GeminiDecoder, read_event
from mirastream.gemini.chunk import GeminiResponseChunk

from ..loopback import LoopbackServer, Reply, transcript
from ..reading import MODES, consume

VALID = (
    b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Apple"}]}}],'
    b'"modelVersion":"gemini-x","responseId":"r1"}\r\n\r\n'
)

WRONG_SHAPES = [
    b'{"candidates":[5]}',
    b'{"candidates":{"a":1}}',
    b'{"candidates":[{"content":[1]}]}',
    b'{"candidates":[{"content":{"parts":{"text":"x"}}}]}',
    b'{"candidates":[{"content":{"parts":[5]}}]}',
    b'{"candidates":[{"content":{"parts":[{"text":5}]}}]}',
    b'{"candidates":[{"index":"one","content":{"parts":[{"text":"x"}]}}]}',
    b'{"candidates":[{"content":{"parts":[{"functionCall":[1]}]}}]}',
    b'{"candidates":[{"content":{"parts":[{"functionCall":{"name":5}}]}}]}',
    b'{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","partialArgs":[{"jsonPath":"x"}]}}]}}]}',
    b'{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","partialArgs":5}}]}}]}',
    b'{"usageMetadata":{"promptTokenCount":NaN}}',
    b'{"usageMetadata":[1]}',
    b'{"promptFeedback":[1]}',
    b'{"candidates":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b"not json at all",
    b"[1, 2]",
]


class Chef(GeminiPrompt):
    prompt_template = "USER: A dessert?"
    call_params = GeminiCallParams(model="gemini-2.5-flash")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("data", WRONG_SHAPES, ids=range(len(WRONG_SHAPES)))
def test_a_wrong_event_after_valid_ones_is_malformed_with_the_partial_response(
    server: LoopbackServer, data: bytes, mode: str
) -> None:
    server.queue(Reply(VALID + b"data: " + data + b"\r\n\r\n"))
    chunks, response, error = consume(Chef(), mode)
    assert isinstance(error, MalformedStreamError)
    assert error.provider == "gemini"
    assert error.response is not None and error.response.text == "Apple"
    assert error.response.id == "r1" and response.interrupted
    assert "".join(chunk.content for chunk in chunks) == "Apple"


def decoder() -> GeminiDecoder[GeminiResponseChunk]:
    return GeminiDecoder(GeminiResponseChunk, read_event(None))


def feed_all(target: GeminiDecoder[GeminiResponseChunk], body: bytes, sizes: list[int]) -> None:
    sse = SSEDecoder()
    position = 0
    for size in sizes * (len(body) // max(1, sum(sizes)) + 1):
        for item in sse.feed(body[position : position + size]):
            target.feed(item)
        position += size
        if position >= len(body):
            break
    target.finish()


def attempt(
    decoder: GeminiDecoder[GeminiResponseChunk], body: bytes, sizes: list[int]
) -> MirastreamError | None:
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
    "recorded/gemini_vertex_streamed_args.sse",
    "recorded/gemini_vertex_streamed_args_no_terminal.sse",
    "recorded/gemini_reasoning.sse",
    "gemini/two_candidates.sse",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_streams_give_the_answer_or_a_typed_error(data: st.DataObject) -> None:
    body = transcript(data.draw(st.sampled_from(RECORDED))).replace(b"\r\n", b"\n")
    events = [block for block in body.split(b"\n\n") if block.strip()]
    damage = data.draw(st.sampled_from(["none", "wrong_type", "truncate", "garbage"]))
    if damage == "wrong_type":
        position = data.draw(st.integers(0, len(events) - 1))
        mutated = mutate(json.loads(events[position].removeprefix(b"data: ")), data.draw)
        events[position] = b"data: " + json.dumps(mutated).encode()
    elif damage == "garbage":
        position = data.draw(st.integers(0, len(events) - 1))
        events[position] = b"data: " + data.draw(st.binary(max_size=40))
    body = b"".join(event + b"\n\n" for event in events)
    if damage == "truncate":
        body = body[: data.draw(st.integers(0, len(body)))]
    sizes = data.draw(st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=20))
    target = decoder()
    error = attempt(target, body, sizes)
    if error is not None:
        assert damage != "none" and error.provider == "gemini"
    elif damage == "none":
        reference = decoder()
        feed_all(reference, body, [len(body)])
        assert target.response() == reference.response()
    target.response()  # the partial response always builds
