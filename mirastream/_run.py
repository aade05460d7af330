"""The run behind a stream, written once: model turns, tool calls, bookkeeping, the response.

`Run.flow()` is a generator of IO steps with no IO of its own. It yields `StreamTurn` (send
a model turn and stream its chunks; the reply is the turn's `Response`), `RunTool` (run one
tool call, streaming its events; the reply is its `ToolOutput`) and `Emit` (hand an item to
the consumer). The sync and async streams in `mirastream.streams` are the two drivers that
perform those steps; everything else (which turn comes next, which calls run, what goes back
to the model, when the run is over, what the response and the errors hold) is decided here.
A stream without tools is the same flow with one turn.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from ._provider import Decoder, ProviderCall
from .chunks import ResponseChunk
from .errors import (
    APIConnectionError,
    APITimeoutError,
    MaxStepsReached,
    MirastreamError,
    StreamAlreadyConsumed,
    StreamInterrupted,
)
from .events import Event, StatusEvent
from .messages import Message, ToolCall
from .responses import Response, Step, ToolResult, add_usage
from .tools._protocol import ArgumentWatcher, Tool, ToolArgumentsError, ToolOutput

if TYPE_CHECKING:
    from ._observe import RunObserver
    from .tools.hosted import HostedCodeEvents

__all__ = ["Emit", "Run", "RunTool", "StreamTurn"]

State = Literal["new", "running", "done", "interrupted", "failed"]
CallFactory: TypeAlias = Callable[[Sequence[Message]], ProviderCall[Any]]


@dataclass(frozen=True, slots=True)
class StreamTurn:
    """Send `call` (retrying until its first chunk), yield its chunks; reply: the turn's `Response`."""

    call: ProviderCall[Any]


@dataclass(frozen=True, slots=True)
class RunTool:
    """Run `call` with `tool`, yielding its events; reply: its `ToolOutput`."""

    tool: Tool
    call: ToolCall


@dataclass(frozen=True, slots=True)
class Emit:
    """Hand `item` to the consumer; reply: `None`."""

    item: Event


Flow: TypeAlias = Generator[StreamTurn | RunTool | Emit, Any, None]


def carries_answer(chunk: ResponseChunk) -> bool:
    """Whether `chunk` carries text, thinking, a tool call or hosted code: the first such chunk
    is the first chunk."""
    return bool(chunk.content or chunk.thinking or chunk.tool_calls or chunk.hosted)


