"""End to end on the local model through the Anthropic backend (the server's Messages API)."""

from __future__ import annotations

import pytest
from anthropic.types import RawMessageStartEvent

from mirastream.anthropic import AnthropicCallParams, AnthropicResponseChunk
from mirastream.events import ConsoleEvent
from mirastream.local import LocalAnthropicPrompt, LocalServer
from mirastream.tools import CodeInterpreter, Limits

pytestmark = pytest.mark.usefixtures("local_server")


class Haiku(LocalAnthropicPrompt):
    prompt_template = "SYSTEM: You write haiku.\nUSER: A haiku about {topic}"
    topic: str
    call_params = AnthropicCallParams(model="local", temperature=0, max_tokens=24)


def test_stream_through_the_messages_api(local_server: LocalServer) -> None:
    stream = Haiku(topic="rivers").stream()
    chunks = list(stream)

    assert all(isinstance(chunk, AnthropicResponseChunk) for chunk in chunks)
    events = [chunk.chunk for chunk in chunks if chunk.chunk is not None]
    assert len(events) == len(chunks)  # every chunk wraps the SDK's raw stream event
    kinds = [event.type for event in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert isinstance(events[0], RawMessageStartEvent)
    assert "content_block_delta" in kinds and "message_delta" in kinds
    response = stream.response
    assert response.text.strip()
    assert response.finish_reason in ("stop", "length")
    assert response.usage is not None and response.usage.output_tokens > 0
    assert response.model == local_server.alias


def test_code_interpreter_round_trip_on_the_messages_api() -> None:
    interpreter = CodeInterpreter(confirm="auto", limits=Limits(timeout=30))

    class Calculator(LocalAnthropicPrompt):
        prompt_template = "USER: What is 34/24? Compute it."
        call_params = AnthropicCallParams(model="local", tools=[interpreter], temperature=0, max_tokens=120)

    try:
        stream = Calculator().stream()
        items = list(stream)
    finally:
        interpreter.close()

    response = stream.response
    first = response.steps[0]
    assert first.response.finish_reason == "tool_calls"
    assert first.response.tool_calls[0].name == "execute"
    assert "1.41666" in "".join(item.content for item in items if isinstance(item, ConsoleEvent))
    assert "1.41666" in first.results[0].output
    assert response.finish_reason == "stop" and response.text.strip()
