"""The tool loop on the legacy client: the real `google-generativeai` REST transport against loopback.

Turn 1 of each transcript calls a tool, turn 2 answers (the same transcripts as the
`google-genai` tool-loop tests, served as the legacy transport's JSON array). The tests
check what the stream yields and what the server received: function declarations in the
legacy `Schema` form, and the tool results as `functionResponse` parts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from google.ai import generativelanguage as glm

from mirastream import ResponseChunk
from mirastream.errors import ConfigurationError
from mirastream.events import ConsoleEvent, Event
from mirastream.gemini import GeminiCallParams, GeminiLegacyPrompt
from mirastream.tools import CodeInterpreter
from mirastream.tools.execution import Limits

from ..loopback import LoopbackServer, Reply, transcript
from ..reading import consume
from .wire import _enum_numbers, _numbered

MODES = ["sync", "async"]


def legacy_array(path: str) -> Reply:
    """The SSE transcript at `path` as the legacy REST transport receives it.

    One JSON array, enums as numbers, `,\r\n` between elements, sent in 7-byte writes.
    """
    numbers = _enum_numbers()
    events = transcript(path).decode().replace("\r\n", "\n").split("\n\n")
    payloads = [json.loads(event[len("data: ") :]) for event in events if event.startswith("data: ")]
    body = "[" + ",\r\n".join(json.dumps(_numbered(payload, numbers)) for payload in payloads) + "]"
    return Reply(body.encode(), content_type="application/json", chunked=True, piece_size=7)


def named_types(value: Any) -> Any:
    """A request body's schemas with their `type` numbers (the transport's `enum-encoding=int`) as names."""
    if isinstance(value, list):
        return [named_types(item) for item in value]
    if isinstance(value, dict):
        return {
            key: glm.Type(item).name if key == "type" and isinstance(item, int) else named_types(item)
            for key, item in value.items()
        }
    return value


def get_weather(
    city: str, unit: Literal["celsius", "fahrenheit"] = "celsius", days: int = 1
) -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: the city's name.
        unit: the temperature unit.
        days: how many days to forecast.
    """
    return {"city": city, "temperature": 21 if unit == "celsius" else 70, "unit": unit, "days": days}


def analyst(tools: list[Any]) -> GeminiLegacyPrompt:
    class Analyst(GeminiLegacyPrompt):
        prompt_template = "USER: {question}"
        question: str
        call_params = GeminiCallParams(model="gemini-2.5-flash", tools=tools)

    return Analyst(question="Weather in Paris?")


def run(prompt: GeminiLegacyPrompt, mode: str) -> tuple[list[Any], Any]:
    items: list[Any] = []
    if mode == "sync":
        with prompt.stream() as stream:
            items.extend(stream)
        return items, stream

    async def consume_all() -> tuple[list[Any], Any]:
        async with prompt.stream_async() as stream:
            async for item in stream:
                items.append(item)
        return items, stream

    return asyncio.run(consume_all())


@pytest.fixture(scope="module")
def interpreter() -> Iterator[CodeInterpreter]:
    code = CodeInterpreter(limits=Limits(timeout=20))
    yield code
    code.close()


@pytest.mark.parametrize("mode", MODES)
def test_function_tool_round_trip(server: LoopbackServer, mode: str) -> None:
    server.queue(legacy_array("tools/gemini_weather.sse"), legacy_array("tools/gemini_weather_final.sse"))
    items, stream = run(analyst([get_weather]), mode)

    deltas = [delta for item in items if isinstance(item, ResponseChunk) for delta in item.tool_calls]
    assert [(delta.id, delta.name) for delta in deltas] == [("call_weather_g", "get_weather")]
    response = stream.response
    assert response.text == "It is 21 C in Paris."
    assert len(response.steps) == 2
    assert response.steps[0].results[0].is_error is False

    first, second = (named_types(request.json()) for request in server.requests)
    assert first["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Current weather for a city.",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {
                            "city": {"type": "STRING", "description": "the city's name."},
                            "unit": {
                                "type": "STRING",
                                "enum": ["celsius", "fahrenheit"],
                                "description": "the temperature unit.",
                            },
                            "days": {"type": "INTEGER", "description": "how many days to forecast."},
                        },
                        "required": ["city"],
                    },
                }
            ]
        }
    ]
    # Turn 2: the model's call (without its signature: the legacy Part has no field for it)
    # and the function's result, matched by id and name.
    assert second["contents"][1:] == [
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {
                        "id": "call_weather_g",
                        "name": "get_weather",
                        "args": {"city": "Paris", "unit": "celsius"},
                    }
                }
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "id": "call_weather_g",
                        "name": "get_weather",
                        "response": {"city": "Paris", "temperature": 21, "unit": "celsius", "days": 1},
                    }
                }
            ],
        },
    ]
    assert second["tools"] == first["tools"]


