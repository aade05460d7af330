"""The IO-free state of a tool loop, shared by the sync and async stream drivers.

A run alternates model turns and tool calls: the drivers send each turn's request and feed
its chunks here (to stream the code of code-interpreter calls), then execute the calls this
returns and record their results, until the model answers without calling tools.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._provider import ProviderCall
from .chunks import ResponseChunk
from .errors import MaxStepsReached
from .events import Event
from .messages import Message, ToolCall
from .responses import Response, Step, ToolResult, add_usage
from .tools.code_interpreter import CodeInterpreter, CodeWatcher, language_of

if TYPE_CHECKING:
    from pydantic import BaseModel


Tool = Any  # FunctionTool | CodeInterpreter


class Invocation:
    """One tool call to execute: the call, its tool and its checked arguments (or why they fail)."""

    __slots__ = ("arguments", "call", "code", "error", "language", "step", "tool")

    def __init__(self, step: int, call: ToolCall, tool: Tool, error: str | None = None) -> None:
        self.step = step
        self.call = call
        self.tool = tool
        self.error = error
        self.arguments: BaseModel | None = None
        self.language = ""
        self.code = ""

    @property
    def is_code(self) -> bool:
        """Whether this runs code through a `CodeInterpreter`."""
        return isinstance(self.tool, CodeInterpreter) and self.error is None


class AgentRun:
    """A tool loop in progress: its messages, its steps and the code being written."""

    def __init__(
        self,
        provider: str,
        make_call: Callable[[Sequence[Message]], ProviderCall[Any]],
        messages: Sequence[Message],
        tools: Sequence[Tool],
        max_steps: int,
        declared: Sequence[str] = (),
        first_call: ProviderCall[Any] | None = None,
    ) -> None:
        self.provider = provider
        self._make_call = make_call
        self.messages = list(messages)
        self.tools: dict[str, Tool] = {tool.name: tool for tool in tools}
        # Tools given as plain provider dicts: the model may call them, but only the caller
        # can run them, so such a call ends the loop with the calls on the response.
        self.declared = frozenset(declared) - set(self.tools)
        self.max_steps = max_steps
        self.steps: list[Step] = []
        self.done = False
        self._turn: Response | None = None
        self._results: list[ToolResult] = []
        self._watchers: dict[int, CodeWatcher] = {}
        self._watched_names: dict[int, str] = {}
        self._first_call = first_call

    @property
    def step(self) -> int:
        """The number of the current turn, from 1."""
        return len(self.steps) + 1

    def next_call(self) -> ProviderCall[Any] | None:
        """The request of the next model turn, or `None` when the run is over."""
        if self.done:
            return None
        self._watchers = {}
        self._watched_names = {}
        first, self._first_call = self._first_call, None
        return first if first is not None else self._make_call(self.messages)

    def watch(self, chunk: ResponseChunk) -> list[Event]:
        """Code events for the code-interpreter call pieces in `chunk`."""
        events: list[Event] = []
        for delta in chunk.tool_calls:
            if delta.name:
                self._watched_names[delta.index] = delta.name
            if not isinstance(self.tools.get(self._watched_names.get(delta.index, "")), CodeInterpreter):
                continue
            watcher = self._watchers.get(delta.index)
            if watcher is None:
                watcher = self._watchers[delta.index] = CodeWatcher(delta.id)
            if delta.arguments:
                events.extend(watcher.feed(delta.arguments))
        return events

    def end_turn(self, turn: Response) -> tuple[list[Event], list[Invocation]]:
        """Close the turn: the last code events, and the calls to execute (none: the run is over).

        Raises:
            MaxStepsReached: the model still calls tools after `max_steps` turns.
        """
        events = [event for watcher in self._watchers.values() for event in watcher.finish()]
        self._turn = turn
        calls = turn.tool_calls
        if not calls or any(call.name in self.declared for call in calls):
            self._finish_step()
            self.done = True
            return events, []
        if len(self.steps) + 1 >= self.max_steps:
            self._finish_step()
            self.done = True
            raise MaxStepsReached(
                f"the model was still calling tools after {self.max_steps} turns (max_steps); "
                "its last tool calls were not run",
                provider=self.provider,
            )
        return events, [self._invocation(call) for call in calls]

    def _invocation(self, call: ToolCall) -> Invocation:
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self.tools))
            return Invocation(self.step, call, None, f"There is no tool named {call.name!r}; tools: {known}.")
        if call.arguments is None:
            return Invocation(
                self.step, call, tool, f"The arguments are not a JSON object: {call.raw_arguments[:200]!r}."
            )
        if isinstance(tool, CodeInterpreter):
            return self._code_invocation(call, tool)
        invocation = Invocation(self.step, call, tool)
        try:
            invocation.arguments = tool.validate(call.arguments)
        except ValueError as error:  # ToolArgumentsError: its message is written for the model
            invocation.error = str(error)
        return invocation

    def _code_invocation(self, call: ToolCall, tool: CodeInterpreter) -> Invocation:
        invocation = Invocation(self.step, call, tool)
        arguments = call.arguments or {}
        language = language_of(arguments.get("language"))
        code = arguments.get("code")
        if language not in tool.languages:
            invocation.error = (
                f"Unknown language {arguments.get('language')!r}; use one of: {', '.join(tool.languages)}."
            )
        elif not isinstance(code, str) or not code.strip():
            invocation.error = "The `code` argument must be a non-empty string."
        else:
            invocation.language = language
            invocation.code = code
        return invocation

    def record(self, invocation: Invocation, output: str, is_error: bool) -> None:
        """Keep a call's result for the model."""
        self._results.append(ToolResult(call=invocation.call, output=output, is_error=is_error))

    def finish_tools(self) -> None:
        """All calls of the turn have results: add the turn and the results to the messages."""
        assert self._turn is not None
        self.messages.append(self._turn.message())
        for result in self._results:
            self.messages.append(
                Message(
                    role="tool", content=result.output, tool_call_id=result.call.id, name=result.call.name
                )
            )
        self._finish_step()

    def _finish_step(self) -> None:
        if self._turn is not None:
            self.steps.append(Step(response=self._turn, results=tuple(self._results)))
        self._turn = None
        self._results = []

    def response(self, current: Response | None, **fields: Any) -> Response:
        """The run's response: the last turn (or `current`, the one in progress), with every step."""
        steps = list(self.steps)
        last = current if current is not None else (steps[-1].response if steps else None)
        if current is not None and (not steps or steps[-1].response is not current):
            steps.append(Step(response=current))
        if last is None:
            return Response(provider=self.provider, **fields)
        usage = None
        for step in steps:
            usage = add_usage(usage, step.response.usage)
        return last.model_copy(update={"steps": tuple(steps), "usage": usage, **fields})
