"""`.chunk` on the default clients' raw path: equal to what `google-genai` yields for the same bytes.

The default clients read the server-sent events themselves and build the SDK's object
only when `.chunk` is asked for; each test streams the same transcript once through the
SDK's own `generate_content_stream` and once through mirastream, and compares.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from google import genai
from google.genai import types
from pydantic import BaseModel

from mirastream.gemini import GeminiCallParams
from mirastream.testing import Text, Turn

from ..loopback import LoopbackServer, Reply
from ..reading import consume
from .conftest import API_KEY
from .test_stream import ALL_TRANSCRIPTS, MODES, RecipeRecommender


def sdk_stream(
    server: LoopbackServer, kwargs: dict[str, Any], mode: str
) -> list[types.GenerateContentResponse]:
    """What the SDK itself yields for `kwargs` (the server must have the reply queued)."""
    client = genai.Client(api_key=API_KEY, http_options=types.HttpOptions(base_url=server.url))
    if mode == "sync":
        with client:
            return list(client.models.generate_content_stream(**kwargs))

    async def run() -> list[types.GenerateContentResponse]:
        async with client.aio as aio:
            return [item async for item in await aio.models.generate_content_stream(**kwargs)]

    return asyncio.run(run())


def comparable(response: types.GenerateContentResponse) -> dict[str, Any]:
    """Every field but the HTTP headers, whose `date` differs from one request to the next."""
    return response.model_dump(exclude={"sdk_http_response"})


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", [name for name in ALL_TRANSCRIPTS if name != "blocked"])
def test_chunk_equals_the_sdk_s_own_object(server: LoopbackServer, name: str, mode: str) -> None:
    prompt = RecipeRecommender(ingredient="apples")
    server.queue(Reply.sse(f"gemini/{name}.sse"))
    expected = sdk_stream(server, prompt.request_kwargs(), mode)
    sdk_request = server.last_request

    server.queue(Reply.sse(f"gemini/{name}.sse"))
    chunks, _, _ = consume(prompt, mode)
    request = server.last_request

    assert len(chunks) == len(expected) > 0
    for chunk, native in zip(chunks, expected, strict=True):
        assert type(chunk.chunk) is types.GenerateContentResponse
        assert comparable(chunk.chunk) == comparable(native)
        assert chunk.choices == native.candidates
        headers, sdk_headers = chunk.chunk.sdk_http_response.headers, native.sdk_http_response.headers
        assert headers is not None and sdk_headers is not None
        assert headers.keys() == sdk_headers.keys()
        assert {k: v for k, v in headers.items() if k != "date"} == {
            k: v for k, v in sdk_headers.items() if k != "date"
        }
    # mirastream sent the very request the SDK prepares.
    assert (request.method, request.path, request.body) == (
        sdk_request.method,
        sdk_request.path,
        sdk_request.body,
    )
    assert request.headers == sdk_request.headers
    assert "x-server-timeout" not in request.headers  # the idle limit is no deadline for the server


class Dish(BaseModel):
    name: str
    minutes: int


class DishPrompt(RecipeRecommender):
    call_params = GeminiCallParams(
        model="gemini-2.5-flash", response_mime_type="application/json", response_schema=Dish
    )


@pytest.mark.parametrize("mode", MODES)
def test_chunk_is_parsed_with_the_response_schema_as_the_sdk_parses_it(
    server: LoopbackServer, mode: str
) -> None:
    pieces = ('{"name": "Apple pie", "minutes": 50}',)  # the SDK parses each chunk on its own
    prompt = DishPrompt(ingredient="apples")
    server.queue(Turn(Text(*pieces)))
    expected = sdk_stream(server, prompt.request_kwargs(), mode)
    server.queue(Turn(Text(*pieces)))
    chunks, response, error = consume(prompt, mode)

    assert error is None and response.text == "".join(pieces)
    ours = [chunk.chunk.model_copy(update={"response_id": None}) for chunk in chunks]  # scripted ids count up
    assert [comparable(chunk) for chunk in ours] == [
        comparable(native.model_copy(update={"response_id": None})) for native in expected
    ]
    assert chunks[-1].chunk.parsed == Dish(name="Apple pie", minutes=50) == expected[-1].parsed


@pytest.mark.parametrize("mode", MODES)
def test_fields_this_sdk_does_not_know_are_dropped_as_the_sdk_drops_them(
    server: LoopbackServer, mode: str
) -> None:
    candidate = {
        "content": {"role": "model", "parts": [{"text": "Apple pie.", "futurePartField": True}]},
        "finishReason": "STOP",
        "index": 0,
        "futureCandidateField": {"x": 1},
    }
    payload = {"candidates": [candidate], "modelVersion": "gemini-2.5-flash", "futureTopLevel": "y"}
    body = f"data: {json.dumps(payload)}\r\n\r\n".encode()
    prompt = RecipeRecommender(ingredient="apples")
    server.queue(Reply.transcript(body))
    expected = sdk_stream(server, prompt.request_kwargs(), mode)
    server.queue(Reply.transcript(body))
    chunks, response, error = consume(prompt, mode)

    assert error is None and response.text == "Apple pie."
    assert [comparable(chunk.chunk) for chunk in chunks] == [comparable(native) for native in expected]
    assert "future_top_level" not in chunks[0].chunk.model_dump()
