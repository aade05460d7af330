"""The IO-free decoder of Gemini streams, shared by both clients.

Gemini streams whole `GenerateContentResponse` objects, not deltas: each carries the new
parts of each candidate, a running `usage_metadata` and, on the last one, a
`finishReason`. The `google-genai` SDK delivers them as pydantic models; the legacy
`google-generativeai` client as proto-plus messages. Both use the same field names, so
one decoder reads both; the differences (unset fields are `None` in one and empty
defaults in the other, enums are `str` or `int` enums, some fields exist only in the
newer SDK) are absorbed by the helpers below.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from .._accumulate import ChoiceAccumulator, ResponseAccumulator
from ..chunks import ToolCallDelta
from ..errors import ContentFilterError, StreamInterrupted
from ..responses import FinishReason, Response, Usage
from .chunk import GeminiChunkBase

ChunkT = TypeVar("ChunkT", bound=GeminiChunkBase)

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
    """The name of an enum value of either client; `None` when unset or unspecified."""
    if value is None:
        return None
    name = getattr(value, "name", None)
    if not isinstance(name, str):
        name = str(value)
    return None if not name or name.endswith("_UNSPECIFIED") else name


def _plain(value: Any) -> Any:
    """JSON fallback for the proto-plus containers of the legacy client's `args`."""
    if isinstance(value, Mapping):
        return dict(value)
    try:
        return list(value)
    except TypeError:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable") from None


def arguments_json(args: Any) -> str:
    """A function call's `args` as JSON text (`"{}"` when there are none)."""
    return json.dumps(args, default=_plain) if args else "{}"


def normalise_usage(metadata: Any) -> Usage | None:
    """Gemini's `usage_metadata` in the common shape; thinking tokens count as output."""
    if not metadata:
        return None
    prompt = metadata.prompt_token_count or 0
    candidates = metadata.candidates_token_count or 0
    thoughts = getattr(metadata, "thoughts_token_count", None) or 0
    return Usage(
        input_tokens=prompt,
        output_tokens=candidates + thoughts,
        total_tokens=metadata.total_token_count or prompt + candidates + thoughts,
        cached_input_tokens=metadata.cached_content_token_count or None,
        reasoning_tokens=thoughts or None,
    )


class GeminiDecoder(Generic[ChunkT]):
    """Decodes Gemini `GenerateContentResponse` objects into chunks.

    Aggregates every candidate by its `index`, turns each `function_call` part into a
    complete tool call (Gemini sends calls whole), keeps the last usage, and raises
    `ContentFilterError` when the prompt itself was blocked. At the end every candidate
    must have said why it finished, or the stream was cut off.
    """

    __slots__ = ("_acc", "_chunk_class", "_usage")

    def __init__(self, chunk_class: type[ChunkT]) -> None:
        self._acc = ResponseAccumulator(_PROVIDER)
        self._chunk_class = chunk_class
        self._usage: Usage | None = None

    @property
    def text(self) -> str:
        return self._acc.text

    def feed(self, response: Any) -> ChunkT:
        acc = self._acc
        if acc.model is None:
            acc.model = response.model_version or None
            acc.id = getattr(response, "response_id", None) or None
        feedback = response.prompt_feedback
        if feedback and enum_name(feedback.block_reason):
            raise self._blocked(feedback)
        content = thinking = ""
        deltas: tuple[ToolCallDelta, ...] = ()
        finish_reason: FinishReason | None = None
        choice_index = 0
        first = True
        for candidate in response.candidates or ():
            index = candidate.index or 0
            state = acc.choice(index)
            text, thought, calls = self._read_parts(state, candidate.content)
            raw_finish = enum_name(candidate.finish_reason)
            if raw_finish is not None:
                state.finish(FINISH_REASONS.get(raw_finish), raw_finish)
            if first:
                first = False
                choice_index = index
                content, thinking, deltas = text, thought, calls
                finish_reason = state.finish_reason if raw_finish is not None else None
        usage = self._read_usage(response.usage_metadata)
        return self._chunk_class(response, content, thinking, deltas, finish_reason, usage, choice_index)

    @staticmethod
    def _read_parts(state: ChoiceAccumulator, content: Any) -> tuple[str, str, tuple[ToolCallDelta, ...]]:
        if not content:
            return "", "", ()
        texts: list[str] = []
        thoughts: list[str] = []
        calls: list[ToolCallDelta] = []
        for part in content.parts or ():
            call = part.function_call
            if call:
                ordinal = len(state.tool_calls)
                target = state.tool_call(ordinal)
                target.id = call.id or f"call_{ordinal}"
                target.name = call.name or ""
                arguments = arguments_json(call.args)
                target.arguments.append(arguments)
                signature = getattr(part, "thought_signature", None)
                if signature:
                    target.signature = base64.b64encode(signature).decode("ascii")
                calls.append(ToolCallDelta(ordinal, target.id, target.name, arguments))
            elif part.text:
                if getattr(part, "thought", None):
                    thoughts.append(part.text)
                    state.thinking.append(part.text)
                else:
                    texts.append(part.text)
                    state.text.append(part.text)
        return "".join(texts), "".join(thoughts), tuple(calls)

    def _read_usage(self, metadata: Any) -> Usage | None:
        usage = normalise_usage(metadata)
        if usage is None:
            return None
        if usage == self._usage:  # Gemini repeats the running usage on every chunk
            return self._usage
        self._usage = self._acc.usage = usage
        return usage

    @staticmethod
    def _blocked(feedback: Any) -> ContentFilterError:
        reason = enum_name(feedback.block_reason)
        detail = getattr(feedback, "block_reason_message", None)
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
