"""End to end on the local model through the Responses API: llama.cpp's server as a real peer.

The same prompt classes and tool loop as on OpenAI, against `POST /v1/responses` of the
local server: text equal to what the raw SDK streams, a function tool and the code
interpreter.
"""

from __future__ import annotations

import openai
import pytest

from mirastream.events import CodeEvent, ConsoleEvent
from mirastream.local import LocalServer
from mirastream.openai import OpenAIResponsesCallParams, OpenAIResponsesPrompt
from mirastream.tools import CodeInterpreter

QUESTION = "Name three fruits, comma separated."


def local_class(server: LocalServer, template: str, **params: object) -> type[OpenAIResponsesPrompt]:
    class Local(OpenAIResponsesPrompt):
        prompt_template = template
        base_url = f"{server.url}/v1"
        api_key = server.api_key
        call_params = OpenAIResponsesCallParams(model=server.alias, temperature=0, **params)  # type: ignore[arg-type]

    return Local


def test_streamed_text_equals_the_raw_sdks(local_server: LocalServer) -> None:
    with openai.OpenAI(base_url=f"{local_server.url}/v1", api_key=local_server.api_key) as client:
        raw = ""
        with client.responses.create(
            model=local_server.alias, input=QUESTION, temperature=0, max_output_tokens=24, stream=True
        ) as events:
            for event in events:
                if event.type == "response.output_text.delta":
                    raw += event.delta
    stream = local_class(local_server, f"USER: {QUESTION}", max_output_tokens=24)().stream()
    text = "".join(chunk.content for chunk in stream)
    assert raw.strip() and text == raw
    response = stream.response
    assert response.text == raw and response.finish_reason in ("stop", "length")
    assert response.usage is not None and 0 < response.usage.output_tokens <= 24


def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"21 C and sunny in {city}"


def test_a_function_tool_round_trip(local_server: LocalServer) -> None:
    template = "SYSTEM: Use the tools to answer.\nUSER: What is the weather in Paris? Use get_weather."
    prompt = local_class(local_server, template, max_output_tokens=200, tools=[get_weather])()
    stream = prompt.stream()
    list(stream)
    first, last = stream.response.steps[0], stream.response.steps[-1]
    (call,) = first.response.tool_calls
    assert call.name == "get_weather" and call.arguments == {"city": "Paris"}
    assert [result.output for result in first.results] == ["21 C and sunny in Paris"]
    assert "21" in last.response.text and not last.response.tool_calls


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_code_interpreter_round_trip(local_server: LocalServer, mode: str) -> None:
    template = (
        "SYSTEM: Never compute in your head: call the execute tool with short Python that prints "
        "the result, then state it.\nUSER: What is 34/24? Compute it."
    )
    interpreter = CodeInterpreter(confirm="auto", languages=("python",))
    try:
        prompt = local_class(local_server, template, max_output_tokens=300, tools=[interpreter])()
        if mode == "sync":
            items = list(prompt.stream())
        else:
            import asyncio

            async def read() -> list[object]:
                async with prompt.stream_async() as stream:
                    return [item async for item in stream]

            items = asyncio.run(read())
    finally:
        interpreter.close()
    code = "".join(item.content for item in items if isinstance(item, CodeEvent))
    output = "".join(item.content for item in items if isinstance(item, ConsoleEvent))
    assert "34" in code and "24" in code
    assert "1.41666" in output
