"""The telemetry of one stream: a `RunObserver` that records GenAI spans and metrics.

Spans (OpenTelemetry GenAI semantic conventions):

- `invoke_agent {prompt class}` (INTERNAL), the parent of everything below, for a run with
  tools to run (a tool loop), so that one question is one trace;
- `{operation} {model}` (CLIENT), e.g. `chat gpt-4o`, one per model turn, covering every
  attempt of the turn: a failed attempt that is retried is an `exception` event on it;
- `execute_tool {tool}` (INTERNAL), one per tool call mirastream runs.

Every span ends when its part ends, and whatever is open ends with the run, however it ends
(`run_finished`, which the drivers call on a `break`, `close()`, a cancellation, Ctrl-C or an
error), or, for a run that never got there, when the run is garbage-collected.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from time import perf_counter
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from ..events import ConfirmationEvent
from . import _attributes as attrs
from ._gate import CallFactory, Settings, capture_content
from ._instruments import Instruments, instruments

if TYPE_CHECKING:
    from .._provider import Decoder, ProviderCall
    from .._run import Run
    from ..errors import MirastreamError
    from ..events import Event
    from ..messages import Message, ToolCall
    from ..params import BaseCallParams
    from ..responses import Response, ToolResult
    from ..tools._protocol import Tool

__all__ = ["RunTelemetry", "TracedCall", "observe"]

_TOOL_TYPE = "function"  # every tool mirastream runs executes on the client side


def observe(
    settings: Settings, prompt_class: type[Any], params: BaseCallParams, make_call: CallFactory
) -> tuple[CallFactory, RunTelemetry]:
    """The instrumented `make_call` and the observer of one stream."""
    telemetry = RunTelemetry(
        instruments(settings.tracer_provider, settings.meter_provider),
        prompt_class,
        params,
        capture=capture_content(settings.capture_content),
    )
    return telemetry.wrap(make_call), telemetry


class RunTelemetry:
    """Records the spans and metrics of one stream's run (see the module docstring)."""

    def __init__(
        self, instruments: Instruments, prompt_class: type[Any], params: BaseCallParams, *, capture: bool
    ) -> None:
        self._instruments = instruments
        self._tracer = instruments.tracer
        self._prompt_class = prompt_class
        self._params = params
        self.capture = capture
        self._has_tools = False
        self._finished = False
        self._finalizer: weakref.finalize[Any, Any] | None = None
        # Known at the first attempt (the provider comes with the call).
        self._span_name = ""
        self._span_attributes: attrs.Attributes = {}
        self.metric_attributes: attrs.Attributes = {}
        # The agent span of a tool loop.
        self._agent: Span | None = None
        self._agent_context: otel_context.Context | None = None
        self._agent_started = 0.0
        # The current model turn.
        self._span: Span | None = None
        self.span_context: otel_context.Context | None = None
        self._turn_started = 0.0
        self._attempt_started = 0.0
        self._attempts = 0
        self._recorded: BaseException | None = None
        self.decoder: Decoder[Any] | None = None
        self.last_chunk: float | None = None
        # The running tool.
        self._tool: Span | None = None
        self._tool_started = 0.0
        self._tool_metric: attrs.Attributes = {}
        self._confirmation: ConfirmationEvent | None = None

    # Wiring -------------------------------------------------------------------------------

    def wrap(self, make_call: CallFactory) -> CallFactory:
        """`make_call` whose calls are traced (see `TracedCall`)."""

        def traced(messages: Sequence[Message]) -> ProviderCall[Any]:
            return TracedCall(make_call(messages), self, tuple(messages) if self.capture else None)

        return traced

    def attach(self, run: Run) -> None:
        """Observe `run`; end whatever is still open if the run is collected unfinished."""
        self._has_tools = run.has_tools
        run.observer = self
        self._finalizer = weakref.finalize(run, self._abandoned)

    def _describe(self, provider: str) -> None:
        provider_name, operation = attrs.provider_names(provider)
        model = getattr(self._params, "model", None)
        common: attrs.Attributes = {"gen_ai.operation.name": operation, "gen_ai.provider.name": provider_name}
        if model:
            common["gen_ai.request.model"] = model
        common.update(attrs.server_attributes(provider, self._prompt_class))
        self.metric_attributes = common
        self._span_attributes = {**common, **attrs.request_attributes(self._params)}
        self._span_name = f"{operation} {model}" if model else operation

    # Model turns ---------------------------------------------------------------------------

    def attempt_started(self, call: ProviderCall[Any], attempt: int) -> None:
        """A request is sent: a new turn's span, or one more attempt on the turn's span."""
        if not self._span_name:
            self._describe(call.provider)
        if self._has_tools and self._agent is None and not self._finished:
            self._start_agent()
        self._attempt_started = perf_counter()
        self._attempts = attempt
        self.last_chunk = None
        if attempt > 1 and self._span is not None:
            self._span.add_event("mirastream.retry", {"mirastream.attempt": attempt})
            return
        self._turn_started = self._attempt_started
        self._recorded = None
        span = self._tracer.start_span(
            self._span_name, self._agent_context, SpanKind.CLIENT, self._span_attributes
        )
        messages = getattr(call, "messages", None)
        if self.capture and messages is not None:
            system, chat = attrs.input_messages(messages)
            if system is not None:
                span.set_attribute("gen_ai.system_instructions", system)
            span.set_attribute("gen_ai.input.messages", chat)
        self._span = span
        self.span_context = trace.set_span_in_context(span, self._agent_context)

    def attempt_failed(self, error: BaseException) -> None:
        """The attempt failed before its first chunk: an `exception` event on the turn's span."""
        if self._span is not None:
            self._span.record_exception(error, {"mirastream.attempt": self._attempts})
            self._recorded = error

    def first_chunk(self) -> None:
        """Time to first chunk, measured from the sending of the attempt that answered."""
        now = perf_counter()
        elapsed = now - self._attempt_started
        if self._span is not None:
            self._span.set_attribute("gen_ai.response.time_to_first_chunk", elapsed)
        self._instruments.time_to_first_chunk.record(elapsed, self.metric_attributes)
        self.last_chunk = now

    def turn_finished(self, response: Response) -> None:
        """The turn ended properly: its response on its span, which ends."""
        self._end_turn(response, state="done", error=None)

    def _end_turn(self, response: Response, *, state: str, error: BaseException | None) -> None:
        span, self._span = self._span, None
        self.span_context = None
        self.decoder = None
        self.last_chunk = None
        if span is None:
            return
        span.set_attributes(attrs.response_attributes(response, ended=state == "done"))
        span.set_attribute("mirastream.attempts", self._attempts)
        if self.capture and response.choices:
            span.set_attribute("gen_ai.output.messages", attrs.output_messages(response))
        metric = {**self.metric_attributes}
        if response.model:
            metric["gen_ai.response.model"] = response.model
        self._record_usage(response, metric)
        if error is not None:
            metric["error.type"] = self._fail(span, error)
        elif state != "done":
            span.set_attribute("mirastream.interrupted", True)
        span.end()
        self._instruments.inference_duration.record(perf_counter() - self._turn_started, metric)

    def _record_usage(self, response: Response, metric: attrs.Attributes) -> None:
        usage = response.usage
        tokens = {**metric, "gen_ai.token.modality": "unknown"}
        instruments = self._instruments
        instruments.input_tokens.add(usage.input_tokens if usage else 0, tokens)
        instruments.output_tokens.add(usage.output_tokens if usage else 0, tokens)
        if usage is not None and usage.cached_input_tokens is not None:
            instruments.cache_read_tokens.add(usage.cached_input_tokens, tokens)
        if usage is not None and usage.reasoning_tokens is not None:
            instruments.reasoning_tokens.add(usage.reasoning_tokens, tokens)

    def _fail(self, span: Span, error: BaseException) -> str:
        """Mark `span` as failed with `error`; its `error.type`."""
        kind = attrs.error_type(error)
        span.set_attribute("error.type", kind)
        if error is not self._recorded:
            span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{kind}: {error}"[:500]))
        return kind

    # The agent span of a tool loop -----------------------------------------------------------

    def _start_agent(self) -> None:
        name = getattr(self._prompt_class, "__name__", "")
        attributes = {**self.metric_attributes, "gen_ai.operation.name": "invoke_agent"}
        if name:
            attributes["gen_ai.agent.name"] = name
        self._agent = self._tracer.start_span(
            f"invoke_agent {name}".rstrip(), kind=SpanKind.INTERNAL, attributes=attributes
        )
        self._agent_context = trace.set_span_in_context(self._agent)
        self._agent_started = perf_counter()

    def _end_agent(self, state: str, error: BaseException | None, response: Response | None) -> None:
        agent, self._agent = self._agent, None
        self._agent_context = None
        if agent is None:
            return
        metric: attrs.Attributes = {
            "gen_ai.request.model": self.metric_attributes.get("gen_ai.request.model")
        }
        name = getattr(self._prompt_class, "__name__", "")
        if name:
            metric["gen_ai.agent.name"] = name
        if response is not None:
            agent.set_attribute("mirastream.steps", len(response.steps))
            if response.usage is not None:
                agent.set_attributes(attrs.usage_attributes(response.usage))
        if error is not None:
            metric["error.type"] = self._fail(agent, error)
        elif state != "done":
            agent.set_attribute("mirastream.interrupted", True)
        agent.end()
        metric = {key: value for key, value in metric.items() if value is not None}
        self._instruments.agent_duration.record(perf_counter() - self._agent_started, metric)

    # Tools ---------------------------------------------------------------------------------

    def tool_started(self, tool: Tool, call: ToolCall) -> None:
        """A tool starts running `call`: its `execute_tool` span, a child of the agent span."""
        attributes: attrs.Attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool.name,
            "gen_ai.tool.call.id": call.id,
            "gen_ai.tool.type": _TOOL_TYPE,
            "mirastream.tool.provider_executed": False,
        }
        description = getattr(tool, "description", "")
        if description:
            attributes["gen_ai.tool.description"] = description
        if self.capture:
            attributes["gen_ai.tool.call.arguments"] = call.raw_arguments
        self._tool = self._tracer.start_span(
            f"execute_tool {tool.name}", self._agent_context, SpanKind.INTERNAL, attributes
        )
        self._tool_started = perf_counter()
        self._tool_metric = {"gen_ai.tool.name": tool.name, "gen_ai.tool.type": _TOOL_TYPE}
        agent = getattr(self._prompt_class, "__name__", "")
        if agent:
            self._tool_metric["gen_ai.agent.name"] = agent
        self._confirmation = None

    def tool_event(self, event: Event) -> None:
        """A code interpreter's confirmation tells the language, and later the decision."""
        if isinstance(event, ConfirmationEvent) and self._tool is not None:
            self._confirmation = event
            self._tool.set_attribute("mirastream.code.language", event.language)

    def tool_finished(self, result: ToolResult) -> None:
        """The tool ended with `result`: completed, failed, or (code) denied."""
        confirmation = self._confirmation
        failure = None
        if confirmation is not None and confirmation.decision is False:
            outcome = "denied"
        elif confirmation is not None:
            from ..tools._code_events import finish_status

            status = finish_status(result.output)
            outcome = "completed" if status == "ok" and not result.is_error else "error"
            failure = None if outcome == "completed" else status
        else:
            outcome = "error" if result.is_error else "completed"
            failure = "tool_error" if result.is_error else None
        self._end_tool(outcome, failure, result)

    def _end_tool(self, outcome: str, failure: str | BaseException | None, result: ToolResult | None) -> None:
        span, self._tool = self._tool, None
        if span is None:
            return
        confirmation, self._confirmation = self._confirmation, None
        span.set_attribute("mirastream.tool.outcome", outcome)
        if confirmation is not None:
            if outcome != "stopped" or confirmation.decision is not None:
                span.set_attribute("mirastream.code.approved", confirmation.decision is not False)
            if result is not None and outcome != "denied":
                from ..tools._code_events import finish_status

                span.set_attribute("mirastream.code.status", finish_status(result.output))
        if self.capture and result is not None:
            span.set_attribute("gen_ai.tool.call.result", result.output)
        metric = dict(self._tool_metric)
        if isinstance(failure, BaseException):
            metric["error.type"] = self._fail(span, failure)
        elif failure is not None:
            span.set_attribute("error.type", failure)
            span.set_status(Status(StatusCode.ERROR, f"the tool ended with {failure}"))
            metric["error.type"] = failure
        span.end()
        self._instruments.tool_duration.record(perf_counter() - self._tool_started, metric)

    # The end of the run ----------------------------------------------------------------------

    def run_finished(self, state: str, error: BaseException | None, response: Response) -> None:
        """The stream ended: whatever is still open ends now, with the outcome."""
        self._finish(state, error, response)

    def _abandoned(self) -> None:
        """The run was collected without ending (its async stream was never closed)."""
        self._finish("interrupted", None, None)

    def _finish(self, state: str, error: BaseException | None, response: Response | None) -> None:
        if self._finished:
            return
        self._finished = True
        if self._finalizer is not None:
            self._finalizer.detach()
        if self._tool is not None:
            self._end_tool("stopped" if error is None or state == "interrupted" else "error", error, None)
        if self._span is not None:
            decoder = self.decoder
            partial = decoder.response() if decoder is not None else response
            if partial is not None:
                self._end_turn(partial, state=state, error=error)
        self._end_agent(state, error, response)


