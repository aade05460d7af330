"""What reaches the wire: system prompt, messages, tool turns and call parameters."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mirastream import Message, ToolCall
from mirastream.anthropic import AnthropicCallParams, AnthropicPrompt
from mirastream.errors import ConfigurationError

from ..loopback import LoopbackServer, Reply


class RecipeRecommender(AnthropicPrompt):
    prompt_template = """
    SYSTEM: You are a chef who answers briefly.
    USER: Recommend recipes that use {ingredient} as an ingredient
    """
    ingredient: str
    call_params = AnthropicCallParams(model="claude-sonnet-4-6", temperature=0.3)


class Chat(AnthropicPrompt):
    prompt_template = """
    SYSTEM: You are terse.
    SYSTEM: Answer in Celsius.
    MESSAGES: {history}
    USER: {question}
    """
    history: list[Message]
    question: str


def test_history_with_tool_calls_is_encoded_for_the_messages_api(server: LoopbackServer) -> None:
    oslo = ToolCall.from_raw("toolu_1", "get_weather", '{"city": "Oslo"}')
    bergen = ToolCall.from_raw("toolu_2", "get_weather", '{"city": "Bergen"}')
    history = [
        Message(role="user", content="Weather in Oslo and Bergen?"),
        Message(role="assistant", content="Checking both.", tool_calls=(oslo, bergen)),
        Message(role="tool", tool_call_id="toolu_1", name="get_weather", content="-3 C"),
        Message(role="tool", tool_call_id="toolu_2", name="get_weather", content="4 C"),
        Message(role="assistant", content="Oslo -3 C, Bergen 4 C."),
    ]
    server.queue(Reply.sse("anthropic/text.sse"))
    Chat(history=history, question="And tomorrow?").stream().collect()
    body = server.last_request.json()
    assert body["system"] == "You are terse.\n\nAnswer in Celsius."
    assert body["messages"] == [
        {"role": "user", "content": "Weather in Oslo and Bergen?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking both."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Bergen"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "-3 C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "4 C"},
            ],
        },
        {"role": "assistant", "content": "Oslo -3 C, Bergen 4 C."},
        {"role": "user", "content": "And tomorrow?"},
    ]


def test_a_streamed_tool_turn_continues_the_conversation(server: LoopbackServer) -> None:
    server.queue(Reply.sse("anthropic/tool_calls.sse"), Reply.sse("anthropic/text.sse"))
    first = Chat(history=[], question="Weather in Paris and Tokyo?").stream().collect()
    history = [
        Message(role="user", content="Weather in Paris and Tokyo?"),
        first.message(),
        *(
            Message(role="tool", tool_call_id=call.id, name=call.name, content="21 C")
            for call in first.tool_calls
        ),
    ]
    Chat(history=history, question="Which is warmer?").stream().collect()
    messages = server.last_request.json()["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": [
            {
                "type": "tool_use",
                "id": "toolu_01Xa91LmQzR2",
                "name": "get_weather",
                "input": {"city": "Paris", "unit": "celsius"},
            },
            {
                "type": "tool_use",
                "id": "toolu_01Bq72NcVw8K",
                "name": "get_weather",
                "input": {"city": "Tøkyo"},
            },
        ],
    }
    assert [block["tool_use_id"] for block in messages[2]["content"]] == [
        "toolu_01Xa91LmQzR2",
        "toolu_01Bq72NcVw8K",
    ]


def test_a_prompt_without_system_sends_no_system_parameter() -> None:
    class Plain(AnthropicPrompt):
        prompt_template = "Say hello"

    kwargs = Plain().request_kwargs()
    assert "system" not in kwargs
    assert kwargs == {
        "model": "claude-sonnet-4-6",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Say hello"}],
        "stream": True,
    }


def test_tool_calls_the_api_cannot_take_are_configuration_errors(server: LoopbackServer) -> None:
    broken = ToolCall.from_raw("toolu_1", "get_weather", '{"city": "Os')
    with pytest.raises(ConfigurationError, match="not a JSON object"):
        Chat(history=[Message(role="assistant", tool_calls=(broken,))], question="?").stream()
    with pytest.raises(ConfigurationError, match="tool_call_id"):
        Chat(history=[Message(role="tool", content="4 C")], question="?").stream()
    assert server.requests == []


def test_parameters_are_overridden_per_call(server: LoopbackServer) -> None:
    server.queue(Reply.sse("anthropic/text.sse"))
    RecipeRecommender(ingredient="apples").stream(
        temperature=0, max_tokens=50, top_k=40, stop_sequences=["\n\n"], metadata={"user_id": "u-42"}
    ).collect()
    body = server.last_request.json()
    assert (body["temperature"], body["max_tokens"], body["top_k"]) == (0, 50, 40)
    assert body["stop_sequences"] == ["\n\n"] and body["metadata"] == {"user_id": "u-42"}
    assert RecipeRecommender.call_params.temperature == 0.3  # the class is unchanged


def test_tools_thinking_and_tool_choice_reach_the_wire(server: LoopbackServer) -> None:
    weather = {
        "name": "get_weather",
        "description": "Current weather in a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "eager_input_streaming": True,
    }
    server.queue(Reply.sse("anthropic/tool_calls.sse"), Reply.sse("anthropic/thinking.sse"))
    RecipeRecommender(ingredient="apples").stream(tools=[weather], tool_choice="any").collect()
    body = server.last_request.json()
    assert body["tools"] == [weather]
    assert body["tool_choice"] == {"type": "any"}

    thinking = {"type": "enabled", "budget_tokens": 2048}
    RecipeRecommender(ingredient="apples").stream(
        thinking=thinking, max_tokens=4096, tool_choice={"type": "auto", "disable_parallel_tool_use": True}
    ).collect()
    body = server.last_request.json()
    assert body["thinking"] == thinking and body["max_tokens"] == 4096
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_extra_body_headers_and_query_reach_the_wire(server: LoopbackServer) -> None:
    server.queue(Reply.sse("anthropic/text.sse"))
    RecipeRecommender(ingredient="apples").stream(
        extra_body={"top_p": 0.5, "container": "ctr_1"},
        extra_headers={"anthropic-beta": "fine-grained-tool-streaming-2025-05-14"},
        extra_query={"trace": "abc"},
        service_tier="standard_only",
    ).collect()
    request = server.last_request
    body = request.json()
    assert body["container"] == "ctr_1" and body["top_p"] == 0.5
    assert body["temperature"] == 0.3  # the sampling parameters and extra_body are merged
    assert body["service_tier"] == "standard_only"
    assert request.headers["anthropic-beta"] == "fine-grained-tool-streaming-2025-05-14"
    assert request.path == "/v1/messages?trace=abc"


def test_unknown_or_invalid_parameters_fail_before_any_request(server: LoopbackServer) -> None:
    prompt = RecipeRecommender(ingredient="apples")
    with pytest.raises(ValidationError, match="temprature"):
        prompt.stream(temprature=0.2)
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        prompt.stream(temperature=1.5)
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        prompt.stream(max_tokens=0)
    with pytest.raises(ValidationError):
        prompt.stream(tool_choice="required")  # OpenAI's word; Anthropic says "any"
    with pytest.raises(ValidationError, match="less than max_tokens"):
        prompt.stream(thinking={"type": "enabled", "budget_tokens": 2048})
    with pytest.raises(ValidationError, match="at least 1024"):
        prompt.stream(thinking={"type": "enabled", "budget_tokens": 100}, max_tokens=4096)
    with pytest.raises(ValidationError, match="budget_tokens"):
        AnthropicCallParams(model="claude-sonnet-4-6", thinking={"type": "enabled"})
    with pytest.raises(ValidationError):
        AnthropicCallParams(model="")
    assert AnthropicCallParams(model="claude-sonnet-4-6", thinking={"type": "adaptive"}).max_tokens == 1024
    assert server.requests == []
