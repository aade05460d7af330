"""The Gemini chunk wrappers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..chunks import ChunkFields, ResponseChunk
from ._native import NativeResponses

if TYPE_CHECKING:
    from google import generativeai
    from google.ai import generativelanguage
    from google.genai.types import Candidate, Content, GenerateContentResponse
    from typing_extensions import Unpack

__all__ = ["GeminiLegacyResponseChunk", "GeminiResponseChunk"]


class GeminiChunkBase(ResponseChunk):
    """What the chunks of both Gemini clients share: one streamed `GenerateContentResponse`.

    Gemini has no delta type: every streamed item is a whole response whose candidates
    carry the parts generated since the previous one. A chunk keeps that response as JSON
    (`payload`, the wire's camelCase keys) and a `source` from which its subclass gets the
    SDK's own object when `.chunk` is first asked for.
    """

    __slots__ = ("_choices", "_payload", "_source")

    provider: ClassVar[str] = "gemini"

    def __init__(self, payload: dict[str, Any], source: Any, **fields: Unpack[ChunkFields]) -> None:
        super().__init__(**fields)
        self._payload = payload
        self._source = source
        self._choices: list[Any] | None = None

    def _candidates(self) -> Any:
        """The native object's candidates (`None` or a sequence)."""
        raise NotImplementedError

    @property
    def choices(self) -> list[Any]:
        """The response's candidates (empty when it has none, e.g. a blocked prompt)."""
        choices = self._choices
        if choices is None:
            choices = self._choices = list(self._candidates() or ())
        return choices

    @property
    def delta(self) -> Any | None:
        """The first candidate's `content` (the parts new in this chunk), or `None`."""
        choice = self.choice
        if choice is None:
            return None
        return choice.content or None

    @property
    def model(self) -> str | None:
        """The model version that produced this chunk (`modelVersion`)."""
        return self._payload.get("modelVersion") or None

    @property
    def id(self) -> str | None:
        """The response's id (`responseId`, the same on every chunk of a stream)."""
        return self._payload.get("responseId") or None


class GeminiResponseChunk(GeminiChunkBase):
    """A chunk of a Gemini stream from the `google-genai` SDK.

    - `.chunk` is the SDK's own `GenerateContentResponse`, equal to the one
      `generate_content_stream` yields for this chunk (built the first time it is asked
      for; with a `client` of your own, the very object the SDK yielded).
    - `.choices` are its `candidates` (a list, empty when there are none), `.choice` the
      first candidate or `None`, `.delta` that candidate's `Content` (its new `parts`) or
      `None`.
    - `.content` is the text of the first candidate's non-thought text parts (never the
      SDK's `.text` property, which logs warnings when other parts are present),
      `.thinking` the text of its thought parts, `.tool_calls` its function calls, each
      complete in one `ToolCallDelta`.
    - With `candidate_count > 1` a chunk may carry several candidates; the plain fields
      describe the first one, `choice_index` says which, and every candidate is
      aggregated on the stream's `response`.
    """

    __slots__ = ()

    @property
    def chunk(self) -> GenerateContentResponse:
        """The SDK's `GenerateContentResponse` for this chunk."""
        native: GenerateContentResponse | None = self._native
        if native is None:
            source = self._source  # a builder, or the SDK's own object
            native = source.build(self._payload) if isinstance(source, NativeResponses) else source
            self._native = native
        return native

    def _candidates(self) -> Any:
        return self.chunk.candidates

    @property
    def choices(self) -> list[Candidate]:
        """The chunk's candidates (empty when it has none)."""
        return super().choices

    @property
    def choice(self) -> Candidate | None:
        """The first candidate, or `None`."""
        choice: Candidate | None = super().choice
        return choice

    @property
    def delta(self) -> Content | None:
        """The first candidate's `Content`, or `None`."""
        delta: Content | None = super().delta
        return delta


class GeminiLegacyResponseChunk(GeminiChunkBase):
    """A chunk of a Gemini stream from the legacy `google-generativeai` client.

    - `.chunk` is that package's `google.generativeai.types.GenerateContentResponse`,
      the object its own streaming loop yields for each chunk (built on first access).
    - `.choices` are the chunk's `Candidate` protos, `.choice` the first or `None`,
      `.delta` that candidate's `Content` proto or `None`.
    - `.content`, `.thinking`, `.tool_calls`, `.usage` and `.finish_reason` mean what
      they mean on `GeminiResponseChunk`.
    """

    __slots__ = ()

    @property
    def chunk(self) -> generativeai.types.GenerateContentResponse:
        """The legacy package's `GenerateContentResponse` for this chunk."""
        native: generativeai.types.GenerateContentResponse | None = self._native
        if native is None:
            from google.generativeai.types import GenerateContentResponse

            native = self._native = GenerateContentResponse.from_response(self._source)
        return native

    def _candidates(self) -> Any:
        return self._source.candidates

    @property
    def choices(self) -> list[generativelanguage.Candidate]:
        """The chunk's candidates (empty when it has none)."""
        return super().choices

    @property
    def choice(self) -> generativelanguage.Candidate | None:
        """The first candidate, or `None`."""
        choice: generativelanguage.Candidate | None = super().choice
        return choice

    @property
    def delta(self) -> generativelanguage.Content | None:
        """The first candidate's `Content`, or `None`."""
        delta: generativelanguage.Content | None = super().delta
        return delta