class TracedCall:
    """A `ProviderCall` whose request is sent inside its turn's span (a parent for the SDK's
    own spans and the HTTP client's), and whose decoder times the chunks."""

    __slots__ = ("_call", "_telemetry", "messages", "provider")

    def __init__(
        self, call: ProviderCall[Any], telemetry: RunTelemetry, messages: tuple[Message, ...] | None
    ) -> None:
        self._call = call
        self._telemetry = telemetry
        self.messages = messages
        self.provider = call.provider

    def decoder(self) -> Decoder[Any]:
        """The call's decoder, timing each chunk after the first (`time_per_output_chunk`)."""
        decoder = _TimedDecoder(self._call.decoder(), self._telemetry)
        self._telemetry.decoder = decoder
        return decoder

    def send(self) -> AbstractContextManager[Iterator[Any]]:
        """Send the request with the turn's span as the current span."""
        return _Parented(self._call.send(), self._telemetry)

    def send_async(self) -> AbstractAsyncContextManager[AsyncIterator[Any]]:
        """The async twin of `send`."""
        return _AsyncParented(self._call.send_async(), self._telemetry)

    def convert_error(self, error: Exception) -> MirastreamError | None:
        """The call's typed error for `error`."""
        return self._call.convert_error(error)

    def abort(self) -> None:
        """Shut the call's connection down."""
        self._call.abort()

    def interrupt(self) -> None:
        """Shut the call's connection down; it may be sent again."""
        self._call.interrupt()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


