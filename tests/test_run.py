"""The run behind every stream, driven by hand: `Run.flow()` with no IO at all.

Each test plays the driver: it takes the flow's steps (`StreamTurn`, `RunTool`, `Emit`)
and replies as a stream would, with real `Response`s and `ToolOutput`s. The calls are
`RecordedCall`s, which send nothing: the flow never asks them to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any, NoReturn

import pytest

from mirastream import Response
from mirastream._run import Emit, Flow, Run, RunTool, StreamTurn
from mirastream.errors import ConfigurationError, MaxStepsReached, MirastreamError, StreamAlreadyConsumed
from mirastream.events import Event, StatusEvent, ToolEvent
from mirastream.messages import Message, ToolCall
from mirastream.openai._decode import OpenAIDecoder
from mirastream.responses import Choice, Usage
from mirastream.tools import BaseTool, ToolArgumentsError, ToolOutput

QUESTION = [Message(role="user", content="How far is it?")]
ROUTE_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"route": {"type": "string"}}}


class RecordedCall:
    """A `ProviderCall` that only says which turn it is and what conversation it was made from."""

    provider = "openai"

    def __init__(self, turn: int, messages: Sequence[Message] = ()) -> None:
        self.turn = turn
        self.messages = list(messages)  # a copy: the run keeps extending its own list

    def decoder(self) -> OpenAIDecoder:
        return OpenAIDecoder()

    def send(self) -> AbstractContextManager[Iterator[Any]]:
        return never("send")

    def send_async(self) -> AbstractAsyncContextManager[AsyncIterator[Any]]:
        return never("send_async")

    def convert_error(self, error: Exception) -> MirastreamError | None:
        return None

    def abort(self) -> None:
        never("abort")

    def interrupt(self) -> None:
        never("interrupt")


def never(what: str) -> NoReturn:
    raise AssertionError(f"the run did IO: {what}()")


class Calls:
    """The `make_call` of a run: a numbered `RecordedCall` per later turn."""

    def __init__(self) -> None:
        self.made: list[RecordedCall] = []

    def __call__(self, messages: Sequence[Message]) -> RecordedCall:
        self.made.append(RecordedCall(len(self.made) + 2, messages))
        return self.made[-1]


class Measure(BaseTool):
    """A tool the flow hands to the driver; these tests never run it themselves."""

    name = "measure"
    description = "Measure a distance."
    parameters = ROUTE_SCHEMA


def turn(*calls: ToolCall, text: str = "", usage: tuple[int, int] = (10, 2)) -> Response:
    """A finished model turn, as a decoder would aggregate it."""
    choice = Choice(text=text, tool_calls=calls, finish_reason="tool_calls" if calls else "stop")
    tokens = Usage(input_tokens=usage[0], output_tokens=usage[1], total_tokens=sum(usage))
    return Response(provider="openai", model="gpt-4o", choices=(choice,), usage=tokens)


def call(call_id: str = "call_1", name: str = "measure", arguments: str = '{"route": "A"}') -> ToolCall:
    return ToolCall.from_raw(call_id, name, arguments)


def new_run(*, max_steps: int = 10, declared: Sequence[str] = ()) -> tuple[Run, Calls]:
    calls = Calls()
    run = Run(RecordedCall(1), calls, QUESTION, [Measure()], declared=declared, max_steps=max_steps)
    run.claim()
    return run, calls


def expect_turn(step: Any, number: int) -> RecordedCall:
    assert isinstance(step, StreamTurn), step
    assert isinstance(step.call, RecordedCall)
    assert step.call.turn == number
    return step.call


def finish(flow: Flow, response: Response) -> None:
    """Reply the last turn; the flow must end there."""
    with pytest.raises(StopIteration):
        flow.send(response)


# --- One tool call -------------------------------------------------------------------------


def test_a_tool_call_is_run_and_its_output_sent_back_in_the_next_turn() -> None:
    run, calls = new_run()
    flow = run.flow()
    expect_turn(next(flow), 1)
    first = turn(call(), text="Let me measure.")
    step = flow.send(first)
    assert isinstance(step, RunTool)
    assert step.tool is run.tools["measure"]
    assert step.call == call()

    second = expect_turn(flow.send(ToolOutput("12 km")), 2)
    assert second.messages == [
        *QUESTION,
        Message(role="assistant", content="Let me measure.", tool_calls=(call(),)),
        Message(role="tool", content="12 km", tool_call_id="call_1", name="measure"),
    ]
    finish(flow, turn(text="It is 12 km."))
    assert run.state == "done"
    response = run.response()
    assert response.text == "It is 12 km."
    assert [len(step.results) for step in response.steps] == [1, 0]
    assert response.steps[0].results[0].output == "12 km"
    assert not response.steps[0].results[0].is_error
    assert [made.turn for made in calls.made] == [2]


def test_parallel_calls_run_in_order_and_go_back_together() -> None:
    run, _ = new_run()
    flow = run.flow()
    next(flow)
    first, second = call("call_a", arguments='{"route": "A"}'), call("call_b", arguments='{"route": "B"}')
    step = flow.send(turn(first, second))
    assert isinstance(step, RunTool) and step.call == first
    step = flow.send(ToolOutput("1 km"))
    assert isinstance(step, RunTool) and step.call == second
    later = expect_turn(flow.send(ToolOutput("2 km", is_error=True)), 2)
    assert [(m.tool_call_id, m.content) for m in later.messages if m.role == "tool"] == [
        ("call_a", "1 km"),
        ("call_b", "2 km"),
    ]
    finish(flow, turn(text="Done."))
    assert [result.is_error for result in run.response().steps[0].results] == [False, True]


def test_a_plain_turn_ends_the_run_with_one_step() -> None:
    run, calls = new_run()
    flow = run.flow()
    expect_turn(next(flow), 1)
    finish(flow, turn(text="Far."))
    assert run.response().text == "Far."
    assert len(run.response().steps) == 1
    assert calls.made == []


# --- Calls that never reach a tool ---------------------------------------------------------


def test_an_unknown_tool_gets_an_error_result_without_running_anything() -> None:
    run, _ = new_run()
    flow = run.flow()
    next(flow)
    later = expect_turn(flow.send(turn(call(name="teleport"))), 2)  # no RunTool step in between
    (result,) = run.response().steps[0].results
    assert result.is_error
    assert result.output == "There is no tool named 'teleport'; tools: measure."
    assert later.messages[-1].content == result.output


def test_arguments_that_are_not_a_json_object_get_an_error_result() -> None:
    run, _ = new_run()
    flow = run.flow()
    next(flow)
    expect_turn(flow.send(turn(call(arguments='["A", "B"]'))), 2)
    (result,) = run.response().steps[0].results
    assert result.is_error
    assert result.output == 'The arguments are not a JSON object: \'["A", "B"]\'.'


# --- What a tool raises --------------------------------------------------------------------


def test_a_tool_arguments_error_becomes_the_result_sent_to_the_model() -> None:
    run, _ = new_run()
    flow = run.flow()
    next(flow)
    assert isinstance(flow.send(turn(call())), RunTool)
    later = expect_turn(flow.throw(ToolArgumentsError("Unknown route 'A'.", tool_name="measure")), 2)
    (result,) = run.response().steps[0].results
    assert (result.output, result.is_error) == ("Unknown route 'A'.", True)
    assert later.messages[-1] == Message(
        role="tool", content="Unknown route 'A'.", tool_call_id="call_1", name="measure", is_error=True
    )


def test_any_other_exception_is_reported_as_the_tool_raised() -> None:
    run, _ = new_run()
    flow = run.flow()
    next(flow)
    flow.send(turn(call()))
    expect_turn(flow.throw(ZeroDivisionError("division by zero")), 2)
    (result,) = run.response().steps[0].results
    assert (result.output, result.is_error) == ("The tool raised ZeroDivisionError: division by zero", True)


def test_a_mirastream_error_from_a_tool_stops_the_run() -> None:
    run, calls = new_run()
    flow = run.flow()
    next(flow)
    flow.send(turn(call()))
    failure = ConfigurationError("the session cannot start")
    with pytest.raises(ConfigurationError) as caught:
        flow.throw(failure)
    assert caught.value is failure
    assert calls.made == []


# --- Where the run stops -------------------------------------------------------------------


def test_max_steps_stops_with_the_steps_kept_on_the_response() -> None:
    run, calls = new_run(max_steps=2)
    flow = run.flow()
    next(flow)
    flow.send(turn(call("call_1")))
    expect_turn(flow.send(ToolOutput("12 km")), 2)
    with pytest.raises(MaxStepsReached) as caught:
        flow.send(turn(call("call_2"), usage=(20, 3)))
    assert caught.value.provider == "openai"
    assert "2 turns" in str(caught.value)
    response = run.response()
    assert len(response.steps) == 2
    assert response.steps[-1].results == ()  # the last calls were not run
    assert response.tool_calls == (call("call_2"),)
    assert len(calls.made) == 1


def test_a_call_of_a_declared_tool_ends_the_run_with_the_calls_on_the_response() -> None:
    run, calls = new_run(declared=["book_taxi"])
    flow = run.flow()
    next(flow)
    taxi, measure = call("call_t", "book_taxi", '{"to": "A"}'), call("call_m")
    finish(flow, turn(taxi, measure))  # not even the runnable call runs: the caller takes over
    assert run.state == "done"
    response = run.response()
    assert response.tool_calls == (taxi, measure)
    assert response.steps[0].results == ()
    assert calls.made == []


def test_a_declared_name_that_is_also_a_tool_is_run() -> None:
    run, _ = new_run(declared=["measure"])
    flow = run.flow()
    next(flow)
    assert isinstance(flow.send(turn(call())), RunTool)


# --- Status events and usage ---------------------------------------------------------------


def test_status_events_come_in_order_around_each_call() -> None:
    run, _ = new_run()
    run.status = True
    flow = run.flow()
    log: list[Any] = []
    step: Any = next(flow)
    replies: Iterator[Any] = iter(
        [
            turn(call("call_1"), call("call_2", arguments='{"route": "B"}')),
            ToolOutput("1 km"),
            ToolOutput("2 km"),
            turn(text="3 km."),
        ]
    )
    try:
        while True:
            if isinstance(step, Emit):
                assert isinstance(step.item, StatusEvent)
                log.append((step.item.kind, step.item.step, step.item.call and step.item.call.id))
                log[-1] += (step.item.result,) if step.item.kind == "step.completed" else ()
                step = flow.send(None)
            else:
                log.append(type(step).__name__)
                step = flow.send(next(replies))
    except StopIteration:
        pass
    assert log == [
        ("run.created", 0, None),
        "StreamTurn",
        ("step.started", 1, "call_1"),
        "RunTool",
        ("step.completed", 1, "call_1", "1 km"),
        ("step.started", 1, "call_2"),
        "RunTool",
        ("step.completed", 1, "call_2", "2 km"),
        "StreamTurn",
        ("run.completed", 2, None),
    ]


def test_no_status_events_unless_asked() -> None:
    run, _ = new_run()
    flow = run.flow()
    assert isinstance(next(flow), StreamTurn)
    assert isinstance(flow.send(turn(call())), RunTool)
    assert isinstance(flow.send(ToolOutput("1 km")), StreamTurn)


def test_usage_is_summed_across_the_steps() -> None:
    run, _ = new_run()
    flow = run.flow()
    next(flow)
    flow.send(turn(call(), usage=(10, 2)))
    flow.send(ToolOutput("12 km"))
    finish(flow, turn(text="12 km.", usage=(25, 4)))
    usage = run.response().usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (35, 6, 41)
    assert run.response().steps[-1].response.usage == Usage(input_tokens=25, output_tokens=4, total_tokens=29)


# --- A turn's chunks and the argument watchers ----------------------------------------------


class Pieces:
    """An argument watcher that reports every piece, then the end."""

    def feed(self, arguments: str) -> list[Event]:
        return [ToolEvent("measure", arguments)]

    def finish(self) -> list[Event]:
        return [ToolEvent("measure", "<end>")]


class WatchedMeasure(Measure):
    def watch(self, call_id: str | None) -> Pieces:
        return Pieces()


def openai_event(delta: dict[str, Any], finish_reason: str | None = None) -> tuple[str, bytes]:
    """One Chat Completions stream event, as the SSE layer hands it to the decoder."""
    import json

    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    payload = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "gpt-4o", "choices": [choice]}
    return ("", json.dumps(payload).encode())


def test_watchers_turn_streamed_arguments_into_events_and_finish_with_the_turn() -> None:
    run = Run(RecordedCall(1), Calls(), QUESTION, [WatchedMeasure()])
    run.claim()
    flow = run.flow()
    step = next(flow)
    assert isinstance(step, StreamTurn)
    decoder = run.begin_turn(step.call)
    head = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "measure", "arguments": ""}}
    events = [
        openai_event({"role": "assistant", "tool_calls": [head]}),
        openai_event({"tool_calls": [{"index": 0, "function": {"arguments": '{"route": '}}]}),
        openai_event({"tool_calls": [{"index": 0, "function": {"arguments": '"A"}'}}]}),
        openai_event({}, "tool_calls"),
        ("", b"[DONE]"),
    ]
    watched: list[str] = []
    for event in events:
        chunk = decoder.feed(event)
        if chunk is not None:
            watched += [item.content for item in run.watch(chunk)]
    assert watched == ['{"route": ', '"A"}']
    response = run.end_turn()
    assert response.tool_calls == (call(),)
    step = flow.send(response)
    assert isinstance(step, Emit) and step.item.content == "<end>"  # before the call runs
    assert isinstance(flow.send(None), RunTool)


# --- The run's lifecycle -------------------------------------------------------------------


def test_a_run_is_claimed_once() -> None:
    run = Run(RecordedCall(1))
    run.claim()
    with pytest.raises(StreamAlreadyConsumed):
        run.claim()


def test_a_run_without_tools_is_one_turn_and_its_response_comes_from_the_decoder() -> None:
    run = Run(RecordedCall(1))
    assert not run.has_tools
    run.claim()
    flow = run.flow()
    expect_turn(next(flow), 1)
    finish(flow, turn(text="ignored: a plain stream reads its decoder"))
    response = run.response()
    assert response.provider == "openai"
    assert response.steps == ()
    assert not response.interrupted
    assert response.duration is not None and response.duration >= 0


def test_a_stopped_run_counts_as_interrupted() -> None:
    run, _ = new_run()
    flow = run.flow()
    next(flow)
    flow.send(turn(call()))
    flow.close()
    run.stop_if_running()
    assert run.state == "interrupted"
    assert run.response().interrupted


def test_a_run_stopped_while_a_tool_runs_keeps_the_turn_that_called_it() -> None:
    run, _ = new_run()
    flow = run.flow()
    next(flow)
    first, second = call("call_1"), call("call_2", arguments='{"route": "B"}')
    flow.send(turn(first, second, text="Let me measure."))
    flow.send(ToolOutput("1 km"))  # the second call is running when the consumer stops
    flow.close()
    run.stop_if_running()
    response = run.response()
    assert response.text == "Let me measure."
    assert response.tool_calls == (first, second)
    assert [result.output for result in response.steps[0].results] == ["1 km"]


# --- Loop guards ---------------------------------------------------------------------------


def test_a_call_repeated_in_a_turn_is_not_run_again() -> None:
    run, _ = new_run()
    flow = run.flow()
    next(flow)
    first, again = call("call_1"), call("call_2")  # the same tool, the same arguments
    other = call("call_3", arguments='{"route": "B"}')
    step = flow.send(turn(first, again, other))
    assert isinstance(step, RunTool) and step.call is first
    step = flow.send(ToolOutput("1 km"))
    assert isinstance(step, RunTool) and step.call is other  # the repeat was skipped
    expect_turn(flow.send(ToolOutput("2 km")), 2)
    results = run.response().steps[0].results
    assert [(result.call.id, result.is_error) for result in results] == [
        ("call_1", False),
        ("call_2", True),
        ("call_3", False),
    ]
    assert "repeats call call_1" in results[1].output


def test_a_call_that_failed_is_not_run_again_in_the_next_turn() -> None:
    run, calls = new_run()
    flow = run.flow()
    next(flow)
    step = flow.send(turn(call("call_1")))
    assert isinstance(step, RunTool)
    expect_turn(flow.send(ToolOutput("no route A", is_error=True)), 2)
    # The model sends the same call again: it is answered, not run; the next turn comes.
    expect_turn(flow.send(turn(call("call_2"))), 3)
    repeated = run.response().steps[1].results[0]
    assert repeated.is_error and "failed in your previous turn" in repeated.output
    assert calls.made[-1].messages[-1].content == repeated.output
    # A changed call runs.
    step = flow.send(turn(call("call_3", arguments='{"route": "B"}')))
    assert isinstance(step, RunTool) and step.call.id == "call_3"


def test_a_call_that_succeeded_may_run_again_in_the_next_turn() -> None:
    run, _ = new_run()
    flow = run.flow()
    next(flow)
    flow.send(turn(call("call_1")))
    expect_turn(flow.send(ToolOutput("1 km")), 2)
    step = flow.send(turn(call("call_2")))  # the same question again: the world may have changed
    assert isinstance(step, RunTool) and step.call.id == "call_2"


def test_calls_past_the_cap_of_a_turn_are_answered_not_run() -> None:
    calls = Calls()
    run = Run(RecordedCall(1), calls, QUESTION, [Measure()], max_calls_per_turn=2)
    run.claim()
    flow = run.flow()
    next(flow)
    made = [call(f"call_{n}", arguments=f'{{"route": "R{n}"}}') for n in range(4)]
    step = flow.send(turn(*made))
    ran = []
    while isinstance(step, RunTool):
        ran.append(step.call.id)
        step = flow.send(ToolOutput("ok"))
    expect_turn(step, 2)
    assert ran == ["call_0", "call_1"]
    results = run.response().steps[0].results
    assert [result.call.id for result in results] == ["call_0", "call_1", "call_2", "call_3"]
    assert all("at most 2 tool calls" in result.output for result in results[2:])
    # Every call has a result: the providers reject a turn with an unanswered call.
    assert [message.role for message in calls.made[0].messages[-4:]] == ["tool"] * 4


def test_a_turn_cut_off_by_length_runs_none_of_its_calls() -> None:
    run, calls = new_run()
    flow = run.flow()
    next(flow)
    cut = call(arguments='{"route": "A", "det')  # half written
    choice = Choice(tool_calls=(cut,), finish_reason="length")
    with pytest.raises(StopIteration):
        flow.send(Response(provider="openai", choices=(choice,)))
    assert calls.made == []  # nothing was sent back
    response = run.response()
    assert response.finish_reason == "length" and response.tool_calls == (cut,)
    assert run.state == "done"
