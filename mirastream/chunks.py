"""The uniform chunk interface every provider's chunks implement."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypedDict

from .responses import FinishReason, Usage

if TYPE_CHECKING:
    pass

__all__ = ["ChunkFields", "EventChunk", "HostedPiece", "ResponseChunk", "ToolCallDelta"]

HostedKind = Literal["code", "code_done", "output", "image", "end"]


class ToolCallDelta:
    """A piece of a tool call as it streams in.

    Attributes:
        index: the position of the call in the turn; pieces with the same index belong together.
        id: the provider's id of the call (usually only on its first piece).
        name: the tool's name (usually only on its first piece).
        arguments: the next piece of the JSON arguments text ("" when none).
    """

    __slots__ = ("arguments", "id", "index", "name")

    def __init__(self, index: int, id: str | None, name: str | None, arguments: str) -> None:
        self.index = index
        self.id = id
        self.name = name
        self.arguments = arguments

    def __repr__(self) -> str:
        return (
            f"ToolCallDelta(index={self.index}, id={self.id!r}, name={self.name!r}, "
            f"arguments={self.arguments!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ToolCallDelta):
            return NotImplemented
        return (self.index, self.id, self.name, self.arguments) == (
            other.index,
            other.id,
            other.name,
            other.arguments,
        )

    __hash__ = None  # type: ignore[assignment]


class HostedPiece:
    """A piece of what the provider streams about code it runs itself (hosted code execution).

    Every provider's hosted code execution comes in this one form, in order:

    - `code`: the next piece of the code (`text`), in `language` (`python` or `shell`);
    - `code_done`: the code is complete and runs now;
    - `output`: console output `text`, on `stream` (`stdout` or `stderr`);
    - `image`: an image the code displayed: `mime` and `text` (base64);
    - `end`: the execution is over (its output, if any, came before).

    Attributes:
        kind: which of the above.
        call_id: the provider's id of the execution (the same on all its pieces).
        language: the code's language (`python`, `shell`).
        text: the code, output or image data of this piece ("" when none).
        stream: `stdout` or `stderr` for output.
        mime: the image's MIME type, for an image.
    """

    __slots__ = ("call_id", "kind", "language", "mime", "stream", "text")

    def __init__(
        self,
        kind: HostedKind,
        call_id: str,
        text: str = "",
        *,
        language: str = "python",
        stream: Literal["stdout", "stderr"] = "stdout",
        mime: str = "",
    ) -> None:
        self.kind = kind
        self.call_id = call_id
        self.language = language
        self.text = text
        self.stream = stream
        self.mime = mime

    def _key(self) -> tuple[str, str, str, str, str, str]:
        return (self.kind, self.call_id, self.language, self.text, self.stream, self.mime)

    def __repr__(self) -> str:
        return f"HostedPiece({self.kind!r}, {self.call_id!r}, {self.text!r}, language={self.language!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HostedPiece):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]


class ChunkFields(TypedDict, total=False):
    """The normalised fields a provider's chunk is made with, by name (see `ResponseChunk`)."""

    content: str
    thinking: str
    tool_calls: tuple[ToolCallDelta, ...]
    finish_reason: FinishReason | None
    usage: Usage | None
    choice_index: int
    hosted: tuple[HostedPiece, ...]


