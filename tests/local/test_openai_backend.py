"""End to end on the local model, OpenAI backend: the quickstart and a code-interpreter round trip."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest
from openai.types.chat import ChatCompletionChunk

from mirastream.events import CodeEvent, ConfirmationEvent, ConsoleEvent, Event
from mirastream.local import LocalPrompt, LocalServer
from mirastream.openai import OpenAICallParams, OpenAIResponseChunk
from mirastream.tools import CodeInterpreter, Limits

pytestmark = pytest.mark.usefixtures("local_server")


class RecipeRecommender(LocalPrompt):
    prompt_template = """
    SYSTEM: You are a chef who answers briefly.
    USER: Recommend a recipe that uses {ingredient} as an ingredient.
    """
    ingredient: str
    call_params = OpenAICallParams(model="local", temperature=0, seed=11, max_tokens=24)


def test_quickstart_streams_text_usage_and_a_finish_reason(local_server: LocalServer) -> None:
    stream = RecipeRecommender(ingredient="apples").stream()
    chunks = list(stream)

    assert all(isinstance(chunk, OpenAIResponseChunk) for chunk in chunks)
    assert all(isinstance(chunk.chunk, ChatCompletionChunk) for chunk in chunks)
    text = "".join(chunk.content for chunk in chunks)
    response = stream.response
    assert text.strip() and response.text == text
    assert response.finish_reason in ("stop", "length")
    assert response.usage is not None
    assert response.usage.input_tokens > 10 and 0 < response.usage.output_tokens <= 24
    assert response.model == local_server.alias
    assert response.time_to_first_chunk is not None and response.time_to_first_chunk < 30


def test_quickstart_streams_async_and_stops_at_max_tokens() -> None:
    async def run() -> tuple[str, object, object]:
        async with RecipeRecommender(ingredient="pears").stream_async(max_tokens=4) as stream:
            text = "".join([chunk.content async for chunk in stream])
        usage = stream.response.usage
        return text, stream.response.finish_reason, usage.output_tokens if usage else None

    text, finish_reason, output_tokens = asyncio.run(run())
    assert text.strip()
    assert finish_reason == "length"
    assert output_tokens == 4


def test_the_server_listens_on_loopback_and_wants_its_key(local_server: LocalServer) -> None:
    assert urlsplit(local_server.url).hostname == "127.0.0.1"
    assert local_server.api_key and len(local_server.api_key) >= 24
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(f"{local_server.openai_base_url}/models", timeout=10)
    refused.value.close()
    assert refused.value.code == 401
    request = urllib.request.Request(
        f"{local_server.openai_base_url}/models", headers={"Authorization": f"Bearer {local_server.api_key}"}
    )
    with opener.open(request, timeout=10) as answer:
        assert local_server.alias in answer.read().decode()
    preflight = urllib.request.Request(
        f"{local_server.openai_base_url}/chat/completions",
        method="OPTIONS",
        headers={"Origin": "http://page.example", "Access-Control-Request-Method": "POST"},
    )
    with opener.open(preflight, timeout=10) as answer:
        assert answer.headers.get("Access-Control-Allow-Origin", "") in ("", "null")


def test_code_interpreter_round_trip() -> None:
    interpreter = CodeInterpreter(confirm="auto", limits=Limits(timeout=30))

    class Calculator(LocalPrompt):
        prompt_template = "USER: What is 34/24? Compute it."
        call_params = OpenAICallParams(
            model="local", tools=[interpreter], temperature=0, seed=7, max_tokens=120
        )

    try:
        stream = Calculator().stream()
        items = list(stream)
    finally:
        interpreter.close()

    # The model's call arrived as native tool-call deltas, not as JSON in its text.
    deltas = [delta for item in items if not isinstance(item, Event) for delta in item.tool_calls]
    assert deltas and deltas[0].name == "execute"
    code = "".join(item.content for item in items if isinstance(item, CodeEvent))
    assert "34" in code and "24" in code
    confirmations = [item for item in items if isinstance(item, ConfirmationEvent)]
    assert len(confirmations) == 1 and confirmations[0].decision is True
    assert confirmations[0].language == "python"
    output = "".join(item.content for item in items if isinstance(item, ConsoleEvent))
    assert "1.41666" in output  # computed by the kernel, not written by the model

    response = stream.response
    first, last = response.steps[0], response.steps[-1]
    assert first.response.finish_reason == "tool_calls"
    assert first.response.tool_calls[0].name == "execute"
    assert (first.response.tool_calls[0].arguments or {}).get("language") == "python"
    assert "1.41666" in first.results[0].output and not first.results[0].is_error
    assert len(response.steps) == 2 and not last.results
    assert response.finish_reason == "stop"
    assert response.text.strip() and "```json" not in response.text
    assert response.usage is not None and response.usage.output_tokens > 0
