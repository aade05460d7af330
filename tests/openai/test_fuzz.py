"""Hypothesis against the OpenAI decoder: wrong types anywhere, random splits, truncation.

Whatever arrives, the decoder yields chunks whose `content` and `thinking` are strings, or
raises a `MirastreamError`; the response built afterwards keeps what arrived before.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mirastream._sse import iter_events
from mirastream.errors import MalformedStreamError, MirastreamError, ProviderError, StreamInterrupted
from mirastream.openai._decode import OpenAIDecoder

from ..loopback import transcript

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
_FIELDS = [
    "id",
    "model",
    "choices",
    "usage",
    "error",
    "index",
    "delta",
    "finish_reason",
    "content",
    "role",
    "reasoning",
    "reasoning_content",
    "reasoning_details",
    "refusal",
    "tool_calls",
    "function",
    "name",
    "arguments",
    "type",
    "text",
    "thinking",
    "summary",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "completion_tokens_details",
    "reasoning_tokens",
    "prompt_tokens_details",
    "code",
    "message",
]
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_FIELDS), inner, max_size=4),
    max_leaves=12,
)


def _maybe(right: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the right shape, sometimes any JSON value."""
    return st.one_of(right, right, _json)


_part = _maybe(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "thinking", "image_url"]), "text": _maybe(st.text(max_size=4))},
        optional={
            "thinking": _maybe(
                st.lists(
                    _maybe(
                        st.fixed_dictionaries({"type": st.just("text"), "text": _maybe(st.text(max_size=4))})
                    ),
                    max_size=2,
                )
            )
        },
    )
)
_call = _maybe(
    st.fixed_dictionaries(
        {},
        optional={
            "index": _maybe(st.integers(0, 3)),
            "id": _maybe(st.sampled_from(["a", "b"])),
            "function": _maybe(
                st.fixed_dictionaries(
                    {},
                    optional={"name": _maybe(st.text(max_size=3)), "arguments": _maybe(st.text(max_size=6))},
                )
            ),
        },
    )
)
_delta = _maybe(
    st.fixed_dictionaries(
        {},
        optional={
            "content": _maybe(st.one_of(st.text(max_size=6), st.lists(_part, max_size=3))),
            "reasoning_content": _maybe(st.text(max_size=4)),
            "reasoning": _maybe(st.text(max_size=4)),
            "reasoning_details": _maybe(
                st.lists(
                    _maybe(
                        st.fixed_dictionaries(
                            {"type": st.just("reasoning.text"), "text": _maybe(st.text(max_size=4))}
                        )
                    ),
                    max_size=2,
                )
            ),
            "refusal": _maybe(st.text(max_size=4)),
            "tool_calls": _maybe(st.lists(_call, max_size=3)),
        },
    )
)
_choice = _maybe(
    st.fixed_dictionaries(
        {"delta": _delta},
        optional={
            "index": _maybe(st.integers(0, 2)),
            "finish_reason": _maybe(st.sampled_from(["stop", "length", "tool_calls", "odd"])),
        },
    )
)
_usage = _maybe(
    st.fixed_dictionaries(
        {"prompt_tokens": _maybe(st.integers(0, 99)), "completion_tokens": _maybe(st.integers(0, 99))},
        optional={
            "total_tokens": _maybe(st.integers(0, 300)),
            "completion_tokens_details": _maybe(
                st.fixed_dictionaries({"reasoning_tokens": _maybe(st.integers(0, 99))})
            ),
        },
    )
)
_payload = _maybe(
    st.fixed_dictionaries(
        {"choices": _maybe(st.lists(_choice, max_size=3))},
        optional={
            "id": _maybe(st.text(max_size=4)),
            "model": _maybe(st.text(max_size=4)),
            "usage": _usage,
            "error": _json,
        },
    )
)

HELLO = json.dumps(
    {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"content": "Hello"}}]}
).encode()


def _encode(payload: Any) -> bytes:
    return json.dumps(payload, allow_nan=True).encode()


def _first_choice_text(decoder: OpenAIDecoder) -> str:
    return next(choice.text for choice in decoder.response().choices if choice.index == 0)


@settings(max_examples=300, deadline=None)
@given(payloads=st.lists(_payload, min_size=1, max_size=4))
def test_chunks_of_any_shape_decode_or_raise_a_typed_error(payloads: list[Any]) -> None:
    decoder = OpenAIDecoder()
    decoder.feed((None, HELLO))
    error = None
    try:
        for payload in payloads:
            chunk = decoder.feed((None, _encode(payload)))
            if chunk is not None:
                assert type(chunk.content) is str and type(chunk.thinking) is str
                assert all(type(piece.arguments) is str for piece in chunk.tool_calls)
                assert chunk.usage is None or type(chunk.usage.output_tokens) is int
    except MirastreamError as raised:
        error = raised
    assert error is None or isinstance(error, (MalformedStreamError, ProviderError))
    assert _first_choice_text(decoder).startswith("Hello")  # what arrived before stays
    response = decoder.response()
    assert type(response.text) is str and type(response.thinking) is str
    assert all(type(call.name) is str for choice in response.choices for call in choice.tool_calls)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=64) | _json.map(lambda value: json.dumps(value, allow_nan=True).encode()))
def test_any_event_data_decodes_or_raises_a_typed_error(data: bytes) -> None:
    decoder = OpenAIDecoder()
    decoder.feed((None, HELLO))
    try:
        chunk = decoder.feed((None, data))
    except (MalformedStreamError, ProviderError):
        chunk = None
    assert chunk is None or type(chunk.content) is str
    assert _first_choice_text(decoder).startswith("Hello")


_RECORDINGS = [
    "openai_tool_call",
    "mistral_thinking_parts",
    "openrouter_reasoning_details",
    "snowflake_no_id_no_finish",
]


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(_RECORDINGS), cut=st.floats(0, 1), data=st.data(), crlf=st.booleans())
def test_a_recording_cut_and_split_anywhere_gives_a_prefix_or_stream_interrupted(
    name: str, cut: float, data: st.DataObject, crlf: bool
) -> None:
    body = transcript(f"openai/recorded/{name}.sse")
    if crlf:
        body = body.replace(b"\n", b"\r\n")
    whole = OpenAIDecoder()
    for event in iter_events([body]):
        whole.feed(event)
    whole.finish()
    expected = whole.response()

    truncated = body[: math.floor(len(body) * cut)]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(truncated)), max_size=10)))
    pieces = [truncated[start:end] for start, end in itertools.pairwise([0, *cuts, len(truncated)])]
    decoder = OpenAIDecoder()
    for event in iter_events(pieces):
        decoder.feed(event)
    finished = True
    try:
        decoder.finish()
    except StreamInterrupted:
        finished = False
    partial = decoder.response()
    if finished:
        assert partial.text == expected.text  # it finished: the whole answer arrived
    assert expected.text.startswith(partial.text) and expected.thinking.startswith(partial.thinking)
