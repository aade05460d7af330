"""The IO-free decoder of Gemini streams, shared by every way mirastream reads them.

Gemini streams whole `GenerateContentResponse` objects, not deltas: each carries the new
parts of each candidate, a running `usageMetadata` and, on the last one, a
`finishReason`. The decoder reads them as JSON objects with the wire's camelCase keys:
straight from the server-sent events (the default clients), or dumped from the objects of
a `google-genai` client you passed in or of the legacy `google-generativeai` client. Each
chunk keeps what its `.chunk` needs, and builds the SDK's object only when asked.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .._accumulate import ChoiceAccumulator, ResponseAccumulator
from .._sse import RawEvent, json_object
from ..chunks import ToolCallDelta
from ..errors import ContentFilterError, StreamInterrupted
from ..responses import FinishReason, Response, Usage
from ._errors import stream_error
from .chunk import GeminiChunkBase

ChunkT = TypeVar("ChunkT", bound=GeminiChunkBase)

Reader = Callable[[Any], "tuple[dict[str, Any], Any]"]
"""Turns one streamed item into its JSON object and the source its chunk keeps."""

_PROVIDER = "gemini"

_CONTENT_FILTERS = (
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_RECITATION",
    "MODEL_ARMOR",
)
FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    **{reason: "content_filter" for reason in _CONTENT_FILTERS},
}
"""Gemini's finish reasons with a common meaning; the others normalise to `None`."""


def enum_name(value: Any) -> str | None:
    """An enum's name (JSON text, or an SDK's `str` enum); `None` when unset or unspecified."""
    if not value or not isinstance(value, str):
        return None
    name: str = getattr(value, "value", value)
    return None if name.endswith("_UNSPECIFIED") else name


def normalise_usage(metadata: dict[str, Any] | None) -> Usage | None:
    """Gemini's `usageMetadata` in the common shape; thinking tokens count as output."""
    if not metadata:
        return None
    prompt = metadata.get("promptTokenCount") or 0
    candidates = metadata.get("candidatesTokenCount") or 0
    thoughts = metadata.get("thoughtsTokenCount") or 0
    return Usage(
        input_tokens=prompt,
        output_tokens=candidates + thoughts,
        total_tokens=metadata.get("totalTokenCount") or prompt + candidates + thoughts,
        cached_input_tokens=metadata.get("cachedContentTokenCount") or None,
        reasoning_tokens=thoughts or None,
    )


def read_event(source: Any) -> Reader:
    """A reader of server-sent events (`(event, data)` tuples) whose chunks all keep `source`.

    An `{"error": ...}` object in the stream raises its typed error, as the SDK would.
    """

    def read(event: RawEvent) -> tuple[dict[str, Any], Any]:
        payload = json_object(event[1], _PROVIDER)
        if "error" in payload:
            raise stream_error(payload["error"])
        return payload, source

    return read


def read_sdk_response(response: Any) -> tuple[dict[str, Any], Any]:
    """A `google-genai` `GenerateContentResponse` as its fields (camelCase keys), and itself."""
    payload: dict[str, Any] = response.model_dump(by_alias=True, exclude_none=True)
    return payload, response


def read_proto(response: Any) -> tuple[dict[str, Any], Any]:
    """A legacy `GenerateContentResponse` proto as JSON (camelCase keys, enum names), and itself."""
    payload: dict[str, Any] = type(response).to_dict(
        response, use_integers_for_enums=False, preserving_proto_field_name=False
    )
    return payload, response


