"""What the provider prompt classes share: call parameters in, typed streams out.

A provider's prompt class names its parts (its call parameter class, how it encodes a
request, how it makes a call with a sync or an async client); this base turns a
`stream()` or `stream_async()` call into a prepared stream with them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from ._provider import ProviderCall
from ._run import Run
from .events import Event
from .messages import Message
from .params import BaseCallParams
from .prompts import BasePrompt
from .retries import RetryPolicy
from .streams import AsyncStream, Stream
from .telemetry._gate import attach, observed
from .timeouts import Timeouts

ParamsT = TypeVar("ParamsT", bound=BaseCallParams)
ChunkT = TypeVar("ChunkT")
CallFactory = Callable[[Sequence[Message]], ProviderCall[ChunkT]]
"""Makes the `ProviderCall` of one model turn from the conversation so far."""


class ProviderPrompt(BasePrompt, Generic[ParamsT, ChunkT]):
    """A prompt class bound to one provider: its call parameter type and its chunk type."""

    call_params: ClassVar[BaseCallParams]

    def _params(self, overrides: dict[str, Any]) -> ParamsT:
        """The class's `call_params` with `overrides` applied (validated)."""
        params = self.call_params.with_overrides(**overrides)
        assert isinstance(params, type(self.call_params))
        return params  # type: ignore[return-value]  # the class's own parameter type

    def _encode(self, params: ParamsT, messages: Sequence[Message]) -> dict[str, Any]:
        """The provider's request keyword arguments for `messages`."""
        raise NotImplementedError

    def _sync_calls(self, params: ParamsT, timeouts: Timeouts) -> CallFactory[ChunkT]:
        """Resolve the sync client now; return what makes each turn's call with it."""
        raise NotImplementedError

    def _async_calls(self, params: ParamsT, timeouts: Timeouts) -> CallFactory[ChunkT]:
        """Resolve the async client factory now; return what makes each turn's call with it."""
        raise NotImplementedError

    def request_kwargs(self, **call_params: Any) -> dict[str, Any]:
        """The exact keyword arguments sent to the SDK's streaming call (first turn).

        `call_params` override the class's `call_params` for this request only.
        """
        return self._encode(self._params(call_params), self.messages())

    def stream(
        self, *, retries: RetryPolicy | None = None, timeouts: Timeouts | None = None, **call_params: Any
    ) -> Stream[ChunkT | Event]:
        """Stream the answer; the request is sent when iteration starts.

        `call_params` override the class's `call_params` for this request only; `retries`
        and `timeouts` override the class's policies. Invalid parameters, template values or
        a missing API key raise here, before any request. With tools to run (functions,
        models, a `CodeInterpreter`, any `Tool`), the stream runs the tool loop and also
        yields its `Event`s.
        """
        params = self._params(call_params)
        limits = timeouts or self.timeouts
        run = self._run(params, self._sync_calls(params, limits))
        return Stream(run, retries=self.retries if retries is None else retries, timeouts=limits)

    def stream_async(
        self, *, retries: RetryPolicy | None = None, timeouts: Timeouts | None = None, **call_params: Any
    ) -> AsyncStream[ChunkT | Event]:
        """The async twin of `stream`: `async with prompt.stream_async() as stream`."""
        params = self._params(call_params)
        limits = timeouts or self.timeouts
        run = self._run(params, self._async_calls(params, limits))
        return AsyncStream(run, retries=self.retries if retries is None else retries, timeouts=limits)

    def _run(self, params: ParamsT, make_call: CallFactory[ChunkT]) -> Run:
        """The run of one stream: one model turn, or a tool loop when `params` has tools to run.

        The first request is prepared now, so bad input fails before anything is sent.
        """
        from .tools._specs import declared_names, executable_tools, watches_hosted_code

        messages = self.messages()
        tools: Sequence[Any] | None = getattr(params, "tools", None)
        make_call, telemetry = observed(type(self), params, make_call)  # OpenTelemetry, when configured
        run = Run(
            make_call(messages),
            make_call,
            messages,
            executable_tools(tools),
            declared=declared_names(tools),
            max_steps=self.max_steps,
            max_calls_per_turn=self.max_calls_per_turn,
            hosted=watches_hosted_code(tools),
        )
        attach(run, telemetry)
        return run
