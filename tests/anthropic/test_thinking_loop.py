"""Extended thinking in a tool loop: the signed thinking blocks go back with the tool calls.

The Messages API rejects (HTTP 400) a request whose assistant tool-use turn lacks its thinking
blocks when thinking is on; so does the replay server, as these tests check first.
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from mirastream import Message, ToolCall
from mirastream.anthropic import AnthropicCallParams, AnthropicPrompt
from mirastream.anthropic._encode import encode_messages
from mirastream.messages import ThinkingBlock
from mirastream.testing import Call, Text, Thinking, Turn

from ..loopback import LoopbackServer, Reply, transcript
from ..reading import MODES, consume

SIGNATURE = "EqQBCkYIBxgCKkBsaWdodC1zaWduYXR1cmU="


def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"Sunny in {city}"


class Weather(AnthropicPrompt):
    prompt_template = "USER: Weather in {city}?"
    city: str
    call_params = AnthropicCallParams(
        model="claude-sonnet-4-6",
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
        tools=[get_weather],
    )


THINKING_OFF = AnthropicCallParams(model="claude-sonnet-4-6", max_tokens=4096, tools=[get_weather])


@pytest.mark.parametrize("mode", MODES)
def test_thinking_blocks_go_back_before_the_tool_use(server: LoopbackServer, mode: str) -> None:
    server.queue(
        Turn(
            Thinking("I should look", " it up.", signature=SIGNATURE),
            Call("get_weather", '{"city": "Paris"}'),
        ),
        Turn(Text("Sunny.")),
    )
    _, response, error = consume(Weather(city="Paris"), mode)

    assert error is None and response.text == "Sunny."
    first = response.steps[0].response
    assert first.choice.thinking_blocks == (
        ThinkingBlock(provider="anthropic", thinking="I should look it up.", signature=SIGNATURE),
    )
    assert first.message().thinking_blocks == first.choice.thinking_blocks
    sent = server.requests[1].json()["messages"][1]
    assert sent["role"] == "assistant"
    assert [block["type"] for block in sent["content"]] == ["thinking", "tool_use"]
    assert sent["content"][0] == {
        "type": "thinking",
        "thinking": "I should look it up.",
        "signature": SIGNATURE,
    }
    assert response.messages()[0].thinking_blocks == first.choice.thinking_blocks
    server.check()


def test_redacted_thinking_is_kept_and_sent_back(server: LoopbackServer) -> None:
    server.queue(Reply.transcript(transcript("recorded/anthropic_redacted_thinking.sse")))
    _, response, error = consume(Weather(city="Paris"), "sync")
    assert error is None
    blocks = response.choice.thinking_blocks
    assert [block.type for block in blocks] == ["redacted_thinking", "redacted_thinking"]
    assert all(block.data.startswith("E") and not block.thinking for block in blocks)
    call = ToolCall.from_raw("toolu_1", "get_weather", '{"city": "Paris"}')
    turn = Message(role="assistant", content="Let me check.", tool_calls=(call,), thinking_blocks=blocks)
    _, encoded = encode_messages([turn, Message(role="tool", content="Sunny", tool_call_id="toolu_1")])
    assert [block["type"] for block in encoded[0]["content"]] == [
        "redacted_thinking",
        "redacted_thinking",
        "text",
        "tool_use",
    ]
    assert encoded[0]["content"][0] == {"type": "redacted_thinking", "data": blocks[0].data}


def test_other_providers_thinking_blocks_are_not_sent_to_anthropic() -> None:
    call = ToolCall.from_raw("toolu_1", "get_weather", "{}")
    foreign = ThinkingBlock(provider="gemini", thinking="x", signature="y")
    _, encoded = encode_messages([Message(role="assistant", tool_calls=(call,), thinking_blocks=(foreign,))])
    assert [block["type"] for block in encoded[0]["content"]] == ["tool_use"]


def request_without_thinking_block(server: LoopbackServer, thinking: bool) -> None:
    with anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test-key", max_retries=0) as client:
        extra = {"thinking": {"type": "enabled", "budget_tokens": 2048}} if thinking else {}
        messages: list[Any] = [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny"}],
            },
        ]
        client.messages.create(
            model="claude-sonnet-4-6", max_tokens=4096, messages=messages, extra_body=extra
        )


def test_the_replay_server_rejects_a_tool_turn_without_its_thinking_block(server: LoopbackServer) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        request_without_thinking_block(server, thinking=True)
    assert caught.value.status_code == 400
    body = caught.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "invalid_request_error"
    assert "must start with a thinking block" in body["error"]["message"]
    server.check()  # no reply was queued, and none was needed


def test_without_thinking_the_same_request_is_answered(server: LoopbackServer) -> None:
    server.queue(Turn(Text("Sunny.")))
    request_without_thinking_block(server, thinking=False)
    server.check()


def test_a_thinking_block_without_its_signature_is_rejected(server: LoopbackServer) -> None:
    with (
        anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test-key", max_retries=0) as client,
        pytest.raises(anthropic.BadRequestError, match="signature: Field required"),
    ):
        client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=4096,
            thinking={"type": "enabled", "budget_tokens": 2048},
            messages=[
                {"role": "user", "content": "Hi"},
                {
                    "role": "assistant",
                    "content": [{"type": "thinking", "thinking": "hm", "signature": ""}],
                },
                {"role": "user", "content": "Go on"},
            ],
        )