class GeminiDecoder(Generic[ChunkT]):
    """Decodes Gemini `GenerateContentResponse` objects (as JSON) into chunks.

    Aggregates every candidate by its `index`, turns each `functionCall` part into a
    complete tool call (Gemini sends calls whole), keeps the last usage, and raises
    `ContentFilterError` when the prompt itself was blocked. At the end every candidate
    must have said why it finished, or the stream was cut off.
    """

    __slots__ = ("_acc", "_chunk_class", "_metadata", "_read", "_usage")

    def __init__(self, chunk_class: type[ChunkT], read: Reader) -> None:
        self._acc = ResponseAccumulator(_PROVIDER)
        self._chunk_class = chunk_class
        self._read = read
        self._metadata: dict[str, Any] | None = None
        self._usage: Usage | None = None

    @property
    def text(self) -> str:
        return self._acc.text

    def feed(self, item: Any) -> ChunkT:
        payload, source = self._read(item)
        acc = self._acc
        if acc.model is None:
            acc.model = payload.get("modelVersion") or None
            acc.id = payload.get("responseId") or None
        feedback = payload.get("promptFeedback")
        if feedback and enum_name(feedback.get("blockReason")):
            raise self._blocked(feedback)
        content = thinking = ""
        deltas: tuple[ToolCallDelta, ...] = ()
        finish_reason: FinishReason | None = None
        choice_index = 0
        first = True
        for candidate in payload.get("candidates") or ():
            index = candidate.get("index") or 0
            state = acc.choice(index)
            text, thought, calls = self._read_parts(state, candidate.get("content"))
            raw_finish = enum_name(candidate.get("finishReason"))
            if raw_finish is not None:
                state.finish(FINISH_REASONS.get(raw_finish), raw_finish)
            if first:
                first = False
                choice_index = index
                content, thinking, deltas = text, thought, calls
                finish_reason = state.finish_reason if raw_finish is not None else None
        usage = self._read_usage(payload.get("usageMetadata"))
        return self._chunk_class(
            payload, source, content, thinking, deltas, finish_reason, usage, choice_index
        )

    @staticmethod
    def _read_parts(
        state: ChoiceAccumulator, content: dict[str, Any] | None
    ) -> tuple[str, str, tuple[ToolCallDelta, ...]]:
        parts = content.get("parts") if content else None
        if not parts:
            return "", "", ()
        if len(parts) == 1:  # the common case: one piece of text
            part = parts[0]
            text = part.get("text")
            if text and "functionCall" not in part:
                if part.get("thought"):
                    state.thinking.append(text)
                    return "", text, ()
                state.text.append(text)
                return text, "", ()
        texts: list[str] = []
        thoughts: list[str] = []
        calls: list[ToolCallDelta] = []
        for part in parts:
            call = part.get("functionCall")
            if call:
                ordinal = len(state.tool_calls)
                target = state.tool_call(ordinal)
                target.id = call.get("id") or f"call_{ordinal}"
                target.name = call.get("name") or ""
                args = call.get("args")
                arguments = json.dumps(args) if args else "{}"
                target.arguments.append(arguments)
                signature = part.get("thoughtSignature")
                if isinstance(signature, bytes):  # the SDK's objects hold bytes
                    signature = base64.b64encode(signature).decode("ascii")
                if signature:  # base64, as on the wire
                    target.signature = signature
                calls.append(ToolCallDelta(ordinal, target.id, target.name, arguments))
            else:
                text = part.get("text")
                if not text:
                    continue
                if part.get("thought"):
                    thoughts.append(text)
                    state.thinking.append(text)
                else:
                    texts.append(text)
                    state.text.append(text)
        return "".join(texts), "".join(thoughts), tuple(calls)

    def _read_usage(self, metadata: dict[str, Any] | None) -> Usage | None:
        if not metadata:
            return None
        if metadata == self._metadata:  # Gemini repeats the running usage on every chunk
            return self._usage
        usage = normalise_usage(metadata)
        self._metadata = metadata
        if usage != self._usage:
            self._usage = self._acc.usage = usage
        return self._usage

    @staticmethod
    def _blocked(feedback: dict[str, Any]) -> ContentFilterError:
        reason = enum_name(feedback.get("blockReason"))
        detail = feedback.get("blockReasonMessage")
        return ContentFilterError(
            f"gemini blocked the prompt ({reason}){': ' + detail if detail else ''}; "
            "no answer was generated (details on .body)",
            provider=_PROVIDER,
            body=feedback,
        )

    def finish(self) -> None:
        choices = self._acc.choices.values()
        if not choices or any(choice.raw_finish_reason is None for choice in choices):
            raise StreamInterrupted(
                "the gemini stream ended before the answer was finished (no finishReason); "
                "the partial answer is on .response",
                provider=_PROVIDER,
            )

    def response(self, **fields: Any) -> Response:
        return self._acc.build(**fields)
