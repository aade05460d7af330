"""The legacy client agrees with `GeminiPrompt` on the same streams, and what a client of your own loses.

Every Gemini transcript is served to both clients over loopback (to the legacy REST
transport as the JSON array it reads, whole, in 7-byte writes and with CRLF between
elements), and both must give the same chunks and response: text, thinking, tool calls,
finish reasons, usage, id, model, and the same typed error with the same partial answer.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.ai import generativelanguage as glm

from mirastream import Response
from mirastream.errors import ServerError
from mirastream.gemini import GeminiCallParams, GeminiLegacyPrompt, GeminiPrompt

from ..loopback import LoopbackServer, Reply, transcript
from ..reading import consume
from .conftest import API_KEY
from .wire import _enum_numbers, _numbered

MODES = ["sync", "async"]
TRANSCRIPTS = [
    "text",
    "thinking",
    "tool_calls",
    "tool_calls_no_ids",
    "safety",
    "length",
    "two_candidates",
    "cut_off",
    "error_event",
    "blocked",
]
TEMPLATE = "USER: Recommend recipes that use apples as an ingredient"
PARAMS = GeminiCallParams(model="gemini-2.5-flash")


class Native(GeminiPrompt):
    prompt_template = TEMPLATE
    call_params = PARAMS


class Legacy(GeminiLegacyPrompt):
    prompt_template = TEMPLATE
    call_params = PARAMS


def crlf_array(name: str, piece_size: int | None) -> Reply:
    """A Gemini transcript as the legacy transport's JSON array, elements separated by `,\\r\\n`."""
    numbers = _enum_numbers()
    events = transcript(f"gemini/{name}.sse").decode().replace("\r\n", "\n").split("\n\n")
    payloads = [json.loads(event[len("data: ") :]) for event in events if event.startswith("data: ")]
    elements = ",\r\n".join(json.dumps(_numbered(payload, numbers)) for payload in payloads)
    closing = "" if name == "cut_off" else "\r\n]"
    return Reply(
        f"[{elements}{closing}".encode(), content_type="application/json", chunked=True, piece_size=piece_size
    )


def summary(chunks: list[Any], response: Response, error: Exception | None) -> dict[str, Any]:
    """What must agree between the clients."""
    partial = getattr(error, "response", None)
    return {
        "chunks": [
            (
                chunk.content,
                chunk.thinking,
                chunk.tool_calls,
                chunk.finish_reason,
                chunk.usage,
                chunk.choice_index,
            )
            for chunk in chunks
        ],
        "choices": [
            (c.index, c.text, c.thinking, c.tool_calls, c.finish_reason, c.raw_finish_reason)
            for c in response.choices
        ],
        "usage": response.usage,
        "id": response.id,
        "model": response.model,
        "error": None if error is None else (type(error), getattr(error, "status_code", None)),
        "partial": None if partial is None else (partial.text, partial.interrupted),
    }


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", TRANSCRIPTS)
def test_the_legacy_client_agrees_with_google_genai(server: LoopbackServer, name: str, mode: str) -> None:
    server.queue(Reply.sse(f"gemini/{name}.sse"))
    expected = summary(*consume(Native(), mode, retries=0))
    assert "alt=sse" in server.last_request.path

    for reply in (
        Reply.sse(f"gemini/{name}.sse"),
        Reply.sse(f"gemini/{name}.sse", piece_size=7),
        crlf_array(name, piece_size=None),
        crlf_array(name, piece_size=7),
    ):
        server.queue(reply)
        assert summary(*consume(Legacy(), mode, retries=0)) == expected
        assert "enum-encoding" in server.last_request.path


def own_client(server: LoopbackServer) -> glm.GenerativeServiceClient:
    return glm.GenerativeServiceClient(
        transport="rest", client_options={"api_key": API_KEY, "api_endpoint": server.url}
    )


@pytest.mark.parametrize("mode", MODES)
def test_with_a_client_of_your_own_usage_still_counts_thinking(server: LoopbackServer, mode: str) -> None:
    """Its protos drop `thought` and `thoughtsTokenCount`: thoughts read as text, their tokens are derived."""
    client = own_client(server)

    class Mine(Legacy):
        pass

    Mine.client = client
    try:
        server.queue(Reply.sse("gemini/thinking.sse"))
        _, response, error = consume(Mine(), mode)
        assert error is None
        assert response.text == "Apples are sweet.Apple pie." and response.thinking == ""
        assert response.id is None  # the legacy GenerateContentResponse has no responseId
        assert response.usage is not None and response.usage.reasoning_tokens == 4
        assert (response.usage.output_tokens, response.usage.total_tokens) == (7, 22)

        # An error inside the stream reaches mirastream as an empty response: a ServerError, code lost.
        server.queue(Reply.sse("gemini/error_event.sse"))
        _, _, error = consume(Mine(), mode)
        assert isinstance(error, ServerError) and error.status_code is None
        assert error.response is not None and error.response.text == "Apple crumble"
    finally:
        client.transport.close()


@pytest.mark.parametrize("mode", MODES)
def test_with_a_client_of_your_own_integer_arguments_follow_the_schema(
    server: LoopbackServer, mode: str
) -> None:
    client = own_client(server)
    declared = {
        "function_declarations": [
            {
                "name": "scale",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "factor": {"type": "integer"},
                        "ratio": {"type": "number"},
                        "sizes": {"type": "array", "items": {"type": "integer"}},
                    },
                },
            }
        ]
    }

    class Mine(Legacy):
        call_params = GeminiCallParams(model="gemini-2.5-flash", tools=[declared])

    Mine.client = client
    body = (
        b'[{"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "scale", '
        b'"args": {"factor": 3, "ratio": 2, "sizes": [1, 2.5], "other": 4}}}]}, "finishReason": 1}]}]'
    )
    try:
        server.queue(Reply(body, content_type="application/json", chunked=True))
        _, response, error = consume(Mine(), mode)
        assert error is None
        # Struct made every number a float; the schema's integers are ints again, the rest stay floats.
        assert response.tool_calls[0].arguments == {
            "factor": 3,
            "ratio": 2.0,
            "sizes": [1, 2.5],
            "other": 4.0,
        }
        arguments = response.tool_calls[0].arguments
        assert arguments is not None
        assert [type(arguments["factor"]), type(arguments["ratio"]), type(arguments["sizes"][0])] == [
            int,
            float,
            int,
        ]
        assert type(arguments["other"]) is float
    finally:
        client.transport.close()