class _TimedDecoder:
    """A decoder that records the time between chunks once the first chunk arrived."""

    __slots__ = ("_decoder", "_record", "_telemetry", "finish", "response")

    def __init__(self, decoder: Decoder[Any], telemetry: RunTelemetry) -> None:
        self._decoder = decoder
        self._telemetry = telemetry
        self._record = telemetry._instruments.time_per_output_chunk.record
        self.finish = decoder.finish
        self.response = decoder.response

    def feed(self, item: Any) -> Any:
        chunk = self._decoder.feed(item)
        if chunk is not None:
            telemetry = self._telemetry
            last = telemetry.last_chunk
            if last is not None:
                now = perf_counter()
                self._record(now - last, telemetry.metric_attributes)
                telemetry.last_chunk = now
        return chunk

    @property
    def text(self) -> str:
        return self._decoder.text


class _Parented(AbstractContextManager[Iterator[Any]]):
    """Enters the call's sending with the turn's span current, so SDK spans are its children."""

    def __init__(self, sending: AbstractContextManager[Iterator[Any]], telemetry: RunTelemetry) -> None:
        self._sending = sending
        self._telemetry = telemetry

    def __enter__(self) -> Iterator[Any]:
        parent = self._telemetry.span_context
        token = otel_context.attach(parent) if parent is not None else None
        try:
            return self._sending.__enter__()
        finally:
            if token is not None:
                otel_context.detach(token)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return self._sending.__exit__(kind, error, tb)


class _AsyncParented(AbstractAsyncContextManager[AsyncIterator[Any]]):
    """The async twin of `_Parented`."""

    def __init__(
        self, sending: AbstractAsyncContextManager[AsyncIterator[Any]], telemetry: RunTelemetry
    ) -> None:
        self._sending = sending
        self._telemetry = telemetry

    async def __aenter__(self) -> AsyncIterator[Any]:
        parent = self._telemetry.span_context
        token = otel_context.attach(parent) if parent is not None else None
        try:
            return await self._sending.__aenter__()
        finally:
            if token is not None:
                otel_context.detach(token)

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return await self._sending.__aexit__(kind, error, tb)
