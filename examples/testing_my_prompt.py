"""Test your own prompt classes offline with mirastream.testing (copy this file to start).

python -m pytest examples/testing_my_prompt.py

Nothing leaves the machine: the real OpenAI SDK talks to a replay server on 127.0.0.1,
which answers with scripted model turns written in OpenAI's own wire format.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from mirastream import Message
from mirastream.errors import RateLimitError, StreamInterrupted
from mirastream.openai import OpenAICallParams, OpenAIPrompt
from mirastream.testing import Call, Disconnect, ErrorReply, ReplayServer, Text, Turn, serve

# --- The code under test: a tool, a prompt class and a function that uses them ---------------


def get_weather(city: str) -> str:
    """The current weather in a city.

    Args:
        city: the city's name, e.g. "Paris".
    """
    return f"21 C and sunny in {city}"


class TravelAgent(OpenAIPrompt):
    prompt_template = """
    SYSTEM: You are a travel agent who answers in one sentence.
    USER: {question}
    """
    question: str
    call_params = OpenAICallParams(model="gpt-4o-mini", tools=[get_weather])


def advise(question: str) -> str:
    """The agent's answer, or an apology when the stream breaks."""
    stream = TravelAgent(question=question).stream(retries=0)
    try:
        return stream.collect().text
    except StreamInterrupted:
        return f"Sorry, the answer was cut off after: {stream.response.text!r}"


# --- The tests --------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    """A replay server that `TravelAgent` talks to for the length of one test."""
    with serve(TravelAgent) as server:
        yield server


def test_the_answer_is_the_models_text(server: ReplayServer) -> None:
    server.queue(Turn(Text("Pack", " an umbrella."), usage=(20, 4)))

    assert advise("Weather in Paris?") == "Pack an umbrella."
    system, user = server.last_request.messages()
    assert system.content == "You are a travel agent who answers in one sentence."
    assert user == Message(role="user", content="Weather in Paris?")


def test_the_tool_result_goes_back_to_the_model(server: ReplayServer) -> None:
    server.queue(
        Turn(Call("get_weather", {"city": "Paris"}, id="call_1")),
        Turn(Text("It is sunny in Paris: no umbrella needed.")),
    )

    assert advise("Weather in Paris?") == "It is sunny in Paris: no umbrella needed."
    first, second = server.requests
    assert first.tool_names() == ["get_weather"]
    assert second.messages()[-1] == Message(
        role="tool", content="21 C and sunny in Paris", tool_call_id="call_1", name="get_weather"
    )


def test_a_broken_stream_keeps_what_arrived(server: ReplayServer) -> None:
    server.queue(Turn(Text("It will", " rain"), Disconnect()))

    assert advise("Weather in Oslo?") == "Sorry, the answer was cut off after: 'It will rain'"


def test_a_rate_limit_is_a_typed_error(server: ReplayServer) -> None:
    server.queue(ErrorReply(429, "Slow down", retry_after=20))

    with pytest.raises(RateLimitError) as caught:
        TravelAgent(question="Weather?").stream(retries=0).collect()
    assert caught.value.retry_after == 20


def test_async_streams_read_the_same_script(server: ReplayServer) -> None:
    server.queue(Turn(Text("Bring", " sunglasses.")))

    async def main() -> list[str]:
        async with TravelAgent(question="Weather in Rome?").stream_async() as stream:
            return [chunk.content async for chunk in stream if chunk.content]

    assert asyncio.run(main()) == ["Bring", " sunglasses."]