class Run:
    """The state of one stream: its turns, tool calls, timing and outcome.

    Args:
        first_call: the first turn's request, prepared (so bad input failed already).
        make_call: makes the request of a later turn from the conversation so far.
        messages: the conversation the first request was made from.
        tools: the tools mirastream runs; none for a plain stream.
        declared: names of tools given as provider dicts: a call to one ends the run with the
            calls on the response, for the caller to run.
        max_steps: the most model turns with tools (`MaxStepsReached` beyond).
        max_calls_per_turn: the most tool calls run per model turn; later ones get a result
            saying they were not run.
        hosted: the provider runs code itself (`HostedCodeInterpreter`): its pieces on the
            chunks become the events of local code, with `provider_executed=True`.
    """

    def __init__(
        self,
        first_call: ProviderCall[Any],
        make_call: CallFactory | None = None,
        messages: Sequence[Message] = (),
        tools: Sequence[Tool] = (),
        *,
        declared: Sequence[str] = (),
        max_steps: int = 10,
        max_calls_per_turn: int = 10,
        hosted: bool = False,
    ) -> None:
        self.provider = first_call.provider
        self.call = first_call
        self.decoder: Decoder[Any] = first_call.decoder()
        self.tools: dict[str, Tool] = {tool.name: tool for tool in tools}
        self.status = False  # yield `StatusEvent`s (`Stream.with_status`)
        self.state: State = "new"
        self.connected = False
        self.closing = False  # a stop from another thread or task is under way
        self.started_at: float | None = None
        self.first_chunk_at: float | None = None
        self.ended_at: float | None = None
        self._make_call = make_call
        self._messages = list(messages)
        self._declared = frozenset(declared) - set(self.tools)
        self._max_steps = max_steps
        self._max_calls = max_calls_per_turn
        self._steps: list[Step] = []
        self._running: Step | None = None  # the turn whose tools run now, with their results so far
        self._continues = False  # a paused turn was continued: the response has several steps
        self._turn_open = False
        self._watchers: dict[int, ArgumentWatcher | None] = {}
        self._watched_names: dict[int, str] = {}
        self._early: dict[int, list[str]] = {}  # pieces of calls whose name has not come yet
        self.watches_hosted = hosted
        self._hosted: HostedCodeEvents | None = None
        self._final: Response | None = None
        self.observer: RunObserver | None = None  # set before iterating (see `mirastream._observe`)
        self._attempt = 0

    @property
    def has_tools(self) -> bool:
        """Whether this run can call tools (a tool loop) rather than stream one answer."""
        return bool(self.tools)

    @property
    def watches(self) -> bool:
        """Whether chunks with tool-call pieces or hosted code go through `watch`."""
        return bool(self.tools) or self.watches_hosted

    # Lifecycle --------------------------------------------------------------------------

    def claim(self) -> None:
        """The stream starts being iterated; a stream is iterated once."""
        if self.state != "new":
            raise StreamAlreadyConsumed(
                "this stream was already iterated (or closed); a stream can be iterated once: "
                "call .stream() again for a new request, or read .response for what arrived",
                provider=self.provider,
            )
        self.state = "running"
        self.started_at = perf_counter()

    def end(self, state: State, error: BaseException | None = None) -> None:
        """The stream ended: `done`, `interrupted` (stopped; by Ctrl-C or a cancellation: `error`)
        or `failed` (with `error`)."""
        if self.state in ("done", "interrupted", "failed"):
            return
        self.ended_at = perf_counter()
        self.state = state
        if self.observer is not None:
            self.observer.run_finished(state, error, self.response())

    def stop_if_running(self) -> None:
        """The consumer closed the stream: a stream not yet over counts as interrupted."""
        if self.state in ("new", "running"):
            self.end("interrupted")

    # The flow ---------------------------------------------------------------------------

    def flow(self) -> Flow:
        """The steps of the whole run, in order (see the module docstring)."""
        if self.status:
            yield Emit(StatusEvent("run.created", 0))
        call: ProviderCall[Any] | None = self.call
        while call is not None:
            turn: Response = yield StreamTurn(call)
            for event in self._finish_watchers():
                yield Emit(event)
            if turn.finish_reason == "paused" and self._make_call is not None:
                # The provider paused a long turn (server tools): send it back as it is, and
                # the model carries on where it stopped.
                self._continues = True
                self._steps.append(Step(response=turn))
                self._check_steps(turn)
                call = self._next_call()
                continue
            calls = self._calls_to_run(turn)
            if not calls:
                self._steps.append(Step(response=turn))
                break
            results: list[ToolResult] = []
            step = len(self._steps) + 1
            self._running = Step(response=turn)
            for position, tool_call in enumerate(calls):
                if self.closing:  # stopped from another thread or task
                    self.end("interrupted")
                    return
                if self.status:
                    yield Emit(StatusEvent("step.started", step, tool_call))
                result = self._guard(tool_call, calls[:position])
                if result is None:
                    result = yield from self._run_tool(tool_call)
                results.append(result)
                self._running = Step(response=turn, results=tuple(results))
                if self.status:
                    yield Emit(StatusEvent("step.completed", step, tool_call, result.output))
            self._steps.append(self._running)
            self._running = None
            if self.closing:
                self.end("interrupted")
                return
            call = self._next_call()
        if self.status:
            yield Emit(StatusEvent("run.completed", len(self._steps)))
        self.end("done")

    def _guard(self, call: ToolCall, earlier: tuple[ToolCall, ...]) -> ToolResult | None:
        """The result of a call the loop guards keep from running, or `None` to run it."""
        if len(earlier) >= self._max_calls:
            return _result(
                call,
                f"Not run: at most {self._max_calls} tool calls run per turn. Call it again in "
                "your next turn if it is still needed.",
            )
        for other in earlier:
            if _same(other, call):
                return _result(call, f"Not run: it repeats call {other.id} of this turn; see that result.")
        if self._steps:
            # The same call again right after it failed would fail the same way: small models
            # otherwise repeat it until `max_steps`. (An identical call later on may be meant:
            # the state it depends on can have changed in between.)
            for result in self._steps[-1].results:
                if result.is_error and _same(result.call, call):
                    return _result(call, REPEATED_FAILURE.format(id=result.call.id))
        return None

    def _run_tool(self, call: ToolCall) -> Generator[RunTool, Any, ToolResult]:
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self.tools))
            return _result(call, f"There is no tool named {call.name!r}; tools: {known}.")
        if call.arguments is None:
            return _result(call, f"The arguments are not a JSON object: {call.raw_arguments[:200]!r}.")
        duplicated = duplicate_keys(call.raw_arguments)
        if duplicated:
            # Which value counts is not defined: what was shown might not be what runs.
            return _result(call, f"The arguments repeat the key(s) {', '.join(map(repr, duplicated))}.")
        if self.observer is not None:
            self.observer.tool_started(tool, call)
        try:
            output: ToolOutput = yield RunTool(tool, call)
        except ToolArgumentsError as error:  # its message is written for the model
            result = _result(call, str(error))
        except MirastreamError:
            raise  # the library's own failures (a session that cannot start, ...) stop the stream
        except Exception as error:  # reported to the model, and kept on the response's steps
            result = _result(call, f"The tool raised {type(error).__name__}: {error}")
        else:
            result = ToolResult(call=call, output=output.output, is_error=output.is_error)
        if self.observer is not None:
            self.observer.tool_finished(result)
        return result

    def _calls_to_run(self, turn: Response) -> tuple[ToolCall, ...]:
        """The calls of a finished turn that the run executes (none: the run is over).

        Raises:
            MaxStepsReached: the model still calls tools after `max_steps` turns.
        """
        calls = turn.tool_calls
        if not self.tools or not calls or any(call.name in self._declared for call in calls):
            return ()
        if turn.finish_reason == "length":
            # Cut off: the last call may be half written. None runs and none is sent back; the
            # run ends with this turn, whose finish reason says why.
            return ()
        if len(self._steps) + 1 >= self._max_steps:
            self._steps.append(Step(response=turn))
            raise MaxStepsReached(
                f"the model was still calling tools after {self._max_steps} turns (max_steps); "
                "its last tool calls were not run",
                provider=self.provider,
            )
        return calls

    def _check_steps(self, turn: Response) -> None:
        """A paused turn was kept: one more turn must fit in `max_steps`."""
        if len(self._steps) >= self._max_steps:
            raise MaxStepsReached(
                f"the model's answer was still paused after {self._max_steps} turns (max_steps)",
                provider=self.provider,
            )

    def _next_call(self) -> ProviderCall[Any]:
        assert self._make_call is not None, "a run of several turns makes its later calls"
        self._messages.extend(self._steps[-1].messages())
        return self._make_call(self._messages)

    # One turn ---------------------------------------------------------------------------

    def begin_turn(self, call: ProviderCall[Any]) -> Decoder[Any]:
        """An attempt at a turn starts: a fresh decoder (a retry starts over)."""
        self._attempt = self._attempt + 1 if call is self.call and self._turn_open else 1
        if self.observer is not None:
            self.observer.attempt_started(call, self._attempt)
        self.call = call
        self.decoder = decoder = call.decoder()
        self._turn_open = True
        self._watchers = {}
        self._watched_names = {}
        self._early = {}
        self._hosted = None
        return decoder

    def end_turn(self) -> Response:
        """The turn's stream ended: check it finished properly; its response."""
        self.decoder.finish()
        self._turn_open = False
        response = self.decoder.response()
        if self.observer is not None:
            self.observer.turn_finished(response)
        return response

    def first_chunk(self) -> None:
        """The first chunk that carries an answer arrived (in the current turn)."""
        if self.first_chunk_at is None:
            self.first_chunk_at = perf_counter()
        if self.observer is not None:
            self.observer.first_chunk()

    def tool_event(self, event: Event) -> None:
        """The running tool yielded `event`."""
        if self.observer is not None:
            self.observer.tool_event(event)

    def attempt_failed(self, error: BaseException) -> None:
        """The current attempt failed before its first chunk (it may be retried)."""
        if self.observer is not None:
            self.observer.attempt_failed(error)

    def watch(self, chunk: ResponseChunk) -> list[Event]:
        """The events of the tool-call pieces in `chunk` (the code being written, ...).

        Only the first choice's calls run, so only they are watched. Pieces that arrive before
        their call's name are held until it is known, so everything that runs was shown.
        Hosted code pieces become the events of local code (see `HostedCodeEvents`).
        """
        if chunk.choice_index != 0:
            return []
        events: list[Event] = []
        hosted = chunk.hosted
        if hosted and self.watches_hosted:
            if self._hosted is None:
                from .tools.hosted import HostedCodeEvents

                self._hosted = HostedCodeEvents()
            events += self._hosted.feed(hosted)
        for delta in chunk.tool_calls:
            index = delta.index
            if delta.name:
                self._watched_names[index] = delta.name
            if index not in self._watchers:
                name = self._watched_names.get(index)
                if name is None:  # no name yet: keep the pieces for its watcher
                    self._early.setdefault(index, []).append(delta.arguments)
                    continue
                tool = self.tools.get(name)
                watcher = self._watchers[index] = None if tool is None else tool.watch(delta.id)
                early = "".join(self._early.pop(index, ()))
                if watcher is not None and early:
                    events.extend(watcher.feed(early))
            watcher = self._watchers[index]
            if watcher is not None and delta.arguments:
                events.extend(watcher.feed(delta.arguments))
        return events

    def _finish_watchers(self) -> list[Event]:
        events = [event for watcher in self._watchers.values() if watcher for event in watcher.finish()]
        if self._hosted is not None:
            events += self._hosted.finish()
        return events

    # Outcome ----------------------------------------------------------------------------

    def response(self) -> Response:
        """The aggregated response: complete once the run ended, else what arrived so far."""
        if self._final is not None:
            return self._final
        started, ended, first = self.started_at, self.ended_at, self.first_chunk_at
        fields: dict[str, Any] = {
            "time_to_first_chunk": None if started is None or first is None else first - started,
            "duration": None if started is None or ended is None else ended - started,
            "interrupted": self.state in ("interrupted", "failed"),
        }
        several = self.has_tools or self._continues
        response = self._tool_loop_response(fields) if several else self.decoder.response(**fields)
        if self.state in ("done", "interrupted", "failed"):
            self._final = response
        return response

    def _tool_loop_response(self, fields: dict[str, Any]) -> Response:
        steps = list(self._steps)
        if self._running is not None:
            steps.append(self._running)
        if self._turn_open:
            steps.append(Step(response=self.decoder.response()))
        if not steps:
            return Response(provider=self.provider, **fields)
        usage = None
        for step in steps:
            usage = add_usage(usage, step.response.usage)
        last = steps[-1].response
        return last.model_copy(update={"steps": tuple(steps), "usage": usage, **fields})

    def failure(self, error: BaseException) -> BaseException | None:
        """The stream failed with `error`: the error to raise, typed and with the partial response.

        Cancellation and `KeyboardInterrupt` pass through unchanged and count as interruptions.
        An error that a stop from another thread or task caused (its aborted read) is no
        failure: the stream ends as interrupted, and this returns `None`.
        """
        if not isinstance(error, Exception):
            self.end("interrupted", error)  # the observer tells Ctrl-C and cancellation from a close
            return error
        if self.closing:
            self.end("interrupted")
            return None
        converted = self.typed(error)
        if isinstance(converted, MirastreamError):
            if self.first_chunk_at is not None and type(converted) is APIConnectionError:
                converted = StreamInterrupted(
                    f"the connection to {self.provider} broke in the middle of the stream "
                    f"({type(error).__name__}: {error})",
                    provider=self.provider,
                )
            if converted.provider is None:
                converted.provider = self.provider
        self.end("failed", converted)
        if isinstance(converted, MirastreamError) and self.connected and converted.response is None:
            converted.response = self.response()
        return converted

    def typed(self, error: BaseException) -> BaseException:
        """`error` as mirastream's typed error (what retry policies see), if it is the SDK's."""
        if not isinstance(error, Exception) or isinstance(error, MirastreamError):
            return error
        return self.call.convert_error(error) or error

    def first_chunk_timeout(self, seconds: float | None) -> APITimeoutError:
        """The error of a turn whose first chunk did not come within `seconds`."""
        return APITimeoutError(
            f"no chunk arrived within the first_chunk timeout ({seconds} s)", provider=self.provider
        )


def duplicate_keys(raw_arguments: str) -> list[str]:
    """The keys that appear twice in one object of a call's JSON arguments (none: `[]`)."""
    import json

    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen and key not in repeated:
                repeated.append(key)
            seen.add(key)
        return dict(items)

    try:
        json.loads(raw_arguments, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return []  # not JSON: reported as such
    return repeated


REPEATED_FAILURE = (
    "Not run: the same call ({id}) failed in your previous turn. Change it, or answer without it."
)
"""The result of a call that repeats the previous turn's failed call (the local chat template
recognises its opening words)."""


def _same(one: ToolCall, other: ToolCall) -> bool:
    """Whether two calls name the same tool with the same decoded arguments."""
    return one.name == other.name and one.arguments is not None and one.arguments == other.arguments


def _result(call: ToolCall, message: str) -> ToolResult:
    return ToolResult(call=call, output=message, is_error=True)
