"""The chunk wrapper of OpenAI Responses API streams."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..chunks import EventChunk

if TYPE_CHECKING:
    from openai.types.responses import ResponseStreamEvent

__all__ = ["OpenAIResponsesChunk"]

# The events about the response as a whole; every other event updates one output item.
_RESPONSE_EVENTS = frozenset(
    {
        "response.created",
        "response.in_progress",
        "response.queued",
        "response.completed",
        "response.incomplete",
    }
)

_event_types: list[Any] = []  # the SDK event union's pydantic TypeAdapter and its classes by type


def _native_event(payload: dict[str, Any]) -> ResponseStreamEvent:
    """The SDK's event object for `payload`, built the way the SDK builds it.

    Like the SDK, validate against its event union `ResponseStreamEvent`, and when the payload
    does not fit, construct the class its `type` names without validation (an event type the
    SDK does not know is constructed as a plain SDK model with the payload's fields).
    """
    from pydantic import ValidationError

    if not _event_types:
        from typing import get_args

        from openai import BaseModel
        from openai.types.responses import ResponseStreamEvent
        from pydantic import TypeAdapter

        union = get_args(ResponseStreamEvent)[0]
        classes = {get_args(cls.model_fields["type"].annotation)[0]: cls for cls in get_args(union)}
        _event_types.extend((TypeAdapter(ResponseStreamEvent), classes, BaseModel))
    adapter, classes, fallback = _event_types
    try:
        native: ResponseStreamEvent = adapter.validate_python(payload)
    except ValidationError:
        native = classes.get(payload.get("type"), fallback).construct(**payload)
    return native


class OpenAIResponsesChunk(EventChunk):
    """One event of a Responses API stream.

    The Responses API has no choices: it streams one response as a sequence of typed events.
    Every event except `error` (raised as a typed error) becomes a chunk.

    - `.chunk` is the SDK's own event (`ResponseTextDeltaEvent`, `ResponseCompletedEvent`,
      ...; the `ResponseStreamEvent` union), built the first time it is asked for, the way
      the SDK builds it.
    - `.choices` is `[chunk.chunk]` for the events that update an output item (everything but
      `response.created`, `.in_progress`, `.queued`, `.completed` and `.incomplete`), else `[]`;
      `.choice` that event or `None`.
    - `.delta` is the text of a `*.delta` event (`response.output_text.delta`, ...), else `None`.
    - `.choice_index` is always 0.

    `content` is the text of `response.output_text.delta`; `thinking` that of
    `response.reasoning_summary_text.delta` and `response.reasoning_text.delta`;
    `tool_calls` numbers the function calls of the response 0, 1, ... with each piece carrying
    the call's `call_id` and name; `finish_reason` and `usage` are set on
    `response.completed` and `response.incomplete`.
    """

    __slots__ = ()

    provider: ClassVar[str] = "openai"

    @property
    def chunk(self) -> ResponseStreamEvent:
        """The SDK's stream event for this chunk."""
        native: ResponseStreamEvent | None = self._native
        if native is None:
            native = self._native = _native_event(self._payload)
        return native

    @property
    def choices(self) -> list[ResponseStreamEvent]:
        """`[event]` for the events that update an output item, `[]` otherwise."""
        return [] if self._type in _RESPONSE_EVENTS else [self.chunk]

    @property
    def delta(self) -> str | None:
        """The text a `*.delta` event adds, else `None`."""
        if not self._type.endswith(".delta"):
            return None
        delta = self._payload.get("delta")
        return delta if isinstance(delta, str) else None
