"""`OpenAIResponsesPrompt`: the Responses API through the real `openai` SDK and the loopback server.

The reconstructed transcripts in `tests/transcripts/openai_responses/` carry every event type
the decoder reads (see the README there); scripted `Turn`s drive the tool loop, rendered by
the replay server as Responses events, and the server checks what the client sends back.
"""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from pydantic import ValidationError

from mirastream import Message, Usage
from mirastream.errors import (
    BadRequestError,
    ConfigurationError,
    MalformedStreamError,
    MirastreamError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)
from mirastream.events import ConsoleEvent, Event
from mirastream.openai import OpenAIResponsesCallParams, OpenAIResponsesChunk, OpenAIResponsesPrompt
from mirastream.testing import Call, Disconnect, ErrorEvent, Text, Thinking, Turn, render, serve
from mirastream.tools import CodeInterpreter
from mirastream.tools.execution import Limits

from ..loopback import LoopbackServer, Reply
from ..reading import MODES, consume


class Chef(OpenAIResponsesPrompt):
    prompt_template = """
    SYSTEM: You are a chef who answers briefly.
    USER: Recommend recipes that use {ingredient} as an ingredient
    """
    ingredient: str
    call_params = OpenAIResponsesCallParams(model="gpt-5-mini")


def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: the city's name.
    """
    return f"21 degrees in {city}"


class WeatherChef(Chef):
    call_params = OpenAIResponsesCallParams(model="gpt-5-mini", tools=[get_weather])


def texts(chunks: list[Any]) -> str:
    return "".join(chunk.content for chunk in chunks if isinstance(chunk, OpenAIResponsesChunk))


# Requests ----------------------------------------------------------------------------------


def test_system_sections_become_instructions_and_the_rest_input_messages() -> None:
    kwargs = Chef(ingredient="apples").request_kwargs(store=False, previous_response_id="resp_1")
    assert kwargs == {
        "model": "gpt-5-mini",
        "store": False,
        "previous_response_id": "resp_1",
        "instructions": "You are a chef who answers briefly.",
        "input": [{"role": "user", "content": "Recommend recipes that use apples as an ingredient"}],
        "stream": True,
    }


def test_function_tools_are_flat_and_not_strict() -> None:
    (tool,) = WeatherChef(ingredient="apples").request_kwargs()["tools"]
    assert tool["type"] == "function" and tool["name"] == "get_weather" and tool["strict"] is False
    assert tool["parameters"]["properties"]["city"]["type"] == "string"
    assert "function" not in tool  # the Chat Completions nesting


def test_conflicting_or_out_of_range_parameters_fail_before_any_request() -> None:
    with pytest.raises(ValidationError, match="previous_response_id or conversation"):
        OpenAIResponsesCallParams(model="gpt-5-mini", previous_response_id="resp_1", conversation="conv_1")
    with pytest.raises(ValidationError):
        Chef(ingredient="apples").stream(max_output_tokens=3)
    with pytest.raises(ValidationError):
        Chef(ingredient="apples").stream(instructions="no such parameter")


def test_a_tool_message_without_its_call_id_is_a_configuration_error() -> None:
    class History(OpenAIResponsesPrompt):
        prompt_template = "MESSAGES: {history}"
        history: list[Message]

    with pytest.raises(ConfigurationError, match="tool_call_id"):
        History(history=[Message(role="tool", content="21")]).request_kwargs()


# Streams of every event type ---------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_usage_counts_cached_and_reasoning_tokens(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("openai_responses/reasoning.sse"))
    chunks, response, error = consume(Chef(ingredient="apples"), mode)
    assert error is None
    assert response.usage == Usage(
        input_tokens=15, output_tokens=7, total_tokens=22, cached_input_tokens=8, reasoning_tokens=3
    )
    assert [chunk.usage for chunk in chunks if chunk.usage] == [response.usage]
    assert (response.thinking, response.text) == ("Apples are sweet.", "Apple pie.")
    assert response.choice.raw_finish_reason == "completed"


def test_reasoning_summary_parts_are_set_apart_by_a_blank_line(server: LoopbackServer) -> None:
    server.queue(Reply.sse("openai_responses/reasoning_two_parts.sse"))
    chunks, response, _ = consume(Chef(ingredient="apples"), "sync")
    expected = "**Choosing a dish**\n\nSomething with apples.\n\n**Answering**\n\nKeep it short."
    assert response.thinking == expected == "".join(chunk.thinking for chunk in chunks)


@pytest.mark.parametrize("mode", MODES)
def test_a_refusal_is_kept_apart_from_the_text(server: LoopbackServer, mode: str) -> None:
    server.queue(Reply.sse("openai_responses/refusal.sse"))
    chunks, response, error = consume(Chef(ingredient="apples"), mode)
    assert error is None
    assert response.refusal == "I'm sorry, I can't help with that."
    assert response.text == "" == texts(chunks)
    assert [chunk.delta for chunk in chunks if chunk.event_type == "response.refusal.delta"] == [
        "I'm sorry,",
        " I can't",
        " help with that.",
    ]


@pytest.mark.parametrize(
    ("name", "finish_reason", "raw"),
    [
        ("length.sse", "length", "max_output_tokens"),
        ("content_filter.sse", "content_filter", "content_filter"),
    ],
)
def test_incomplete_reasons_are_finish_reasons(
    server: LoopbackServer, name: str, finish_reason: str, raw: str
) -> None:
    server.queue(Reply.sse(f"openai_responses/{name}"))
    chunks, response, error = consume(Chef(ingredient="apples"), "sync")
    assert error is None and not response.interrupted
    assert (response.finish_reason, response.choice.raw_finish_reason) == (finish_reason, raw)
    assert chunks[-1].event_type == "response.incomplete" and chunks[-1].finish_reason == finish_reason


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("name", "error_type", "code", "number"),
    [
        ("error_event.sse", ServerError, "server_error", 7),
        ("error_rate_limit.sse", RateLimitError, "rate_limit_exceeded", 8),
        ("failed.sse", ServerError, "server_error", 9),
    ],
)
def test_errors_in_the_stream_are_typed_and_keep_the_partial_response(
    server: LoopbackServer, mode: str, name: str, error_type: type[MirastreamError], code: str, number: int
) -> None:
    server.queue(Reply.sse(f"openai_responses/{name}"))
    chunks, _, error = consume(Chef(ingredient="apples"), mode)
    assert isinstance(error, MirastreamError) and type(error) is error_type, error
    assert code in str(error) and error.provider == "openai"
    assert error.response is not None and error.response.interrupted
    assert error.response.text == "Apple crumble" == texts(chunks)
    assert error.response.id == f"resp_0d1e5c7b2f3a4b5c{number:04d}68f1a2b3c4d5e6f7a8b9c0d1"
    assert len(server.requests) == 1  # text had arrived: never retried


def test_a_failed_response_keeps_its_usage(server: LoopbackServer) -> None:
    server.queue(Reply.sse("openai_responses/failed.sse"))
    _, _, error = consume(Chef(ingredient="apples"), "sync")
    assert isinstance(error, ServerError) and error.response is not None
    assert error.response.usage is not None and error.response.usage.input_tokens == 24


def test_a_policy_failure_before_any_text_is_a_bad_request_and_not_retried(server: LoopbackServer) -> None:
    server.queue(Reply.sse("openai_responses/failed_invalid_prompt.sse"))
    _, _, error = consume(Chef(ingredient="apples"), "sync")
    assert isinstance(error, BadRequestError) and "invalid_prompt" in str(error)
    assert len(server.requests) == 1


def test_malformed_events_are_typed_errors_with_what_came_before(server: LoopbackServer) -> None:
    events = Reply.sse("openai_responses/text.sse").body.split(b"\n\n")
    bad_bodies = [
        b"\n\n".join([*events[:6], b'data: {"type": 7}', *events[6:]]),
        b"\n\n".join([*events[:6], b'data: {"type":"response.output_text.delta","delta":[1]}', *events[6:]]),
        b"\n\n".join(
            [*events[:6], b'data: {"type":"response.function_call_arguments.delta","delta":"{"}', b""]
        ),
        b"\n\n".join(
            [
                *events[:6],
                b'data: {"type":"response.completed","response":{"usage":{"input_tokens":-1}}}',
                b"",
            ]
        ),
    ]
    for body in bad_bodies:
        server.queue(Reply(body))
        _, _, error = consume(Chef(ingredient="apples"), "sync")
        assert isinstance(error, MalformedStreamError), error
        assert error.response is not None and error.response.text == "Try apple"


def test_a_compatible_server_that_sends_whole_items_only_is_read(server: LoopbackServer) -> None:
    """Text on `response.output_text.done` and arguments on the finished item, without deltas."""
    message = {"id": "msg_1", "type": "message", "role": "assistant", "content": []}
    call = {
        "id": "fc_1",
        "type": "function_call",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": "",
    }
    done_call = {**call, "arguments": '{"city": "Paris"}'}
    payloads = [
        {"type": "response.created", "response": {"id": "resp_c", "model": "local", "output": []}},
        {"type": "response.output_item.added", "output_index": 0, "item": message},
        {"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0, "text": "Checking."},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {**message, "content": [{"type": "output_text", "text": "Checking."}]},
        },
        {"type": "response.output_item.added", "output_index": 1, "item": call},
        {"type": "response.output_item.done", "output_index": 1, "item": done_call},
        {"type": "response.completed", "response": {"id": "resp_c", "status": "completed"}},
    ]
    import json

    body = b"".join(b"data: " + json.dumps(payload).encode() + b"\n\n" for payload in payloads)
    server.queue(Reply(body + b"data: [DONE]\n\n"))
    chunks, response, error = consume(Chef(ingredient="apples"), "sync")
    assert error is None
    assert response.text == "Checking." == texts(chunks)
    (tool_call,) = response.tool_calls
    assert (tool_call.id, tool_call.name, tool_call.arguments) == ("call_1", "get_weather", {"city": "Paris"})
    assert response.finish_reason == "tool_calls"


# The chunk surface -------------------------------------------------------------------------


def test_chunk_is_the_sdks_own_event_built_on_first_use(server: LoopbackServer) -> None:
    from openai.types.responses import (
        ResponseCompletedEvent,
        ResponseCreatedEvent,
        ResponseFunctionCallArgumentsDeltaEvent,
        ResponseTextDeltaEvent,
    )

    server.queue(Reply.sse("openai_responses/text.sse"))
    chunks, response, _ = consume(Chef(ingredient="apples"), "sync")
    assert all(chunk._native is None for chunk in chunks)  # nothing built until asked for
    created, text = chunks[0], next(chunk for chunk in chunks if chunk.content)
    assert (
        isinstance(created.chunk, ResponseCreatedEvent) and created.choices == [] and created.choice is None
    )
    assert isinstance(text.chunk, ResponseTextDeltaEvent) and text.chunk.delta == "Try" == text.delta
    assert text.choice is text.chunk and text.chunk is text.chunk  # built once
    assert isinstance(chunks[-1].chunk, ResponseCompletedEvent)
    assert chunks[-1].chunk.response.usage is not None and chunks[-1].chunk.response.usage.total_tokens == 34
    assert {chunk.id for chunk in chunks} == {response.id} and text.model == "gpt-5-mini-2025-08-07"

    server.queue(Reply.sse("openai_responses/tool_calls.sse"))
    chunks, _, _ = consume(Chef(ingredient="apples"), "sync")
    pieces = [
        (piece.index, piece.id, piece.name, piece.arguments) for chunk in chunks for piece in chunk.tool_calls
    ]
    assert pieces[0] == (0, "call_Wq3vXk9bLm2P", "get_weather", "")
    assert all(piece[1:3] == ("call_Wq3vXk9bLm2P", "get_weather") for piece in pieces if piece[0] == 0)
    assert "".join(piece[3] for piece in pieces if piece[0] == 1) == '{"city": "Tøkyo"}'
    delta = next(chunk for chunk in chunks if chunk.event_type == "response.function_call_arguments.delta")
    assert isinstance(delta.chunk, ResponseFunctionCallArgumentsDeltaEvent)


# The tool loop -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_the_tool_loop_sends_results_as_function_call_outputs(server: LoopbackServer, mode: str) -> None:
    server.queue(
        Turn(
            Thinking("Need the weather."),
            Call("get_weather", {"city": "Paris"}, id="call_paris"),
            usage=(30, 12),
        ),
        Turn(Text("It is ", "21 degrees."), usage=(50, 6)),
    )
    chunks, response, error = consume(WeatherChef(ingredient="apples"), mode)
    assert error is None
    assert response.text == "It is 21 degrees." == texts(chunks) and len(response.steps) == 2
    assert response.usage is not None and response.usage.total_tokens == 98
    second = server.requests[1].json()
    assert second["instructions"] == "You are a chef who answers briefly."
    assert second["input"][1:] == [
        {
            "type": "function_call",
            "call_id": "call_paris",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
        },
        {"type": "function_call_output", "call_id": "call_paris", "output": "21 degrees in Paris"},
    ]
    assert server.requests[1].messages()[-1] == Message(
        role="tool", content="21 degrees in Paris", tool_call_id="call_paris", name="get_weather"
    )


def test_previous_response_id_and_store_reach_every_request_of_the_loop(server: LoopbackServer) -> None:
    server.queue(Turn(Call("get_weather", {"city": "Oslo"})), Turn(Text("Cold.")))
    stream = WeatherChef(ingredient="apples").stream(previous_response_id="resp_earlier", store=True)
    assert stream.collect().text == "Cold."
    for request in server.requests:
        body = request.json()
        assert (body["previous_response_id"], body["store"]) == ("resp_earlier", True)
    assert [item.get("type") for item in server.requests[1].json()["input"]] == [
        None,
        "function_call",
        "function_call_output",
    ]


def test_the_local_code_interpreter_runs_in_the_loop(server: LoopbackServer) -> None:
    code = 'print("ratio:", round(34 / 24, 3))'
    server.queue(
        Turn(Call("execute", {"language": "python", "code": code})),
        Turn(Text("About 1.417.")),
    )
    interpreter = CodeInterpreter(confirm="auto", limits=Limits(timeout=20))

    class Analyst(OpenAIResponsesPrompt):
        prompt_template = "USER: What is 34/24?"
        call_params = OpenAIResponsesCallParams(model="gpt-5-mini", tools=[interpreter])

    async def run() -> tuple[list[Any], Any]:
        async with Analyst().stream_async() as stream:
            return [item async for item in stream], stream.response

    try:
        items, response = asyncio.run(run())
    finally:
        interpreter.close()
    output = "".join(item.content for item in items if isinstance(item, ConsoleEvent))
    assert output == "ratio: 1.417\n"
    written = "".join(
        item.content
        for item in items
        if isinstance(item, Event) and item.type == "code" and not (item.start or item.end)
    )
    assert written == code
    (result,) = [
        item for item in server.requests[1].json()["input"] if item.get("type") == "function_call_output"
    ]
    assert "ratio: 1.417" in result["output"] and response.text == "About 1.417."


# The replay server's Responses side --------------------------------------------------------


def test_the_replay_server_refuses_outputs_that_answer_no_call(server: LoopbackServer) -> None:
    with openai.OpenAI(base_url=server.base_url("openai"), api_key="sk-test", max_retries=0) as client:
        unanswered = [{"type": "function_call", "call_id": "call_a", "name": "f", "arguments": "{}"}]
        stray = [{"type": "function_call_output", "call_id": "call_b", "output": "1"}]
        for items, message in [
            (unanswered, "No tool output found for function call call_a."),
            (stray, "No tool call found for function call output with call_id call_b."),
        ]:
            with pytest.raises(openai.BadRequestError, match=message):
                client.responses.create(model="gpt-5-mini", input=items, stream=True)  # type: ignore[arg-type]
        assert server.pending == 0
        server.queue(Turn(Text("ok")))  # a continued response may answer calls the server never saw
        continued_input: Any = stray
        continued = client.responses.create(
            model="m", input=continued_input, previous_response_id="resp_x", stream=True
        )
        with continued as events:
            assert [event.type for event in events][-1] == "response.completed"
        client.close()


def test_a_script_renders_as_responses_events_for_the_raw_sdk(server: LoopbackServer) -> None:
    with openai.OpenAI(base_url=server.base_url("openai"), api_key="sk-test", max_retries=0) as client:
        server.queue(Turn(Text("Apple", " pie"), ErrorEvent(429)))
        with client.responses.create(model="gpt-5-mini", input="hi", stream=True) as events:
            seen: list[str] = []
            with pytest.raises(openai.APIError, match="Rate limit reached"):
                seen.extend(event.type for event in events)
        assert seen.count("response.output_text.delta") == 2
        server.queue(Turn(Text("Apple"), finish_reason="length", usage=(5, 1)))
        with client.responses.create(model="gpt-5-mini", input="hi", stream=True) as events:
            last = list(events)[-1]
        assert last.type == "response.incomplete"
        assert last.response.incomplete_details is not None
        assert last.response.incomplete_details.reason == "max_output_tokens"
        client.close()
        body = render(Turn(Text("Apple"), Disconnect()), "openai-responses").body
        assert body.count(b"event: response.output_text.delta") == 1 and b"response.completed" not in body


def test_serve_points_a_responses_prompt_class_at_the_server() -> None:
    with serve(Chef) as replay:
        replay.queue(Turn(Text("Apple pie.")))
        assert Chef(ingredient="apples").stream().collect().text == "Apple pie."
        assert replay.last_request.wire == "openai-responses"
        assert [message.role for message in replay.last_request.messages()] == ["system", "user"]


def test_a_scripted_error_event_and_a_drop_are_typed(server: LoopbackServer) -> None:
    server.queue(Turn(Text("Apple"), ErrorEvent(500)), Turn(Text("Apple"), Disconnect()))
    _, _, error = consume(Chef(ingredient="apples"), "sync")
    assert isinstance(error, ServerError) and error.response is not None and error.response.text == "Apple"
    _, _, error = consume(Chef(ingredient="apples"), "sync")
    assert (
        isinstance(error, StreamInterrupted) and error.response is not None and error.response.text == "Apple"
    )
