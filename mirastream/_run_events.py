"""The Assistant-run event stream (`thread.run.*`, `thread.message.*`) of a mirastream stream.

`RunEventTranslator` turns what a stream yields (chunks, code-interpreter events and the
tool loop's status events, in order) into `(event, data)` pairs shaped like the events of
an Assistant run streamed by DashScope's (and OpenAI's) Assistant API, so that a loop
written for `Runs.create(..., stream=True)` reads a run of any provider, with tools
running on this machine. Code the provider ran itself (events with `provider_executed`)
is a `code_interpreter` step of its own, completed when its console block ends. `data` is a
`RunData`: a dict whose keys also read as attributes (`data.delta.content.text.value`,
`data.status`). It does no IO, so the sync and async streams share it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from .chunks import ResponseChunk, ToolCallDelta
from .events import CodeEvent, ConfirmationEvent, ConsoleEvent, MarkerEvent, StatusEvent

if TYPE_CHECKING:
    from .messages import ToolCall
    from .responses import Response

__all__ = ["RunData", "RunEvent", "RunEventTranslator"]


class RunData(dict[str, Any]):
    """The data of a run event: a dict whose keys read as attributes too, at every level."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}") from None


RunEvent = tuple[str, RunData]
"""One event of the run: its name (`thread.message.delta`, ...) and its data."""


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return RunData({key: _wrap(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_wrap(item) for item in value]
    return value


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


class _ToolStep:
    """A run step of one tool call: its id, the call, and what streamed so far."""

    __slots__ = ("arguments", "call_id", "id", "index", "kind", "name", "output", "ran")

    def __init__(self, index: int, call_id: str | None, name: str, kind: str) -> None:
        self.id = _new_id("step")
        self.index = index
        self.call_id = call_id
        self.name = name
        self.kind = kind  # "code_interpreter" or "function"
        self.arguments: list[str] = []
        self.output: list[str] = []
        self.ran = False  # whether its code ran (console output may be empty)

    def tool_call(self, arguments: str, output: str | None) -> dict[str, Any]:
        details: dict[str, Any] = {"arguments": arguments, "output": output}
        if self.kind == "function":
            details["name"] = self.name
        return {"index": self.index, "id": self.call_id, "type": self.kind, self.kind: details}


class _MessageStep:
    """The message the model is writing, and the run step that creates it."""

    __slots__ = ("id", "pieces", "step_id")

    def __init__(self) -> None:
        self.id = _new_id("msg")
        self.step_id = _new_id("step")
        self.pieces: list[str] = []


class RunEventTranslator:
    """Turns stream items into Assistant-run events, one item at a time.

    `feed(item)` returns the events of one chunk or event; the run then ends with exactly
    one of `finish()` (`thread.run.completed`), `failed(error)` (`thread.run.failed`) or
    `cancelled()` (`thread.run.cancelled`), each closing the message and the steps still
    open first. A function tool's output is known from the loop's status events
    (`stream.with_status()`); without them its step completes with no output.

    Args:
        code_tools: the names of the tools whose calls run code: their steps are
            `code_interpreter` steps, whose arguments stream as the code itself.
    """

    def __init__(self, code_tools: Collection[str] = ("execute",)) -> None:
        self.run_id = _new_id("run")
        self.thread_id = _new_id("thread")
        self._code_tools = frozenset(code_tools)
        self._started = False
        self._ended = False
        self._message: _MessageStep | None = None
        self._steps: list[_ToolStep] = []  # open tool steps, in the order they were created
        self._turn: dict[int, _ToolStep] = {}  # the current model turn's calls, by index
        self._turn_over = False  # tools ran since the turn's calls streamed
        self._running: _ToolStep | None = None  # the step whose tool is running
        self._hosted: _ToolStep | None = None  # the step of the provider's latest code execution

    # The run -------------------------------------------------------------------------------

    def _run(self, status: str, **fields: Any) -> RunData:
        run = {"id": self.run_id, "object": "thread.run", "thread_id": self.thread_id, "status": status}
        return _wrap({**run, **fields})  # type: ignore[no-any-return]

    def _start(self) -> list[RunEvent]:
        if self._started:
            return []
        self._started = True
        return [
            ("thread.run.created", self._run("queued")),
            ("thread.run.in_progress", self._run("in_progress")),
        ]

    def feed(self, item: object) -> list[RunEvent]:
        """The events of the next chunk or event of the stream."""
        if self._ended:
            return []
        events = self._start()
        if isinstance(item, ResponseChunk):
            events += self._chunk(item)
        elif isinstance(item, CodeEvent):
            events += self._code(item)
        elif isinstance(item, ConfirmationEvent):
            self._turn_over = True
            events += self._close_message("completed")
            self._running = self._find(item.call_id, None)
        elif isinstance(item, MarkerEvent) and item.type == "console" and item.provider_executed:
            events += self._hosted_console(item.start)
        elif isinstance(item, MarkerEvent) and item.type == "console" and item.start:
            if self._running is not None:
                self._running.ran = True
        elif isinstance(item, ConsoleEvent) and item.content and self._running is not None:
            events.append(self._output(self._running, item.content))
        elif isinstance(item, StatusEvent):
            events += self._status(item)
        return events

    def finish(self, response: Response | None = None) -> list[RunEvent]:
        """The events that end a run that completed (`response`, if given, adds its usage)."""
        if self._ended:
            return []
        events = self._start() + self._close_message("completed") + self._close_steps("completed")
        fields: dict[str, Any] = {}
        if response is not None and response.usage is not None:
            usage = response.usage
            fields["usage"] = {
                "prompt_tokens": usage.input_tokens,
                "completion_tokens": usage.output_tokens,
                "total_tokens": usage.total_tokens,
            }
        self._ended = True
        return [*events, ("thread.run.completed", self._run("completed", **fields))]

    def failed(self, error: BaseException) -> list[RunEvent]:
        """The events that end a run that failed with `error`."""
        if self._ended:
            return []
        events = self._start() + self._close_message("failed") + self._close_steps("failed")
        last_error = {"code": type(error).__name__, "message": str(error)}
        self._ended = True
        return [*events, ("thread.run.failed", self._run("failed", last_error=last_error))]

    def cancelled(self) -> list[RunEvent]:
        """The events that end a run stopped early (the stream was closed or cancelled)."""
        if self._ended:
            return []
        events = self._start() + self._close_message("cancelled") + self._close_steps("cancelled")
        self._ended = True
        return [*events, ("thread.run.cancelled", self._run("cancelled"))]

    # Messages ------------------------------------------------------------------------------

    def _chunk(self, chunk: ResponseChunk) -> list[RunEvent]:
        events: list[RunEvent] = []
        if self._turn_over and (chunk.content or chunk.tool_calls):
            events += self._close_steps("completed")  # a new model turn: the tools are done
            self._turn, self._turn_over, self._running = {}, False, None
        if chunk.content:
            events += self._text(chunk.content)
        for delta in chunk.tool_calls:
            events += self._call_delta(delta)
        return events

    def _text(self, text: str) -> list[RunEvent]:
        events: list[RunEvent] = []
        message = self._message
        if message is None:
            message = self._message = _MessageStep()
            details = {"type": "message_creation", "message_creation": {"message_id": message.id}}
            step = self._step_data(message.step_id, "message_creation", "in_progress", details)
            events.append(("thread.run.step.created", step))
            events.append(("thread.message.created", self._message_data(message, "in_progress", content=[])))
        message.pieces.append(text)
        delta = {"role": "assistant", "content": {"type": "text", "text": {"value": text, "annotations": []}}}
        data = {"id": message.id, "object": "thread.message.delta", "delta": delta}
        events.append(("thread.message.delta", _wrap(data)))
        return events

    def _message_data(self, message: _MessageStep, status: str, content: list[Any]) -> RunData:
        data = {
            "id": message.id,
            "object": "thread.message",
            "thread_id": self.thread_id,
            "run_id": self.run_id,
            "role": "assistant",
            "status": status,
            "content": content,
        }
        return _wrap(data)  # type: ignore[no-any-return]

    def _close_message(self, status: str) -> list[RunEvent]:
        """End the open message: `completed`, or cut short by a run that `failed` / was `cancelled`."""
        message, self._message = self._message, None
        if message is None:
            return []
        text = {"type": "text", "text": {"value": "".join(message.pieces), "annotations": []}}
        done = status == "completed"
        details = {"type": "message_creation", "message_creation": {"message_id": message.id}}
        step = self._step_data(message.step_id, "message_creation", status, details)
        return [
            (
                "thread.message.completed" if done else "thread.message.incomplete",
                self._message_data(message, "completed" if done else "incomplete", content=[text]),
            ),
            (f"thread.run.step.{status}", step),
        ]

    # Tool steps ----------------------------------------------------------------------------

    def _step_data(self, step_id: str, kind: str, status: str, details: dict[str, Any]) -> RunData:
        data = {
            "id": step_id,
            "object": "thread.run.step",
            "thread_id": self.thread_id,
            "run_id": self.run_id,
            "type": kind,
            "status": status,
            "step_details": details,
        }
        return _wrap(data)  # type: ignore[no-any-return]

    def _tool_step_data(self, step: _ToolStep, status: str, output: str | None) -> RunData:
        details = {"type": "tool_calls", "tool_calls": [step.tool_call("".join(step.arguments), output)]}
        return self._step_data(step.id, "tool_calls", status, details)

    def _delta(self, step: _ToolStep, arguments: str, output: str) -> RunEvent:
        details = {"type": "tool_calls", "tool_calls": [step.tool_call(arguments, output)]}
        data = {"id": step.id, "object": "thread.run.step.delta", "delta": {"step_details": details}}
        return "thread.run.step.delta", _wrap(data)

    def _output(self, step: _ToolStep, text: str) -> RunEvent:
        step.output.append(text)
        return self._delta(step, "", text)

    def _open_step(
        self, index: int, call_id: str | None, name: str, *, hosted: bool = False
    ) -> tuple[_ToolStep, list[RunEvent]]:
        kind = "code_interpreter" if hosted or name in self._code_tools else "function"
        step = _ToolStep(index, call_id, name, kind)
        self._steps.append(step)
        if not hosted:  # the provider's own code is no call of the turn's
            self._turn[index] = step
        events = self._close_message("completed")
        events.append(("thread.run.step.created", self._tool_step_data(step, "in_progress", None)))
        return step, events

    def _call_delta(self, delta: ToolCallDelta) -> list[RunEvent]:
        events: list[RunEvent] = []
        step = self._turn.get(delta.index)
        if step is None:
            step, events = self._open_step(delta.index, delta.id, delta.name or "")
        elif delta.id and step.call_id is None:
            step.call_id = delta.id
        if step.kind == "function" and delta.arguments:
            step.arguments.append(delta.arguments)
            events.append(self._delta(step, delta.arguments, ""))
        return events

    def _code(self, event: CodeEvent) -> list[RunEvent]:
        if not event.content:
            return []
        if event.provider_executed:
            return self._hosted_code(event)
        step = self._find(event.call_id, None, kind="code_interpreter")
        if step is None:
            step, events = self._open_step(
                len(self._turn), event.call_id, next(iter(self._code_tools), "execute")
            )
        else:
            events = self._close_message("completed")
        step.arguments.append(event.content)
        events.append(self._delta(step, event.content, ""))
        return events

    def _hosted_code(self, event: CodeEvent) -> list[RunEvent]:
        """Code the provider runs itself: the arguments of its own `code_interpreter` step."""
        step = self._hosted
        if step is None or step.call_id != event.call_id or step not in self._steps:
            step, events = self._open_step(len(self._turn), event.call_id, "", hosted=True)
            self._hosted = step
        else:
            events = self._close_message("completed")
        step.arguments.append(event.content)
        events.append(self._delta(step, event.content, ""))
        return events

    def _hosted_console(self, start: bool) -> list[RunEvent]:
        """The console block of the provider's code: its output, then the step's completion."""
        step = self._hosted
        if step is None or step not in self._steps:
            return []
        if start:
            step.ran = True
            self._running = step
            return []
        self._running = self._hosted = None
        return self._complete(step, "completed")

    def _find(self, call_id: str | None, name: str | None, kind: str | None = None) -> _ToolStep | None:
        """The open step of a call: by its id, else the first one of that tool (or kind) not run yet."""
        candidates = [step for step in self._steps if kind is None or step.kind == kind]
        for step in candidates:
            if call_id is not None and step.call_id == call_id:
                return step
        for step in candidates:
            if (name is None or step.name == name) and step is not self._running and not step.ran:
                return step
        return None

    def _status(self, status: StatusEvent) -> list[RunEvent]:
        call = status.call
        if call is None:
            return []  # the run's own start and end: `finish()` ends it, with the response's usage
        events = self._close_message("completed")
        self._turn_over = True
        step = self._find(call.id, call.name)
        if step is None:
            step, opened = self._step_for_call(call)
            events += opened
        if status.kind == "step.started":
            self._running = step
            return events
        result = status.result or ""
        if step.kind == "function" or (not step.ran and not step.output):
            events.append(self._output(step, result))  # a function's result; code that never ran: why
        events += self._complete(step, "completed")
        self._running = None
        return events

    def _step_for_call(self, call: ToolCall) -> tuple[_ToolStep, list[RunEvent]]:
        """A step for a call that streamed no pieces (a run fed from status events only)."""
        step, events = self._open_step(len(self._turn), call.id, call.name)
        if call.raw_arguments:
            step.arguments.append(call.raw_arguments)
            events.append(self._delta(step, call.raw_arguments, ""))
        return step, events

    def _complete(self, step: _ToolStep, status: str) -> list[RunEvent]:
        self._steps.remove(step)
        output = "".join(step.output) if step.output else None
        return [(f"thread.run.step.{status}", self._tool_step_data(step, status, output))]

    def _close_steps(self, status: str) -> list[RunEvent]:
        events: list[RunEvent] = []
        for step in list(self._steps):
            events += self._complete(step, status)
        self._running = None
        return events
