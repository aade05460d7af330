"""The IO-free decoder on raw events and on the SDKs' own objects, and sync/async parity."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from google.ai import generativelanguage as glm
from google.genai import types

from mirastream._sse import ServerSentEvent
from mirastream.errors import MalformedStreamError, RateLimitError, StreamInterrupted
from mirastream.gemini._decode import GeminiDecoder, read_event, read_proto, read_sdk_response
from mirastream.gemini._errors import retry_delay
from mirastream.gemini._native import NativeResponses
from mirastream.gemini.chunk import GeminiLegacyResponseChunk, GeminiResponseChunk

from ..loopback import LoopbackServer, Reply
from ..reading import consume
from .test_stream import ALL_TRANSCRIPTS, RecipeRecommender

CONTENT_FILTERS = {
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_RECITATION",
    "MODEL_ARMOR",
}


def expected_finish(name: str) -> str | None:
    if name == "STOP":
        return "stop"
    if name == "MAX_TOKENS":
        return "length"
    return "content_filter" if name in CONTENT_FILTERS else None


def wire_response(finish_reason: str) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "Hi"}]}, "finishReason": finish_reason}
        ]
    }


def sse_decoder() -> GeminiDecoder[GeminiResponseChunk]:
    return GeminiDecoder(GeminiResponseChunk, read_event(NativeResponses(None)))


def feed_json(decoder: GeminiDecoder[GeminiResponseChunk], payload: dict[str, Any]) -> GeminiResponseChunk:
    return decoder.feed(ServerSentEvent(None, json.dumps(payload).encode()))


def feed_sdk_object(
    decoder: GeminiDecoder[GeminiResponseChunk], payload: dict[str, Any]
) -> GeminiResponseChunk:
    return decoder.feed(types.GenerateContentResponse.model_validate(payload))


READERS = {
    "events": (sse_decoder, feed_json),
    "sdk objects": (lambda: GeminiDecoder(GeminiResponseChunk, read_sdk_response), feed_sdk_object),
}


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("reason", [reason.name for reason in types.FinishReason])
def test_every_finish_reason_of_the_sdk_is_normalised_and_kept(reason: str, reader: str) -> None:
    make, feed = READERS[reader]
    decoder = make()
    chunk = feed(decoder, wire_response(reason))
    choice = decoder.response().choice
    assert type(choice.raw_finish_reason) in (str, type(None))
    if reason == "FINISH_REASON_UNSPECIFIED":  # the same as no finish reason at all
        assert choice.raw_finish_reason is None and chunk.finish_reason is None
        with pytest.raises(StreamInterrupted):
            decoder.finish()
        return
    decoder.finish()
    assert choice.raw_finish_reason == reason
    assert choice.finish_reason == chunk.finish_reason == expected_finish(reason)


@pytest.mark.parametrize("reader", list(READERS))
def test_a_thought_signature_is_kept_as_the_wire_s_base64(reader: str) -> None:
    make, feed = READERS[reader]
    decoder = make()
    signature = base64.b64encode(bytes(range(250, 256)) * 3).decode()  # "+" and "/" in standard base64
    part = {"functionCall": {"name": "f", "args": {"x": 1}}, "thoughtSignature": signature}
    chunk = feed(
        decoder, {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP"}]}
    )
    assert chunk.tool_calls[0].arguments == '{"x": 1}'
    assert decoder.response().choice.tool_calls[0].signature == signature


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"{not json", "not JSON"), (b"[1, 2]", "not a JSON object")],
)
def test_an_event_that_is_no_json_object_is_a_malformed_stream(data: bytes, message: str) -> None:
    with pytest.raises(MalformedStreamError, match=message):
        sse_decoder().feed(ServerSentEvent(None, data))


def test_an_error_object_in_the_stream_is_its_typed_error() -> None:
    decoder = sse_decoder()
    feed_json(decoder, {"candidates": [{"content": {"role": "model", "parts": [{"text": "Apple"}]}}]})
    error = {"error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}}
    with pytest.raises(RateLimitError, match="in the stream") as caught:
        feed_json(decoder, error)
    assert caught.value.status_code == 429 and caught.value.body == error["error"]
    assert decoder.text == "Apple"


@pytest.mark.parametrize("reason", [reason.name for reason in glm.Candidate.FinishReason][1:])
def test_the_legacy_protos_finish_reasons_normalise_the_same_way(reason: str) -> None:
    response = glm.GenerateContentResponse(
        candidates=[{"content": {"parts": [{"text": "Hi"}]}, "finish_reason": reason}]
    )
    decoder = GeminiDecoder(GeminiLegacyResponseChunk, read_proto)
    chunk = decoder.feed(response)
    decoder.finish()
    assert decoder.response().choice.raw_finish_reason == reason
    assert chunk.finish_reason == expected_finish(reason)
    assert chunk.content == "Hi" and decoder.text == "Hi"


def test_unset_proto_fields_read_as_absent() -> None:
    decoder = GeminiDecoder(GeminiLegacyResponseChunk, read_proto)
    chunk = decoder.feed(glm.GenerateContentResponse())
    assert chunk.choices == []
    assert (chunk.choice, chunk.delta, chunk.usage, chunk.model) == (None, None, None, None)
    assert decoder.response().usage is None
    with pytest.raises(StreamInterrupted):
        decoder.finish()


@pytest.mark.parametrize(
    ("body", "seconds"),
    [
        ({"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]}, 7),
        ({"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "10.68s"}]}, 10.68),
        ({"details": [{"@type": "type.googleapis.com/google.rpc.Help", "links": []}]}, None),
        ({"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "soon"}]}, None),
        ({"message": "no details"}, None),
        ("not an object", None),
    ],
)
def test_retry_delay_is_read_from_retry_info(body: Any, seconds: float | None) -> None:
    assert retry_delay(body) == seconds


def _summary(chunks: list[Any]) -> list[tuple[Any, ...]]:
    fields = ("content", "thinking", "tool_calls", "finish_reason", "usage", "choice_index")
    return [tuple(getattr(chunk, field) for field in fields) for chunk in chunks]


@pytest.mark.parametrize("name", [*ALL_TRANSCRIPTS, "error_event"])
def test_sync_and_async_give_the_same_chunks_and_response(server: LoopbackServer, name: str) -> None:
    results = []
    for mode in ("sync", "async"):
        server.queue(Reply.sse(f"gemini/{name}.sse"))
        chunks, response, error = consume(RecipeRecommender(ingredient="apples"), mode)
        results.append(
            (
                _summary(chunks),
                response.model_copy(update={"time_to_first_chunk": None, "duration": None}),
                type(error),
                str(error),
            )
        )
    assert results[0] == results[1]
