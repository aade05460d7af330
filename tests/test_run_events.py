"""The Assistant-run event stream of a run: `(event, data)` pairs as DashScope's Assistant API streams.

The seed is the stream loop of DashScope's "Assistant API streaming output" page
(`CodeTutorStream.process_stream`): it reads `data.status`, `data.delta.content.text.value`
and the code interpreter's `arguments` / `output` from `data.delta.step_details.tool_calls[0]`.
`process_stream` below is that loop; it runs over the translated events of real streams.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from mirastream._run_events import RunData, RunEvent, RunEventTranslator
from mirastream.errors import ProviderError
from mirastream.events import ConfirmationEvent
from mirastream.testing import Call, ErrorEvent, ReplayServer, Text, Turn
from mirastream.tools import CodeInterpreter

from .seed_runs import (
    ANSWER,
    CODE,
    MODES,
    OUTPUT,
    PROVIDERS,
    QUESTION,
    open_stream,
    prompt_class,
    read,
    replay,
    replay_server,
    seed_turns,
)

__all__ = ["replay", "replay_server"]  # fixtures


class CodeTutorStream:
    """The seed's stream loop: status, the explanation as it streams, the code and its output."""

    def process_stream(self, run: Iterable[tuple[str, Any]]) -> None:
        for event, data in run:
            if event == "thread.run.created":
                print(f"Run created: {data.status}")
            elif event == "thread.message.delta":
                print(data.delta.content.text.value, end="", flush=True)
            elif event == "thread.run.step.delta":
                tool_call = data.delta.step_details.tool_calls[0]
                if tool_call.type == "code_interpreter":
                    if tool_call.code_interpreter.arguments:
                        print(tool_call.code_interpreter.arguments, end="", flush=True)
                    if tool_call.code_interpreter.output:
                        print(f"\nOutput: {tool_call.code_interpreter.output}", end="", flush=True)
            elif event == "thread.run.completed":
                print(f"\nRun completed: {data.status}")
            elif event == "thread.run.failed":
                print(f"\nRun failed: {data.last_error.message}")


@pytest.fixture(scope="module")
def interpreter() -> Iterator[CodeInterpreter]:
    code = CodeInterpreter(confirm="auto")
    yield code
    code.close()


def run_events(
    prompt: Any, mode: str, on_item: Any = None, stop_after: int | None = None
) -> tuple[list[RunEvent], Any]:
    """The run events of `prompt`'s stream, driven as `stream.run_events()` will drive them."""
    translator = RunEventTranslator()
    events: list[RunEvent] = []
    seen = 0

    def feed(item: Any) -> bool:
        nonlocal seen
        if on_item is not None:
            on_item(item)
        events.extend(translator.feed(item))
        seen += 1
        return stop_after is not None and seen >= stop_after

    _, stream, error = read(open_stream(prompt, mode, status=True), mode, feed)
    if error is not None:
        events.extend(translator.failed(error))
    elif stream.response.interrupted:
        events.extend(translator.cancelled())
    else:
        events.extend(translator.finish(stream.response))
    return events, stream


def names(events: list[RunEvent]) -> list[str]:
    """The event names, with each run of one name counted once."""
    collapsed: list[str] = []
    for name, _ in events:
        if not collapsed or collapsed[-1] != name:
            collapsed.append(name)
    return collapsed


def tool_calls(events: list[RunEvent], kind: str) -> list[Any]:
    return [
        call
        for name, data in events
        if name == "thread.run.step.delta"
        for call in data.delta.step_details.tool_calls
        if call.type == kind
    ]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_seed_loop_prints_the_explanation_the_code_and_its_output(
    provider: str,
    mode: str,
    replay: ReplayServer,
    interpreter: CodeInterpreter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    replay.queue(*seed_turns())
    events, _ = run_events(prompt_class(provider, [interpreter])(question=QUESTION), mode)

    CodeTutorStream().process_stream(events)
    printed = capsys.readouterr().out
    assert printed == (f"Run created: queued\n{CODE}\nOutput: {OUTPUT}{ANSWER}\nRun completed: completed\n")

    assert names(events) == [
        "thread.run.created",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.delta",
        "thread.run.step.completed",
        "thread.run.step.created",
        "thread.message.created",
        "thread.message.delta",
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
    ]
    calls = tool_calls(events, "code_interpreter")
    assert "".join(call.code_interpreter.arguments for call in calls) == CODE
    assert "".join(call.code_interpreter.output for call in calls) == OUTPUT
    assert {call.id for call in calls} == {"call_34_24"}

    created = next(data for name, data in events if name == "thread.run.step.created")
    assert created.type == "tool_calls" and created.status == "in_progress"
    code_done = next(data for name, data in events if name == "thread.run.step.completed")
    assert code_done.id == created.id
    (done_call,) = code_done.step_details.tool_calls
    assert (done_call.code_interpreter.arguments, done_call.code_interpreter.output) == (CODE, OUTPUT)
    message = next(data for name, data in events if name == "thread.message.completed")
    assert message.content[0].text.value == ANSWER and message.status == "completed"
    completed = events[-1][1]
    assert completed.status == "completed" and completed.usage.total_tokens == 40 + 12 + 60 + 17
    assert {data.id for name, data in events if name.startswith("thread.run.") and "step" not in name} == {
        completed.id
    }


def get_weather(city: str) -> str:
    """The current weather in a city.

    Args:
        city: the city's name.
    """
    return f"21 C and sunny in {city}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_function_step_streams_its_arguments_and_output(
    provider: str, mode: str, replay: ReplayServer
) -> None:
    replay.queue(
        Turn(Text("Let me check."), Call("get_weather", ['{"city": ', '"Paris"}'], id="call_w")),
        Turn(Text("It is 21 C", " in Paris.")),
    )
    events, _ = run_events(prompt_class(provider, [get_weather])(question="Weather in Paris?"), mode)
    assert names(events) == [
        "thread.run.created",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.message.created",
        "thread.message.delta",
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.step.created",
        "thread.run.step.delta",
        "thread.run.step.completed",
        "thread.run.step.created",
        "thread.message.created",
        "thread.message.delta",
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
    ]
    calls = tool_calls(events, "function")
    assert "".join(call.function.arguments for call in calls) == '{"city": "Paris"}'
    assert "".join(call.function.output for call in calls) == "21 C and sunny in Paris"
    assert all(call.function.name == "get_weather" for call in calls)
    step = [data for name, data in events if name == "thread.run.step.completed"][1]
    (call,) = step.step_details.tool_calls
    assert (call.type, call.function.output) == ("function", "21 C and sunny in Paris")
    texts = [data.content[0].text.value for name, data in events if name == "thread.message.completed"]
    assert texts == ["Let me check.", "It is 21 C in Paris."]


