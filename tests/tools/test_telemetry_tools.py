"""The spans of a tool loop: one `invoke_agent` trace with its model turns and tool runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from mirastream import telemetry
from mirastream.events import ConfirmationEvent
from mirastream.tools import CodeInterpreter
from mirastream.tools.execution import Limits

from ..loopback import LoopbackServer
from ..test_telemetry import Recorded
from .test_tool_loop import MODES, PROVIDERS, connect, get_weather, prompt_class, queue_turns, run

__all__ = ["connect"]  # the fixture, shared

MODELS = {"openai": "gpt-4o", "anthropic": "claude-sonnet-4-6", "gemini": "gemini-2.5-flash"}
OPERATIONS = {"openai": "chat", "anthropic": "chat", "gemini": "generate_content"}


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    record = Recorded()
    telemetry.instrument(tracer_provider=record.tracer_provider, meter_provider=record.meter_provider)
    yield record
    telemetry.uninstrument(automatic=True)
    record.tracer_provider.shutdown()
    record.meter_provider.shutdown()


@pytest.fixture(scope="module")
def interpreter() -> Iterator[CodeInterpreter]:
    code = CodeInterpreter(limits=Limits(timeout=20))
    yield code
    code.close()


def trace_of(
    recorded: Recorded, provider: str
) -> tuple[ReadableSpan, list[ReadableSpan], list[ReadableSpan]]:
    """The agent span, its model-turn spans and its tool spans (all its children)."""
    spans = recorded.spans()
    (agent,) = [span for span in spans if span.name == "invoke_agent Analyst"]
    assert agent.kind is SpanKind.INTERNAL and agent.parent is None
    children = [span for span in spans if span is not agent]
    assert all(span.parent is not None and span.parent.span_id == agent.context.span_id for span in children)
    assert {span.context.trace_id for span in spans} == {agent.context.trace_id}
    turns = [span for span in children if span.name == f"{OPERATIONS[provider]} {MODELS[provider]}"]
    tools = [span for span in children if span.name.startswith("execute_tool ")]
    assert len(turns) + len(tools) == len(children)
    return agent, turns, tools


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_function_tool_loop_is_one_trace(
    provider: str, mode: str, server: LoopbackServer, connect: Callable[[str], None], recorded: Recorded
) -> None:
    connect(provider)
    queue_turns(server, provider, "weather", "weather_final")
    prompt = prompt_class(provider, [get_weather])(question="Weather in Paris?")
    _, stream = run(lambda: prompt.stream() if mode == "sync" else prompt.stream_async(), mode)

    agent, turns, (tool,) = trace_of(recorded, provider)
    assert len(turns) == 2
    assert turns[0].end_time <= tool.start_time <= tool.end_time <= turns[1].start_time  # type: ignore[operator]
    usage = stream.response.usage
    agent_attributes = dict(agent.attributes or {})
    assert agent_attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent_attributes["gen_ai.agent.name"] == "Analyst"
    assert agent_attributes["mirastream.steps"] == 2
    assert agent_attributes["gen_ai.usage.input_tokens"] == usage.input_tokens
    assert tool.kind is SpanKind.INTERNAL
    tool_attributes = dict(tool.attributes or {})
    call = stream.response.steps[0].response.tool_calls[0]
    assert tool_attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool_attributes["gen_ai.tool.name"] == "get_weather"
    assert tool_attributes["gen_ai.tool.call.id"] == call.id
    assert tool_attributes["gen_ai.tool.type"] == "function"
    assert tool_attributes["mirastream.tool.outcome"] == "completed"
    assert tool_attributes["mirastream.tool.provider_executed"] is False
    assert "gen_ai.tool.call.arguments" not in tool_attributes
    ((unit, duration),) = recorded.points("gen_ai.execute_tool.duration")
    assert unit == "s" and duration.count == 1
    assert duration.attributes["gen_ai.tool.name"] == "get_weather"
    ((_, agent_duration),) = recorded.points("gen_ai.invoke_agent.duration")
    assert agent_duration.count == 1 and agent_duration.sum >= duration.sum


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_code_interpreter_run_is_traced(
    provider: str,
    mode: str,
    server: LoopbackServer,
    connect: Callable[[str], None],
    interpreter: CodeInterpreter,
    recorded: Recorded,
) -> None:
    connect(provider)
    queue_turns(server, provider, "execute", "final")
    prompt = prompt_class(provider, [interpreter])(question="What is 34/24? Compute it.")
    run(lambda: prompt.stream() if mode == "sync" else prompt.stream_async(), mode)

    _, turns, (tool,) = trace_of(recorded, provider)
    assert len(turns) == 2
    attributes = dict(tool.attributes or {})
    assert tool.name == "execute_tool execute"  # the code interpreter tool is named `execute`
    assert attributes["mirastream.code.language"] == "python"
    assert attributes["mirastream.code.approved"] is True
    assert attributes["mirastream.code.status"] == "ok"
    assert attributes["mirastream.tool.outcome"] == "completed"
    assert tool.status.status_code is StatusCode.UNSET
    assert "gen_ai.tool.call.result" not in attributes


def test_denied_code_is_traced_as_denied(
    server: LoopbackServer, connect: Callable[[str], None], recorded: Recorded
) -> None:
    connect("openai")
    queue_turns(server, "openai", "execute", "final")
    denying = CodeInterpreter(confirm=lambda event: False)
    prompt = prompt_class("openai", [denying])(question="What is 34/24? Compute it.")
    run(prompt.stream, "sync")
    _, _, (tool,) = trace_of(recorded, "openai")
    attributes = dict(tool.attributes or {})
    assert attributes["mirastream.tool.outcome"] == "denied"
    assert attributes["mirastream.code.approved"] is False
    assert "mirastream.code.status" not in attributes
    assert tool.status.status_code is StatusCode.UNSET


@pytest.mark.parametrize("mode", MODES)
def test_stopping_at_the_confirmation_ends_every_span(
    mode: str,
    server: LoopbackServer,
    connect: Callable[[str], None],
    interpreter: CodeInterpreter,
    recorded: Recorded,
) -> None:
    connect("anthropic")
    queue_turns(server, "anthropic", "execute", "final")
    prompt = prompt_class("anthropic", [interpreter])(question="What is 34/24? Compute it.")
    stop_at_confirmation = lambda item: "stop" if isinstance(item, ConfirmationEvent) else None  # noqa: E731
    run(lambda: prompt.stream() if mode == "sync" else prompt.stream_async(), mode, stop_at_confirmation)

    agent, (_turn,), (tool,) = trace_of(recorded, "anthropic")
    attributes = dict(tool.attributes or {})
    assert attributes["mirastream.tool.outcome"] == "stopped"
    assert "mirastream.code.approved" not in attributes
    assert dict(agent.attributes or {})["mirastream.interrupted"] is True
    assert len(server.requests) == 1


def test_tool_content_is_recorded_when_opted_in(
    server: LoopbackServer, connect: Callable[[str], None], interpreter: CodeInterpreter, recorded: Recorded
) -> None:
    telemetry.instrument(
        tracer_provider=recorded.tracer_provider, meter_provider=recorded.meter_provider, capture_content=True
    )
    connect("gemini")
    queue_turns(server, "gemini", "execute", "final")
    prompt = prompt_class("gemini", [interpreter])(question="What is 34/24? Compute it.")
    run(prompt.stream, "sync")
    _, turns, (tool,) = trace_of(recorded, "gemini")
    attributes = dict(tool.attributes or {})
    assert "34 / 24" in str(attributes["gen_ai.tool.call.arguments"])
    assert "1.4166666666666667" in str(attributes["gen_ai.tool.call.result"])
    assert "tool_call_response" in str(dict(turns[1].attributes or {})["gen_ai.input.messages"])
