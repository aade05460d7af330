"""What the Gemini backend sends: messages, tool-call history with signatures, parameters."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from mirastream import Message, ToolCall
from mirastream.errors import ConfigurationError
from mirastream.gemini import GeminiCallParams, GeminiPrompt

from ..loopback import LoopbackServer, Reply
from ..reading import consume

PARIS_SIGNATURE = "CiQBjz1rX2FwcGxlLXNpZ25hdHVyZS0x"

WEATHER_TOOL = {
    "function_declarations": [
        {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {
                "type": "OBJECT",
                "properties": {"city": {"type": "STRING"}, "unit": {"type": "STRING"}},
                "required": ["city"],
            },
        }
    ]
}


class WeatherChat(GeminiPrompt):
    prompt_template = """
    SYSTEM: You are terse.
    USER: {question}
    MESSAGES: {history}
    """
    question: str
    history: list[Message] = Field(default_factory=list)
    call_params = GeminiCallParams(model="gemini-2.5-flash", tools=[WEATHER_TOOL])


MODES = ["sync", "async"]


def sent(server: LoopbackServer, prompt: GeminiPrompt, mode: str = "sync", **overrides: Any) -> Any:
    """The JSON body the SDK sent for `prompt`, streaming in `mode`."""
    server.queue(Reply.sse("gemini/text.sse"))
    _, _, error = consume(prompt, mode, **overrides)
    assert error is None
    return server.last_request.json()


@pytest.mark.parametrize("mode", MODES)
def test_tool_call_signatures_go_back_with_the_calls(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("gemini/tool_calls.sse"))
    _, first, _ = consume(WeatherChat(question="Paris or Tokyo, which is warmer?"), mode)
    assert first.tool_calls[0].signature == PARIS_SIGNATURE

    history = [first.message()]
    for call, result in zip(first.tool_calls, ('{"celsius": 21}', "It is 9 degrees"), strict=True):
        history.append(Message(role="tool", tool_call_id=call.id, content=result))
    body = sent(server, WeatherChat(question="Paris or Tokyo, which is warmer?", history=history), mode)

    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Current weather in a city",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {"city": {"type": "STRING"}, "unit": {"type": "STRING"}},
                        "required": ["city"],
                    },
                }
            ]
        }
    ]
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Paris or Tokyo, which is warmer?"}]},
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {
                        "id": "call_paris",
                        "name": "get_weather",
                        "args": {"city": "Paris", "unit": "celsius"},
                    },
                    "thoughtSignature": PARIS_SIGNATURE,
                },
                {"functionCall": {"id": "call_tokyo", "name": "get_weather", "args": {"city": "Tøkyo"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "id": "call_paris",
                        "name": "get_weather",
                        "response": {"celsius": 21},
                    }
                },
                {
                    "functionResponse": {
                        "id": "call_tokyo",
                        "name": "get_weather",
                        "response": {"output": "It is 9 degrees"},
                    }
                },
            ],
        },
    ]
    assert body["systemInstruction"] == {"parts": [{"text": "You are terse."}]}


@pytest.mark.parametrize("mode", MODES)
def test_history_roles_map_to_user_and_model(server: LoopbackServer, mode: str) -> None:
    history = [
        Message(role="assistant", content="Which city?"),
        Message(role="user", content="Oslo."),
        Message(role="assistant", content="Checking.", tool_calls=(ToolCall.from_raw("c1", "get_time", ""),)),
        Message(role="tool", tool_call_id="c1", content="[9, 30]"),
        Message(role="tool", name="get_weather", content="-3 C"),
        Message(role="system", content="Answer in Norwegian."),
        Message(role="assistant", content="Det er kaldt."),
    ]
    body = sent(server, WeatherChat(question="Weather?", history=history), mode)

    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Weather?"}]},
        {"role": "model", "parts": [{"text": "Which city?"}]},
        {"role": "user", "parts": [{"text": "Oslo."}]},
        {
            "role": "model",
            "parts": [{"text": "Checking."}, {"functionCall": {"id": "c1", "name": "get_time", "args": {}}}],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"id": "c1", "name": "get_time", "response": {"output": [9, 30]}}},
                {"functionResponse": {"name": "get_weather", "response": {"output": "-3 C"}}},
            ],
        },
        {"role": "model", "parts": [{"text": "Det er kaldt."}]},
    ]
    # Gemini has one system instruction: every system message goes there, in order.
    system = [{"text": "You are terse."}, {"text": "Answer in Norwegian."}]
    assert body["systemInstruction"] == {"parts": system}


def test_a_template_without_system_sends_no_system_instruction(server: LoopbackServer) -> None:
    class Plain(GeminiPrompt):
        prompt_template = "Recommend a {dish}"
        dish: str

    body = sent(server, Plain(dish="pie"))
    assert "systemInstruction" not in body
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Recommend a pie"}]}]


class Recipe(BaseModel):
    name: str
    minutes: int


@pytest.mark.parametrize("mode", MODES)
def test_parameters_reach_the_generation_config(server: LoopbackServer, mode: str) -> None:
    body = sent(
        server,
        WeatherChat(question="Weather?"),
        mode,
        temperature=0.2,
        top_p=0.9,
        top_k=40,
        max_output_tokens=256,
        stop_sequences=["END"],
        candidate_count=1,
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        response_mime_type="application/json",
        response_schema=Recipe,
        thinking_config={"thinking_budget": 1024, "include_thoughts": True},
        safety_settings=[{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}],
        tool_config={"function_calling_config": {"mode": "ANY", "allowed_function_names": ["get_weather"]}},
    )
    config = body["generationConfig"]
    assert {key: config[key] for key in config if key not in ("responseSchema", "responseJsonSchema")} == {
        "temperature": 0.2,
        "topP": 0.9,
        "topK": 40,
        "maxOutputTokens": 256,
        "stopSequences": ["END"],
        "candidateCount": 1,
        "seed": 7,
        "presencePenalty": 0.5,
        "frequencyPenalty": -0.5,
        "responseMimeType": "application/json",
        "thinkingConfig": {"thinking_budget": 1024, "include_thoughts": True},
    }
    schema = config.get("responseSchema") or config.get("responseJsonSchema")
    assert schema is not None and set(schema["properties"]) == {"name", "minutes"}
    harassment = {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}
    assert body["safetySettings"] == [harassment]
    assert body["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    }


@pytest.mark.parametrize("mode", MODES)
def test_extra_config_and_http_options_reach_the_wire(server: LoopbackServer, mode: str) -> None:
    body = sent(
        server,
        WeatherChat(question="Weather?"),
        mode,
        extra_config={"response_modalities": ["TEXT"]},
        http_options={"headers": {"x-trace": "abc"}, "api_version": "v1beta"},
    )
    assert body["generationConfig"]["responseModalities"] == ["TEXT"]
    assert server.last_request.headers["x-trace"] == "abc"
    assert server.last_request.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"


def test_request_kwargs_show_what_the_sdk_gets() -> None:
    kwargs = WeatherChat(question="Weather?").request_kwargs(temperature=0.1, timeout=2.5)
    assert kwargs == {
        "model": "gemini-2.5-flash",
        "contents": [{"role": "user", "parts": [{"text": "Weather?"}]}],
        "config": {
            "temperature": 0.1,
            "tools": [WEATHER_TOOL],
            "system_instruction": {"parts": [{"text": "You are terse."}]},
            "http_options": {"timeout": 2500},
            "automatic_function_calling": {"disable": True},
        },
    }


def test_parameters_are_overridden_per_call_only(server: LoopbackServer) -> None:
    body = sent(server, WeatherChat(question="Weather?"), model="gemini-2.5-pro", temperature=0)
    assert server.last_request.path == "/v1/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    assert body["generationConfig"]["temperature"] == 0
    assert WeatherChat.call_params.model == "gemini-2.5-flash"
    assert WeatherChat.call_params.temperature is None


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"temprature": 0.2}, "temprature"),
        ({"temperature": 3}, "less than or equal to 2"),
        ({"top_p": 1.5}, "less than or equal to 1"),
        ({"top_k": 0}, "greater than or equal to 1"),
        ({"candidate_count": 9}, "less than or equal to 8"),
        ({"stop_sequences": ["a", "b", "c", "d", "e", "f"]}, "at most 5"),
        ({"presence_penalty": -2.5}, "greater than or equal to -2"),
        ({"model": ""}, "at least 1 character"),
        ({"timeout": 0}, "greater than 0"),
        ({"extra_config": {"temperature": 1}}, "extra_config sets temperature"),
        ({"extra_config": {"system_instruction": "x"}}, "extra_config sets system_instruction"),
        ({"timeout": 1, "http_options": {"timeout": 5}}, "not both"),
        ({"http_options": {"retry_options": {"attempts": 3}}}, "set the prompt's `retries`"),
        # Checked by the SDK's own models before anything is sent:
        ({"thinking_config": {"thinking_budgett": 10}}, "thinking_budgett"),
        ({"extra_config": {"response_modality": ["TEXT"]}}, "response_modality"),
        ({"safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshhold": "x"}]}, "threshhold"),
    ],
)
def test_invalid_parameters_fail_before_any_request(
    server: LoopbackServer, overrides: dict[str, Any], match: str
) -> None:
    prompt = WeatherChat(question="Weather?")
    with pytest.raises(ValidationError, match=match):
        prompt.stream(**overrides)
    with pytest.raises(ValidationError, match=match):
        prompt.stream_async(**overrides)
    assert server.requests == []


def test_history_that_gemini_cannot_take_fails_before_any_request(server: LoopbackServer) -> None:
    orphan = [Message(role="tool", tool_call_id="nowhere", content="42")]
    with pytest.raises(ConfigurationError, match="needs the tool's `name`"):
        WeatherChat(question="?", history=orphan).stream()

    forged = ToolCall.from_raw("c1", "get_weather", "{}", signature="not base64!")
    with pytest.raises(ConfigurationError, match="not base64"):
        WeatherChat(question="?", history=[Message(role="assistant", tool_calls=(forged,))]).stream()

    broken = ToolCall.from_raw("c2", "get_weather", '{"city": ')
    with pytest.raises(ConfigurationError, match="not a JSON object"):
        WeatherChat(question="?", history=[Message(role="assistant", tool_calls=(broken,))]).stream()
    assert server.requests == []
