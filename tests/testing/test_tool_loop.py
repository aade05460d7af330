"""A two-turn script drives a function tool through the tool loop, on every provider."""

from __future__ import annotations

import pytest

from mirastream import Message
from mirastream.testing import Call, ReplayServer, Text, Turn

from .helpers import MODES, in_mode, prompt_class

CALLED: list[str] = []


def get_weather(city: str) -> str:
    """The current weather in a city.

    Args:
        city: the city's name.
    """
    CALLED.append(city)
    return f"21 C and sunny in {city}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wire", ["openai", "anthropic", "gemini"])
def test_a_tool_loop_script_runs_the_tool_and_sends_its_result(
    replay: ReplayServer, wire: str, mode: str
) -> None:
    CALLED.clear()
    replay.queue(
        Turn(
            Text("Let me check."), Call("get_weather", ['{"city": ', '"Paris"}'], id="call_w1"), usage=(30, 9)
        ),
        Turn(Text("It is 21 C", " in Paris."), usage=(50, 8)),
    )
    (outcome,) = in_mode(mode, lambda: [prompt_class(wire, tools=[get_weather])(ingredient="x")])

    assert outcome.error is None, outcome.error
    assert CALLED == ["Paris"]
    response = outcome.response
    assert response.text == "It is 21 C in Paris."
    assert len(response.steps) == 2
    assert [call.arguments for call in response.steps[0].response.tool_calls] == [{"city": "Paris"}]
    assert response.steps[0].results[0].output == "21 C and sunny in Paris"
    assert response.usage is not None and (response.usage.input_tokens, response.usage.output_tokens) == (
        80,
        17,
    )
    assert "".join(item.content for item in outcome.chunks) == "Let me check.It is 21 C in Paris."

    first, second = replay.requests
    assert first.tool_names() == second.tool_names() == ["get_weather"]
    *_, assistant, result = second.messages()
    assert assistant.role == "assistant" and assistant.content == "Let me check."
    assert [(call.id, call.name, call.arguments) for call in assistant.tool_calls] == [
        ("call_w1", "get_weather", {"city": "Paris"})
    ]
    assert result == Message(
        role="tool", content="21 C and sunny in Paris", tool_call_id="call_w1", name="get_weather"
    )
    assert len(first.messages()) == len(second.messages()) - 2


def test_a_responder_answers_from_what_the_request_carries(replay: ReplayServer) -> None:
    CALLED.clear()

    def answer(request: object) -> Turn:
        from mirastream.testing import RecordedRequest

        assert isinstance(request, RecordedRequest)
        last = request.messages()[-1]
        return Turn(Text(f"The tool said: {last.content}"))

    replay.queue(Turn(Call("get_weather", {"city": "Oslo"})), answer)
    (outcome,) = in_mode("sync", lambda: [prompt_class("anthropic", tools=[get_weather])(ingredient="x")])
    assert outcome.response.text == "The tool said: 21 C and sunny in Oslo"
