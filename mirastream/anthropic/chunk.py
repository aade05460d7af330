"""The Anthropic chunk wrapper."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from ..chunks import EventChunk

if TYPE_CHECKING:
    from typing import TypeAlias

    from anthropic.types import (
        RawContentBlockDelta,
        RawContentBlockDeltaEvent,
        RawContentBlockStartEvent,
        RawContentBlockStopEvent,
        RawMessageDeltaEvent,
        RawMessageStreamEvent,
    )
    from anthropic.types.raw_message_delta_event import Delta as MessageDelta

    PartEvent: TypeAlias = (
        RawContentBlockStartEvent
        | RawContentBlockDeltaEvent
        | RawContentBlockStopEvent
        | RawMessageDeltaEvent
    )

__all__ = ["AnthropicResponseChunk"]

# The events that update a part of the answer: a content block, or the message's ending.
_PART_EVENTS = frozenset(
    {"content_block_start", "content_block_delta", "content_block_stop", "message_delta"}
)
_DELTA_EVENTS = frozenset({"content_block_delta", "message_delta"})

_event_classes: dict[str, Any] = {}
_event_adapter: list[Any] = []  # the SDK event union's pydantic TypeAdapter, made on first use


def _event_class(event_type: str) -> Any:
    """The SDK's class for a stream event type (imported on first use)."""
    if not _event_classes:
        from anthropic import types

        _event_classes.update(
            message_start=types.RawMessageStartEvent,
            content_block_start=types.RawContentBlockStartEvent,
            content_block_delta=types.RawContentBlockDeltaEvent,
            content_block_stop=types.RawContentBlockStopEvent,
            message_delta=types.RawMessageDeltaEvent,
            message_stop=types.RawMessageStopEvent,
        )
    return _event_classes[event_type]


def _native_event(event_type: str, payload: dict[str, Any]) -> Any:
    """The SDK's event object for `payload`, built the way the SDK builds it.

    Like the SDK, validate against its event union (pydantic-core, fast) and fall back to
    constructing the event class without validation when the payload does not fit.
    """
    from pydantic import ValidationError

    if not _event_adapter:
        from anthropic.types import RawMessageStreamEvent
        from pydantic import TypeAdapter

        _event_adapter.append(TypeAdapter(RawMessageStreamEvent))
    try:
        return _event_adapter[0].validate_python(payload)
    except ValidationError:
        return _event_class(event_type).construct(**payload)


class AnthropicResponseChunk(EventChunk):
    """One event of a Messages API stream.

    The Messages API has no choices: it streams one message as a sequence of events.
    Every event except `ping` and `error` becomes a chunk.

    - `.chunk` is the SDK's own event (`RawMessageStartEvent`, `RawContentBlockStartEvent`,
      `RawContentBlockDeltaEvent`, `RawContentBlockStopEvent`, `RawMessageDeltaEvent` or
      `RawMessageStopEvent`), built the first time it is asked for, without validation,
      the way the SDK builds it.
    - `.choices` is `[chunk.chunk]` for the events that update a part of the answer
      (`content_block_start`, `content_block_delta`, `content_block_stop` and
      `message_delta`), and `[]` for `message_start` and `message_stop`.
    - `.choice` is that event, or `None`; so `chunk.choice.delta` reads as on OpenAI on the
      delta events.
    - `.delta` is the event's delta (`TextDelta`, `InputJSONDelta`, `ThinkingDelta`,
      `SignatureDelta`, `CitationsDelta`, or the message `Delta` on `message_delta`), or `None`.
    - `.choice_index` is always 0.

    `content` is the text of a `text_delta`, `thinking` that of a `thinking_delta`;
    `tool_calls` numbers the calls of the turn 0, 1, ... (not by content block index);
    `finish_reason` and `usage` (input and output tokens together) are set on
    `message_delta`.
    """

    __slots__ = ()

    provider: ClassVar[str] = "anthropic"

    @property
    def chunk(self) -> RawMessageStreamEvent:
        """The SDK's raw stream event for this chunk."""
        native: RawMessageStreamEvent | None = self._native
        if native is None:
            native = self._native = _native_event(self._type, self._payload)
        return native

    @property
    def choices(self) -> list[PartEvent]:
        """`[event]` for the events that update a part of the answer, `[]` otherwise."""
        if self._type in _PART_EVENTS:
            return [cast("PartEvent", self.chunk)]
        return []

    @property
    def choice(self) -> PartEvent | None:
        """The event, when it updates a part of the answer; `None` on `message_start`/`message_stop`."""
        choice: PartEvent | None = super().choice
        return choice

    @property
    def delta(self) -> RawContentBlockDelta | MessageDelta | None:
        """The delta of a `content_block_delta` or `message_delta` event, else `None`."""
        if self._type not in _DELTA_EVENTS:
            return None
        return cast("RawContentBlockDeltaEvent | RawMessageDeltaEvent", self.chunk).delta
