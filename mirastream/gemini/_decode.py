"""The IO-free decoder of Gemini streams, shared by every way mirastream reads them.

Gemini streams whole `GenerateContentResponse` objects, not deltas: each carries the new
parts of each candidate, a running `usageMetadata` and, on the last one, a
`finishReason`. The decoder reads them as JSON objects with the wire's camelCase keys:
straight from the server-sent events (the default clients), or dumped from the objects of
a `google-genai` client you passed in or of the legacy `google-generativeai` client. Each
chunk keeps what its `.chunk` needs, and builds the SDK's object only when asked.

A field of the wrong type (a candidate that is not an object, text that is not a string,
`NaN` as a token count) raises `MalformedStreamError`, naming the field.

Hosted code execution is read into `chunk.hosted` (first candidate): an `executableCode`
part is code, complete at once; a `codeExecutionResult` part its output (on stderr unless
its `outcome` is `OUTCOME_OK`) and its end.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar

from .._accumulate import ChoiceAccumulator, ResponseAccumulator
from .._payload import Fields, parse_object, to_json
from .._sse import RawEvent
from ..chunks import HostedPiece, ToolCallDelta
from ..errors import ContentFilterError, StreamInterrupted
from ..responses import FinishReason, Response, Usage
from ._errors import stream_error
from ._partial_args import ArgumentsWriter
from .chunk import GeminiChunkBase

ChunkT = TypeVar("ChunkT", bound=GeminiChunkBase)

Reader = Callable[[Any], "tuple[dict[str, Any], Any]"]
"""Turns one streamed item into its JSON object and the source its chunk keeps."""

_PROVIDER = "gemini"
_FIELDS = Fields(_PROVIDER)
_LARGEST_CANDIDATE = 1024  # a candidate index past this is a broken one, not a real choice

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
    """Gemini's `usageMetadata` in the common shape; thinking tokens count as output.

    Raises:
        MalformedStreamError: a count that is not a whole number of at least 0.
    """
    if not metadata:
        return None
    prompt = _FIELDS.count(metadata.get("promptTokenCount"), "usageMetadata.promptTokenCount") or 0
    candidates = (
        _FIELDS.count(metadata.get("candidatesTokenCount"), "usageMetadata.candidatesTokenCount") or 0
    )
    thoughts = _FIELDS.count(metadata.get("thoughtsTokenCount"), "usageMetadata.thoughtsTokenCount") or 0
    total = _FIELDS.count(metadata.get("totalTokenCount"), "usageMetadata.totalTokenCount")
    cached = _FIELDS.count(metadata.get("cachedContentTokenCount"), "usageMetadata.cachedContentTokenCount")
    return Usage(
        input_tokens=prompt,
        output_tokens=candidates + thoughts,
        total_tokens=total or prompt + candidates + thoughts,
        cached_input_tokens=cached or None,
        reasoning_tokens=thoughts or None,
    )


def read_event(source: Any) -> Reader:
    """A reader of server-sent events (`(event, data)` tuples) whose chunks all keep `source`.

    An `{"error": ...}` object in the stream raises its typed error, as the SDK would.
    """

    def read(event: RawEvent) -> tuple[dict[str, Any], Any]:
        payload = parse_object(event[1], _PROVIDER)
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


class _StreamedCall:
    """A function call whose arguments Vertex AI is streaming in pieces (`partialArgs`)."""

    __slots__ = ("ordinal", "writer")

    def __init__(self, ordinal: int) -> None:
        self.ordinal = ordinal
        self.writer = ArgumentsWriter()


class GeminiDecoder(Generic[ChunkT]):
    """Decodes Gemini `GenerateContentResponse` objects (as JSON) into chunks.

    Aggregates every candidate by its `index`, turns each `functionCall` part into a tool
    call (complete in one piece, or, when Vertex AI streams its arguments in `partialArgs`,
    assembled from its pieces), keeps the last usage, and raises `ContentFilterError` when
    the prompt itself was blocked. At the end every candidate must have said why it
    finished, or the stream was cut off.
    """

    __slots__ = ("_acc", "_chunk_class", "_executions", "_metadata", "_read", "_streamed", "_usage")

    def __init__(self, chunk_class: type[ChunkT], read: Reader) -> None:
        self._acc = ResponseAccumulator(_PROVIDER)
        self._chunk_class = chunk_class
        self._read = read
        self._metadata: dict[str, Any] | None = None
        self._usage: Usage | None = None
        self._streamed: dict[int, _StreamedCall] = {}  # by candidate: the call being streamed
        self._executions: list[tuple[str, str]] = []  # hosted code: (id, language) of each

    @property
    def text(self) -> str:
        return self._acc.text

    def feed(self, item: Any) -> ChunkT:
        payload, source = self._read(item)
        acc = self._acc
        if acc.model is None:
            acc.model = _FIELDS.optional_text(payload.get("modelVersion"), "modelVersion")
            acc.id = _FIELDS.optional_text(payload.get("responseId"), "responseId")
        feedback = _FIELDS.object(payload.get("promptFeedback"), "promptFeedback")
        if feedback and enum_name(feedback.get("blockReason")):
            raise self._blocked(feedback)
        content = thinking = ""
        deltas: tuple[ToolCallDelta, ...] = ()
        hosted: list[HostedPiece] = []
        finish_reason: FinishReason | None = None
        choice_index = 0
        first = True
        for candidate in _FIELDS.array(payload.get("candidates"), "candidates"):
            candidate = _FIELDS.object(candidate, "candidates[]")
            index = _FIELDS.count(candidate.get("index"), "candidates[].index") or 0
            if index > _LARGEST_CANDIDATE:
                raise _FIELDS.error("candidates[].index", index)
            state = acc.choice(index)
            pieces: list[HostedPiece] | None = hosted if first else None
            text, thought, calls = self._read_parts(index, state, candidate.get("content"), pieces)
            raw_finish = enum_name(candidate.get("finishReason"))
            if raw_finish is not None:
                calls += self._end_streamed(index, state)
                state.finish(FINISH_REASONS.get(raw_finish), raw_finish)
            if first:
                first = False
                choice_index = index
                content, thinking, deltas = text, thought, calls
                finish_reason = state.finish_reason if raw_finish is not None else None
        usage = self._read_usage(payload.get("usageMetadata"))
        return self._chunk_class(
            payload,
            source,
            content=content,
            thinking=thinking,
            tool_calls=deltas,
            finish_reason=finish_reason,
            usage=usage,
            choice_index=choice_index,
            hosted=tuple(hosted),
        )

    def _read_parts(
        self, index: int, state: ChoiceAccumulator, content: Any, hosted: list[HostedPiece] | None
    ) -> tuple[str, str, tuple[ToolCallDelta, ...]]:
        parts = _FIELDS.array(_FIELDS.object(content, "candidates[].content").get("parts"), "content.parts")
        if not parts:
            return "", "", ()
        if len(parts) == 1 and index not in self._streamed:  # the common case: one piece of text
            part = parts[0]
            text = part.get("text") if type(part) is dict else None
            if type(text) is str and text and "functionCall" not in part:
                if part.get("thought"):
                    state.thinking.append(text)
                    return "", text, ()
                state.text.append(text)
                return text, "", ()
        texts: list[str] = []
        thoughts: list[str] = []
        calls: list[ToolCallDelta] = []
        for part in parts:
            part = _FIELDS.object(part, "content.parts[]")
            if "functionCall" in part:
                calls.extend(self._function_call(index, state, part))
                continue
            if "executableCode" in part or "codeExecutionResult" in part:
                if hosted is not None:
                    hosted.extend(self._hosted_code(part))
                continue
            text = _FIELDS.text(part.get("text"), "content.parts[].text")
            if not text:
                continue
            calls.extend(self._end_streamed(index, state))  # text after a streamed call ends it
            if part.get("thought"):
                thoughts.append(text)
                state.thinking.append(text)
            else:
                texts.append(text)
                state.text.append(text)
        return "".join(texts), "".join(thoughts), tuple(calls)

    def _hosted_code(self, part: dict[str, Any]) -> list[HostedPiece]:
        """The pieces of an `executableCode` or a `codeExecutionResult` part."""
        executable = part.get("executableCode")
        if executable is not None:
            executable = _FIELDS.object(executable, "content.parts[].executableCode")
            call_id = _FIELDS.optional_text(executable.get("id"), "executableCode.id")
            call_id = call_id or f"code_{len(self._executions)}"
            language = "python" if enum_name(executable.get("language")) in (None, "PYTHON") else "shell"
            self._executions.append((call_id, language))
            code = _FIELDS.text(executable.get("code"), "executableCode.code")
            return [
                HostedPiece("code", call_id, code, language=language),
                HostedPiece("code_done", call_id, language=language),
            ]
        result = _FIELDS.object(part.get("codeExecutionResult"), "content.parts[].codeExecutionResult")
        known = self._executions[-1] if self._executions else (f"code_{len(self._executions)}", "python")
        call_id = _FIELDS.optional_text(result.get("id"), "codeExecutionResult.id") or known[0]
        language = dict(self._executions).get(call_id, "python")
        outcome = enum_name(result.get("outcome"))
        output = _FIELDS.optional_text(result.get("output"), "codeExecutionResult.output") or ""
        failed = outcome not in (None, "OUTCOME_OK", "OUTCOME_UNSPECIFIED")
        stream: Literal["stdout", "stderr"] = "stderr" if failed else "stdout"
        if outcome == "OUTCOME_DEADLINE_EXCEEDED":
            output = (
                output + "\n" if output and not output.endswith("\n") else output
            ) + "[deadline exceeded]\n"
        pieces = [HostedPiece("output", call_id, output, language=language, stream=stream)] if output else []
        return [*pieces, HostedPiece("end", call_id, language=language)]

    def _function_call(
        self, index: int, state: ChoiceAccumulator, part: dict[str, Any]
    ) -> list[ToolCallDelta]:
        """The tool-call pieces of one `functionCall` part."""
        call = _FIELDS.object(part.get("functionCall"), "content.parts[].functionCall")
        name = _FIELDS.optional_text(call.get("name"), "functionCall.name")
        args = call.get("args")
        partials = _FIELDS.array(call.get("partialArgs"), "functionCall.partialArgs")
        continues = call.get("willContinue") is True
        streamed = self._streamed.get(index)
        pieces: list[ToolCallDelta] = []
        if streamed is not None and name is not None:  # a new call starts: the streamed one is over
            pieces.extend(self._end_streamed(index, state))
            streamed = None
        if streamed is None:
            if not (continues or partials):
                if name is None and args is None:
                    return pieces  # the empty part that ends a streamed call, or nothing at all
                return [*pieces, self._whole_call(state, part, call, name, args)]
            streamed = self._streamed[index] = _StreamedCall(len(state.tool_calls))
            target = self._start(state, streamed.ordinal, part, call, name)
            opening = streamed.writer.begin()
            target.arguments.append(opening)
            pieces.append(ToolCallDelta(streamed.ordinal, target.id, target.name, opening))
        target = state.tool_call(streamed.ordinal)
        text = ""
        if args is not None:
            text += streamed.writer.merge(_FIELDS.object(args, "functionCall.args"))
        for partial in partials:
            text += streamed.writer.apply(partial)
        if text:
            target.arguments.append(text)
            pieces.append(ToolCallDelta(streamed.ordinal, None, None, text))
        if not continues:
            pieces.extend(self._end_streamed(index, state))
        return pieces

    def _start(
        self,
        state: ChoiceAccumulator,
        ordinal: int,
        part: dict[str, Any],
        call: dict[str, Any],
        name: str | None,
    ) -> Any:
        """The accumulator of a new call, with its id, name and signature."""
        target = state.tool_call(ordinal)
        target.id = _FIELDS.optional_text(call.get("id"), "functionCall.id") or f"call_{ordinal}"
        target.name = name or ""
        signature = part.get("thoughtSignature")
        if isinstance(signature, bytes):  # the SDK's objects hold bytes
            signature = base64.b64encode(signature).decode("ascii")
        signature = _FIELDS.optional_text(signature, "content.parts[].thoughtSignature")
        if signature:  # base64, as on the wire
            target.signature = signature
        return target

    def _whole_call(
        self,
        state: ChoiceAccumulator,
        part: dict[str, Any],
        call: dict[str, Any],
        name: str | None,
        args: Any,
    ) -> ToolCallDelta:
        """A call sent whole, as the Gemini API sends every call."""
        ordinal = len(state.tool_calls)
        target = self._start(state, ordinal, part, call, name)
        arguments = to_json(args, _PROVIDER) if args else "{}"
        target.arguments.append(arguments)
        return ToolCallDelta(ordinal, target.id, target.name, arguments)

    def _end_streamed(self, index: int, state: ChoiceAccumulator) -> tuple[ToolCallDelta, ...]:
        """Close candidate `index`'s streamed call, if one is open: its closing piece."""
        streamed = self._streamed.pop(index, None)
        if streamed is None:
            return ()
        target = state.tool_call(streamed.ordinal)
        closing = streamed.writer.end()
        target.arguments.append(closing)
        if _decoded("".join(target.arguments)) != streamed.writer.value:
            # The pieces came out of document order: the object, written out whole, is the truth.
            target.arguments[:] = [streamed.writer.text()]
        return (ToolCallDelta(streamed.ordinal, None, None, closing),)

    def _read_usage(self, metadata: Any) -> Usage | None:
        if not metadata:
            return None
        if metadata == self._metadata:  # Gemini repeats the running usage on every chunk
            return self._usage
        usage = normalise_usage(_FIELDS.object(metadata, "usageMetadata"))
        self._metadata = metadata
        if usage != self._usage:
            self._usage = self._acc.usage = usage
        return self._usage

    @staticmethod
    def _blocked(feedback: dict[str, Any]) -> ContentFilterError:
        reason = enum_name(feedback.get("blockReason"))
        detail = feedback.get("blockReasonMessage")
        return ContentFilterError(
            f"gemini blocked the prompt ({reason}){': ' + str(detail) if detail else ''}; "
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


def _decoded(text: str) -> Any:
    """`text` decoded from JSON, or `None` when it is not JSON."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None
