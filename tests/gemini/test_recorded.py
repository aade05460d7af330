"""Streams recorded from the live Gemini API and Vertex AI: mirastream agrees with `google-genai`.

Each recording (tests/transcripts/recorded, provenance in its README) is replayed through
the real SDK over the loopback server, as recorded, in 7-byte writes, with LF instead of
CRLF line ends and without the blank line that ends its last event; mirastream's chunks and
response must say what `generate_content_stream` yields for the same bytes. Vertex AI's
streamed function-call arguments (`partialArgs`) become one call per function call.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from google import genai
from google.genai import types

from mirastream import Response
from mirastream.gemini import GeminiCallParams, GeminiPrompt
from mirastream.testing import Reply

from ..loopback import TRANSCRIPTS, LoopbackServer
from ..reading import MODES, consume
from .conftest import API_KEY

RECORDINGS = [
    "gemini_text.sse",
    "gemini_reasoning.sse",
    "gemini_tool_call.sse",
    "gemini_vertex_streamed_args.sse",
    "gemini_vertex_streamed_args_nested.sse",
    "gemini_vertex_streamed_args_no_terminal.sse",
]
VARIANTS = ["as_recorded", "7_byte_writes", "lf", "no_final_blank_line"]

# What the streamed arguments of the Vertex AI recordings add up to (read off the recordings).
STREAMED_ARGUMENTS: dict[str, list[dict[str, Any]]] = {
    "gemini_vertex_streamed_args.sse": [{"location": "Boston"}, {"location": "San Francisco"}],
    "gemini_vertex_streamed_args_no_terminal.sse": [
        {
            "operations": [
                {"action": "add", "description": "Fresh red apple", "itemid": "apple_001", "price": 0.5},
                {"action": "add", "description": "Ripe yellow banana", "itemid": "banana_001", "price": 0.3},
            ]
        }
    ],
}


class Question(GeminiPrompt):
    prompt_template = "USER: {question}"
    question: str
    call_params = GeminiCallParams(model="gemini-3-pro-preview")


def reply(name: str, variant: str) -> Reply:
    body = (TRANSCRIPTS / "recorded" / name).read_bytes()
    if variant == "7_byte_writes":
        return Reply.transcript(body, piece_size=7)
    if variant == "lf":
        return Reply.transcript(body.replace(b"\r\n", b"\n"))
    if variant == "no_final_blank_line":
        return Reply.transcript(body.rstrip(b"\r\n"))
    return Reply.transcript(body)


def sdk_chunks(server: LoopbackServer, name: str, variant: str) -> list[types.GenerateContentResponse]:
    """What `google-genai` yields for the same bytes."""
    server.queue(reply(name, variant))
    with genai.Client(api_key=API_KEY, http_options=types.HttpOptions(base_url=server.url)) as client:
        return list(client.models.generate_content_stream(model="gemini-3-pro-preview", contents="Hi"))


def expected(chunks: list[types.GenerateContentResponse]) -> dict[str, Any]:
    parts = [
        part
        for chunk in chunks
        for candidate in chunk.candidates or ()
        if candidate.content is not None
        for part in candidate.content.parts or ()
    ]
    finish = [
        candidate.finish_reason
        for chunk in chunks
        for candidate in chunk.candidates or ()
        if candidate.finish_reason
    ]
    usage = chunks[-1].usage_metadata
    assert usage is not None
    return {
        "id": chunks[0].response_id,
        "model": chunks[0].model_version,
        "text": "".join(part.text for part in parts if part.text and not part.thought),
        "thinking": "".join(part.text for part in parts if part.text and part.thought),
        "call_names": [
            part.function_call.name for part in parts if part.function_call and part.function_call.name
        ],
        "raw_finish_reason": finish[-1].value if finish else None,
        "input_tokens": usage.prompt_token_count,
        "output_tokens": (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0),
    }


def actual(response: Response) -> dict[str, Any]:
    assert response.usage is not None
    return {
        "id": response.id,
        "model": response.model,
        "text": response.text,
        "thinking": response.thinking,
        "call_names": [call.name for call in response.tool_calls],
        "raw_finish_reason": response.choice.raw_finish_reason,
        "input_tokens": response.usage.input_tokens,
        "output_tokens": response.usage.output_tokens,
    }


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", RECORDINGS)
def test_mirastream_agrees_with_the_sdk(server: LoopbackServer, name: str, variant: str, mode: str) -> None:
    sdk = sdk_chunks(server, name, variant)
    reference = expected(sdk)
    server.queue(reply(name, variant))
    chunks, response, error = consume(Question(question="Hi"), mode)

    assert error is None
    assert actual(response) == reference
    assert len(chunks) == len(sdk)
    assert "".join(chunk.content for chunk in chunks) == reference["text"]
    assert "".join(chunk.thinking for chunk in chunks) == reference["thinking"]
    streamed: dict[int, str] = {}
    for chunk in chunks:
        for piece in chunk.tool_calls:
            streamed[piece.index] = streamed.get(piece.index, "") + piece.arguments
    arguments = [call.arguments for call in response.tool_calls]
    assert [json.loads(text) for _, text in sorted(streamed.items())] == arguments
    assert [call.raw_arguments for call in response.tool_calls] == [
        text for _, text in sorted(streamed.items())
    ]
    if name in STREAMED_ARGUMENTS:
        assert arguments == STREAMED_ARGUMENTS[name]
    assert [chunk.finish_reason for chunk in chunks if chunk.finish_reason] == [response.finish_reason]
    server.check()


def test_the_nested_streamed_arguments_become_one_call() -> None:
    body = (TRANSCRIPTS / "recorded" / "gemini_vertex_streamed_args_nested.sse").read_bytes()
    assert body.count(b'"functionCall"') > 60  # one call, sent in over sixty parts


@pytest.mark.parametrize("mode", MODES)
def test_nested_streamed_arguments_are_assembled(server: LoopbackServer, mode: str) -> None:
    server.queue(reply("gemini_vertex_streamed_args_nested.sse", "as_recorded"))
    _, response, error = consume(Question(question="Hi"), mode)
    assert error is None
    (call,) = response.tool_calls
    assert call.name == "cookRecipe" and call.signature is not None
    assert call.arguments is not None
    recipe = call.arguments["recipe"]
    assert recipe["name"] == "Lasagna"
    assert [item["name"] for item in recipe["ingredients"]][:3] == [
        "Lasagna noodles",
        "Ground beef",
        "Ricotta cheese",
    ]
    assert len(recipe["ingredients"]) == 10 and len(recipe["steps"]) == 10
    assert recipe["steps"][1] == "Cook lasagna noodles according to package directions, drain and set aside."
    assert response.finish_reason == "tool_calls"
