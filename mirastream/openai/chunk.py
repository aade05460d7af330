"""The OpenAI chunk wrapper."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..chunks import ResponseChunk, ToolCallDelta
from ..responses import FinishReason, Usage

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionChunk
    from openai.types.chat.chat_completion_chunk import Choice, ChoiceDelta

__all__ = ["OpenAIResponseChunk"]


class OpenAIResponseChunk(ResponseChunk):
    """A chunk of a Chat Completions stream.

    `.chunk` is the SDK's own `ChatCompletionChunk`, built (without validation, exactly
    as the SDK builds it) the first time it is asked for. `.choices` are its choices,
    `.choice` the first one or `None` (the usage-only last chunk has no choices),
    `.delta` that choice's `ChoiceDelta` or `None`. With `n > 1` each chunk usually
    carries one choice; `.content` is the text of `.choice`.
    """

    __slots__ = ("_payload",)

    provider: ClassVar[str] = "openai"

    def __init__(
        self,
        payload: dict[str, Any],
        content: str,
        thinking: str,
        tool_calls: tuple[ToolCallDelta, ...],
        finish_reason: FinishReason | None,
        usage: Usage | None,
        choice_index: int = 0,
    ) -> None:
        self._payload = payload
        self.choice_index = choice_index
        self._native: ChatCompletionChunk | None = None
        self.content = content
        self.thinking = thinking
        self.tool_calls = tool_calls
        self.finish_reason = finish_reason
        self.usage = usage

    @property
    def chunk(self) -> ChatCompletionChunk:
        """The SDK's `ChatCompletionChunk` for this chunk."""
        native = self._native
        if native is None:
            from openai.types.chat import ChatCompletionChunk

            native = self._native = ChatCompletionChunk.construct(**self._payload)
        return native

    @property
    def choices(self) -> list[Choice]:
        """The chunk's choices (empty on the usage-only last chunk)."""
        return self.chunk.choices or []

    @property
    def choice(self) -> Choice | None:
        """The first choice, or `None` when the chunk has none."""
        choices = self.choices
        return choices[0] if choices else None

    @property
    def delta(self) -> ChoiceDelta | None:
        """The first choice's delta, or `None`."""
        choice = self.choice
        return choice.delta if choice is not None else None

    @property
    def model(self) -> str | None:
        """The model that produced this chunk."""
        model = self._payload.get("model")
        return model if isinstance(model, str) else None

    @property
    def id(self) -> str | None:
        """The completion's id (the same on every chunk of a stream)."""
        value = self._payload.get("id")
        return value if isinstance(value, str) else None
