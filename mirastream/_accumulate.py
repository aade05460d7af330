"""Accumulation of streamed pieces into a `Response`, shared by every provider's decoder.

Pieces are appended to lists and joined once, when the response is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .messages import ToolCall
from .responses import Choice, FinishReason, Response, Usage

_AccumulatorT = TypeVar("_AccumulatorT")


def _made_on_first_use(
    accumulators: dict[int, _AccumulatorT], index: int, make: Callable[[int], _AccumulatorT]
) -> _AccumulatorT:
    """The accumulator at `index`, made by `make(index)` the first time it is asked for."""
    accumulator = accumulators.get(index)
    if accumulator is None:
        accumulator = accumulators[index] = make(index)
    return accumulator


class ToolCallAccumulator:
    """The pieces of one tool call."""

    __slots__ = ("arguments", "id", "index", "name", "signature")

    def __init__(self, index: int) -> None:
        self.index = index
        self.id: str | None = None
        self.name: str | None = None
        self.arguments: list[str] = []
        self.signature: str | None = None

    def build(self) -> ToolCall:
        return ToolCall.from_raw(
            self.id or f"call_{self.index}", self.name or "", "".join(self.arguments), self.signature
        )


class ChoiceAccumulator:
    """The pieces of one choice: text, reasoning, refusal, tool calls and finish reason."""

    __slots__ = ("finish_reason", "index", "raw_finish_reason", "refusal", "text", "thinking", "tool_calls")

    def __init__(self, index: int) -> None:
        self.index = index
        self.text: list[str] = []
        self.thinking: list[str] = []
        self.refusal: list[str] = []
        self.tool_calls: dict[int, ToolCallAccumulator] = {}
        self.finish_reason: FinishReason | None = None
        self.raw_finish_reason: str | None = None

    def tool_call(self, index: int) -> ToolCallAccumulator:
        """The accumulator of call `index`, created on first use."""
        return _made_on_first_use(self.tool_calls, index, ToolCallAccumulator)

    def finish(self, normalised: FinishReason | None, raw: str | None) -> None:
        """Record why the choice ended; a turn with tool calls always ends in `tool_calls`."""
        if normalised == "stop" and self.tool_calls:
            normalised = "tool_calls"
        self.finish_reason = normalised
        self.raw_finish_reason = raw

    def build(self) -> Choice:
        return Choice(
            index=self.index,
            text="".join(self.text),
            thinking="".join(self.thinking),
            refusal="".join(self.refusal) if self.refusal else None,
            tool_calls=tuple(self.tool_calls[index].build() for index in sorted(self.tool_calls)),
            finish_reason=self.finish_reason,
            raw_finish_reason=self.raw_finish_reason,
        )


class ResponseAccumulator:
    """Everything a decoder has seen so far: choices, usage, model and id."""

    __slots__ = ("choices", "id", "model", "provider", "usage")

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.choices: dict[int, ChoiceAccumulator] = {}
        self.usage: Usage | None = None
        self.model: str | None = None
        self.id: str | None = None

    def choice(self, index: int) -> ChoiceAccumulator:
        """The accumulator of choice `index`, created on first use."""
        return _made_on_first_use(self.choices, index, ChoiceAccumulator)

    @property
    def text(self) -> str:
        """The text of the first choice so far."""
        first = self.choices.get(0)
        return "".join(first.text) if first is not None else ""

    def build(self, **fields: Any) -> Response:
        """The aggregated response; `fields` sets timing and status fields."""
        return Response(
            provider=self.provider,
            model=self.model,
            id=self.id,
            choices=tuple(self.choices[index].build() for index in sorted(self.choices)),
            usage=self.usage,
            **fields,
        )
