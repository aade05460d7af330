"""Vertex AI's streamed function-call arguments, put back together (the cases recordings lack)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mirastream.errors import MalformedStreamError
from mirastream.gemini._partial_args import ArgumentsWriter, parse_path


def written(*partials: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    writer = ArgumentsWriter()
    text = writer.begin() + "".join(writer.apply(partial) for partial in partials) + writer.end()
    return text, writer.value


def test_paths_of_every_form_are_read() -> None:
    assert parse_path("$.a.b[2]['c d'][\"e\"]") == ("a", "b", 2, "c d", "e")
    for bad in ("a.b", "$", "$[0]", "$.a[x]", "$..a"):
        with pytest.raises(MalformedStreamError):
            parse_path(bad)


def test_leaves_in_document_order_stream_as_valid_json() -> None:
    text, value = written(
        {"jsonPath": "$.city", "stringValue": 'Pa"r', "willContinue": True},
        {"jsonPath": "$.city", "stringValue": "is"},
        {"jsonPath": "$.days[0].hot", "boolValue": True},
        {"jsonPath": "$.days[1].hot", "boolValue": False},
        {"jsonPath": "$.days[1].note", "nullValue": "NULL_VALUE"},
        {"jsonPath": "$.limit", "numberValue": 3},
    )
    assert (
        json.loads(text)
        == value
        == {
            "city": 'Pa"ris',
            "days": [{"hot": True}, {"hot": False, "note": None}],
            "limit": 3,
        }
    )


def test_leaves_out_of_order_still_build_the_object() -> None:
    text, value = written(
        {"jsonPath": "$.a.x", "numberValue": 1},
        {"jsonPath": "$.b", "numberValue": 2},
        {"jsonPath": "$.a.y", "numberValue": 3},
        {"jsonPath": "$.list[2]", "stringValue": "late"},
    )
    assert value == {"a": {"x": 1, "y": 3}, "b": 2, "list": [None, None, "late"]}
    assert json.loads(text) != value  # the decoder then writes the object out whole


def test_contradicting_leaves_are_malformed() -> None:
    with pytest.raises(MalformedStreamError, match="contradict"):
        written({"jsonPath": "$.a", "numberValue": 1}, {"jsonPath": "$.a.b", "numberValue": 2})
    with pytest.raises(MalformedStreamError):
        written({"jsonPath": "$.a", "numberValue": "1"})


def test_a_call_streamed_out_of_order_gets_the_whole_object_as_its_arguments() -> None:
    from mirastream._sse import ServerSentEvent
    from mirastream.gemini._decode import GeminiDecoder, read_event
    from mirastream.gemini.chunk import GeminiResponseChunk

    def event(call: dict[str, Any], finish: bool = False) -> ServerSentEvent:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"functionCall": call}]}}
        if finish:
            candidate["finishReason"] = "STOP"
        return ServerSentEvent(None, json.dumps({"candidates": [candidate]}).encode())

    decoder = GeminiDecoder(GeminiResponseChunk, read_event(None))
    decoder.feed(event({"name": "plan", "willContinue": True}))
    decoder.feed(event({"partialArgs": [{"jsonPath": "$.a.x", "numberValue": 1}], "willContinue": True}))
    decoder.feed(event({"partialArgs": [{"jsonPath": "$.b", "numberValue": 2}], "willContinue": True}))
    decoder.feed(event({"partialArgs": [{"jsonPath": "$.a.y", "numberValue": 3}]}))
    decoder.feed(event({}, finish=True))
    decoder.finish()
    (call,) = decoder.response().tool_calls
    assert call.name == "plan" and call.arguments == {"a": {"x": 1, "y": 3}, "b": 2}
    assert json.loads(call.raw_arguments) == call.arguments