@pytest.mark.parametrize("mode", MODES)
def test_a_run_that_fails_mid_stream_ends_with_run_failed(
    mode: str, replay: ReplayServer, capsys: pytest.CaptureFixture[str]
) -> None:
    replay.queue(Turn(Text("Thirty", " four"), ErrorEvent(500, "the model crashed")))
    events, _ = run_events(prompt_class("openai", [get_weather])(question=QUESTION), mode)
    assert names(events)[-3:] == ["thread.message.incomplete", "thread.run.step.failed", "thread.run.failed"]
    failed = events[-1][1]
    assert failed.status == "failed" and failed.last_error.code == "ServerError"
    assert "the model crashed" in failed.last_error.message
    assert events[-3][1].content[0].text.value == "Thirty four"
    CodeTutorStream().process_stream(events)
    assert capsys.readouterr().out.endswith("Thirty four\nRun failed: " + failed.last_error.message + "\n")


@pytest.mark.parametrize("mode", MODES)
def test_a_stream_closed_early_ends_with_run_cancelled(
    mode: str, replay: ReplayServer, interpreter: CodeInterpreter
) -> None:
    replay.queue(*seed_turns())
    prompt = prompt_class("openai", [interpreter])(question=QUESTION)
    events, stream = run_events(prompt, mode, stop_after=4)
    assert stream.response.interrupted
    assert names(events)[-2:] == ["thread.run.step.cancelled", "thread.run.cancelled"]
    assert events[-1][1].status == "cancelled"
    assert len(replay.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_denied_code_reports_why_it_did_not_run(mode: str, replay: ReplayServer) -> None:
    replay.queue(*seed_turns())
    asking = CodeInterpreter(confirm="ask")

    def deny(item: Any) -> None:
        if isinstance(item, ConfirmationEvent):
            item.deny()

    try:
        events, _ = run_events(prompt_class("anthropic", [asking])(question=QUESTION), mode, on_item=deny)
    finally:
        asking.close()
    outputs = [call.code_interpreter.output for call in tool_calls(events, "code_interpreter")]
    assert [output for output in outputs if output] == ["The user declined to run this code."]
    assert events[-1][0] == "thread.run.completed"


def test_parallel_code_calls_are_separate_steps(replay: ReplayServer, interpreter: CodeInterpreter) -> None:
    first = ['{"language": "python", "code": "', "print(", "1)", '"}']
    second = ['{"language": "python", "code": "', "print(", "2)", '"}']
    replay.queue(
        Turn(Call("execute", first, id="call_a"), Call("execute", second, id="call_b")), Turn(Text("Done."))
    )
    events, _ = run_events(prompt_class("openai", [interpreter])(question="Two runs"), "sync")
    steps: dict[str, dict[str, str]] = {}
    for name, data in events:
        if name == "thread.run.step.delta":
            (call,) = data.delta.step_details.tool_calls
            step = steps.setdefault(call.id, {"arguments": "", "output": ""})
            step["arguments"] += call.code_interpreter.arguments
            step["output"] += call.code_interpreter.output
    assert steps == {
        "call_a": {"arguments": "print(1)", "output": "1\n"},
        "call_b": {"arguments": "print(2)", "output": "2\n"},
    }
    created = [data.id for name, data in events if name == "thread.run.step.created"]
    completed = [data.id for name, data in events if name == "thread.run.step.completed"]
    assert len(created) == 3 and sorted(created) == sorted(completed)


def test_run_data_reads_as_attributes_and_as_a_dict() -> None:
    translator = RunEventTranslator()
    (created, _), (_, in_progress) = translator.feed(object())
    assert created == "thread.run.created" and in_progress.status == "in_progress"
    assert in_progress["status"] == "in_progress" and isinstance(in_progress, RunData)
    assert getattr(in_progress, "required_action", None) is None
    with pytest.raises(AttributeError, match="required_action"):
        in_progress.required_action  # noqa: B018
    assert translator.finish()[-1][0] == "thread.run.completed"
    assert translator.finish() == [] and translator.failed(ProviderError("late", provider="x")) == []