class ResponseChunk:
    """One chunk of a model's streamed answer, the same on every provider.

    The normalised fields are plain attributes, computed once when the chunk is decoded.
    The provider's native object (`.chunk`) and the views derived from it (`.choices`,
    `.choice`, `.delta`) are built only when first asked for.

    Attributes:
        content: the new text in this chunk; always a `str`, `""` when there is none, so it
            is safe to print on every chunk.
        thinking: new reasoning text ("" when none); never part of `content`.
        tool_calls: tool-call pieces in this chunk.
        finish_reason: set on the chunk that ends a choice, normalised.
        usage: token counts, on the chunk that carries them.
        choice_index: which choice `content`, `thinking`, `tool_calls` and `finish_reason`
            belong to (always 0 unless you asked for several choices).
        hosted: pieces of code the provider runs itself (hosted code execution, see
            `HostedPiece`), on the chunks that carry them; `()` otherwise.
    """

    __slots__ = (
        "_hosted",
        "_native",
        "choice_index",
        "content",
        "finish_reason",
        "thinking",
        "tool_calls",
        "usage",
    )

    provider: ClassVar[str] = ""

    # The `StreamItem` surface every streamed item shares (see `mirastream.events`).
    item_type: ClassVar[Literal["chunk"]] = "chunk"
    role: ClassVar[str] = "assistant"
    type: ClassVar[str] = "message"
    format: ClassVar[str | None] = None
    start: ClassVar[bool] = False
    end: ClassVar[bool] = False

    content: str
    choice_index: int
    thinking: str
    tool_calls: tuple[ToolCallDelta, ...]
    finish_reason: FinishReason | None
    usage: Usage | None
    _hosted: tuple[HostedPiece, ...]

    def __init__(
        self,
        content: str = "",
        thinking: str = "",
        tool_calls: tuple[ToolCallDelta, ...] = (),
        finish_reason: FinishReason | None = None,
        usage: Usage | None = None,
        choice_index: int = 0,
        hosted: tuple[HostedPiece, ...] = (),
    ) -> None:
        self._native: Any = None
        self.content = content
        self.thinking = thinking
        self.tool_calls = tool_calls
        self.finish_reason = finish_reason
        self.usage = usage
        self.choice_index = choice_index
        if hosted:  # left unset otherwise: most chunks never pay for it
            self._hosted = hosted

    @property
    def hosted(self) -> tuple[HostedPiece, ...]:
        """Pieces of code the provider runs itself (hosted code execution), or `()`."""
        hosted: tuple[HostedPiece, ...] = getattr(self, "_hosted", ())
        return hosted

    def to_lmc(self) -> dict[str, Any]:
        """Return the chunk's text as an Open Interpreter LMC message dict."""
        return {"role": "assistant", "type": "message", "content": self.content}

    @property
    def chunk(self) -> Any:
        """The provider SDK's own object for this chunk."""
        raise NotImplementedError

    @property
    def choices(self) -> list[Any]:
        """The provider's choices in this chunk (see the provider's documentation)."""
        raise NotImplementedError

    @property
    def choice(self) -> Any | None:
        """The first of `choices`, or `None` when the chunk has none."""
        choices = self.choices
        return choices[0] if choices else None

    @property
    def delta(self) -> Any | None:
        """The provider's delta object of this chunk, or `None`."""
        raise NotImplementedError

    @property
    def model(self) -> str | None:
        """The model that produced this chunk, as the provider names it."""
        raise NotImplementedError

    def __repr__(self) -> str:
        parts = [f"content={self.content!r}"]
        if self.thinking:
            parts.append(f"thinking={self.thinking!r}")
        if self.tool_calls:
            parts.append(f"tool_calls={list(self.tool_calls)!r}")
        if self.finish_reason is not None:
            parts.append(f"finish_reason={self.finish_reason!r}")
        if self.usage is not None:
            parts.append(f"usage={self.usage!r}")
        if self.hosted:
            parts.append(f"hosted={list(self.hosted)!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class EventChunk(ResponseChunk):
    """A chunk made from one named server-sent event (Anthropic's Messages, OpenAI's Responses).

    It keeps the event's JSON payload and type, and the model and id the stream announced at
    its start; a provider's subclass builds `.chunk` from them on demand.
    """

    __slots__ = ("_id", "_model", "_payload", "_type")

    def __init__(
        self,
        payload: dict[str, Any],
        event_type: str,
        model: str | None = None,
        stream_id: str | None = None,
        content: str = "",
        thinking: str = "",
        tool_calls: tuple[ToolCallDelta, ...] = (),
        finish_reason: FinishReason | None = None,
        usage: Usage | None = None,
        choice_index: int = 0,
        hosted: tuple[HostedPiece, ...] = (),
    ) -> None:
        # The normalised fields by name, passed on without a dict: one chunk per event.
        ResponseChunk.__init__(
            self, content, thinking, tool_calls, finish_reason, usage, choice_index, hosted
        )
        self._payload = payload
        self._type = event_type
        self._model = model
        self._id = stream_id

    @property
    def event_type(self) -> str:
        """The event's type (read without building `.chunk`)."""
        return self._type

    @property
    def model(self) -> str | None:
        """The model that produced this chunk, as the stream announced it at its start."""
        return self._model

    @property
    def id(self) -> str | None:
        """The id of the message or response this chunk belongs to."""
        return self._id