@pytest.mark.parametrize("mode", MODES)
def test_code_interpreter_round_trip(server: LoopbackServer, mode: str, interpreter: CodeInterpreter) -> None:
    server.queue(Reply.sse("tools/gemini_execute.sse"), Reply.sse("tools/gemini_final.sse"))
    items, stream = run(analyst([interpreter]), mode)

    code = "".join(
        item.content
        for item in items
        if isinstance(item, Event) and item.type == "code" and not (item.start or item.end)
    )
    assert code == 'x = 34 / 24\nprint("ratio:", round(x, 3))\nx'
    output = "".join(item.content for item in items if isinstance(item, ConsoleEvent))
    assert output == "ratio: 1.417\n1.4166666666666667\n"
    assert stream.response.text == "34 / 24 is about 1.417."

    declaration = named_types(server.requests[0].json())["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "execute"
    assert declaration["parameters"]["type"] == "OBJECT"
    assert declaration["parameters"]["properties"]["language"] == {
        "type": "STRING",
        "enum": ["python", "shell"],
        "description": "The language of the code.",
    }
    (result,) = [
        part["functionResponse"]
        for content in server.requests[1].json()["contents"]
        for part in content["parts"]
        if "functionResponse" in part
    ]
    assert result["id"] == "call_exec_g" and result["name"] == "execute"
    assert "ratio: 1.417" in json.dumps(result["response"])


@pytest.mark.parametrize("mode", MODES)
def test_integer_arguments_come_back_as_ints(server: LoopbackServer, mode: str) -> None:
    # `days` is declared an integer: 3.0 (how protobuf's Struct holds every number) becomes 3.
    # `scale` is declared a number and stays as sent; undeclared keys are left alone.
    body = (
        b'[{"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "get_weather", '
        b'"args": {"city": "Paris", "days": 3.0, "extra": 2.0}}}]}, "finishReason": 1}]}]'
    )
    server.queue(Reply(body, content_type="application/json", chunked=True))
    declared = {
        "function_declarations": [
            {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                },
            }
        ]
    }
    _, response, error = consume(analyst([declared]), mode)
    assert error is None
    (call,) = response.tool_calls
    assert call.arguments == {"city": "Paris", "days": 3, "extra": 2.0}
    assert type(call.arguments["days"]) is int
    assert json.loads(call.raw_arguments)["days"] == 3
    # The lowercase JSON schema was sent in the legacy form.
    assert named_types(server.last_request.json())["tools"][0]["functionDeclarations"][0]["parameters"] == {
        "type": "OBJECT",
        "properties": {"city": {"type": "STRING"}, "days": {"type": "INTEGER"}},
    }


def test_a_tool_schema_the_legacy_protos_cannot_express_fails_before_any_request(
    server: LoopbackServer,
) -> None:
    declared = {
        "function_declarations": [
            {
                "name": "pick",
                "parameters": {
                    "type": "object",
                    "properties": {"value": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                },
            }
        ]
    }
    with pytest.raises(ConfigurationError, match=r"pick\.parameters\.value: anyOf with 2 non-null"):
        analyst([declared]).stream()
    with pytest.raises(ConfigurationError, match=r"pick\.parameters\.value"):
        analyst([declared]).stream_async()
    assert server.requests == []
