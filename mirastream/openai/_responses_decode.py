"""The IO-free decoder of Responses API event streams.

Every event is a JSON object with a `type`. What the events become (docs/providers/openai.md
states the same rules for users):

- `response.output_text.delta` is text; `response.reasoning_summary_text.delta` and
  `response.reasoning_text.delta` are thinking (reasoning summary parts after the first are
  set apart by a blank line); `response.refusal.delta` is the refusal.
- A `function_call` output item is a tool call, numbered in the order the calls start; its
  `call_id` (what a `function_call_output` answers) is the call's id, and each
  `response.function_call_arguments.delta` piece carries the call's id and name.
- `response.completed` ends the answer (`stop`, or `tool_calls` when there are calls);
  `response.incomplete` ends it with its reason (`max_output_tokens`: `length`,
  `content_filter`: `content_filter`). Both carry the usage.
- `response.failed` and `error` raise typed errors (see `_responses_errors`).
- A hosted `code_interpreter_call` item is hosted code (`chunk.hosted`): its code from
  `response.code_interpreter_call_code.delta` (or `.done` / the finished item, when it was not
  streamed), and on `response.output_item.done` its outputs (`logs` as output, `image` as an
  image when its URL is a base64 `data:` URL, else as a line of output naming it), then its end.
- Compatible servers that send a text, a refusal or a call's arguments only whole (on the
  `.done` event or the finished output item) are read from there.

A stream that ends before `response.completed`, `response.incomplete` or `response.failed`
is interrupted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._accumulate import ResponseAccumulator
from .._payload import Fields, parse_object
from .._sse import RawEvent
from ..chunks import ChunkFields, HostedPiece, ToolCallDelta
from ..errors import MalformedStreamError, StreamInterrupted
from ..responses import FinishReason, Response, Usage
from ._responses_errors import stream_error
from .responses_chunk import OpenAIResponsesChunk

if TYPE_CHECKING:
    from typing_extensions import Unpack

_PROVIDER = "openai"
_FIELDS = Fields(_PROVIDER)
_TEXT_DELTA = "response.output_text.delta"
_INCOMPLETE_REASONS: dict[str, FinishReason] = {
    "max_output_tokens": "length",
    "max_tokens": "length",
    "length": "length",
    "content_filter": "content_filter",
}
_THINKING_DELTAS = frozenset({"response.reasoning_summary_text.delta", "response.reasoning_text.delta"})


def normalise_usage(usage: dict[str, Any]) -> Usage:
    """Responses usage in the common shape (input counts cached tokens, output reasoning)."""
    input_details = _FIELDS.object(usage.get("input_tokens_details"), "usage.input_tokens_details")
    output_details = _FIELDS.object(usage.get("output_tokens_details"), "usage.output_tokens_details")
    input_tokens = _FIELDS.count(usage.get("input_tokens"), "usage.input_tokens") or 0
    output_tokens = _FIELDS.count(usage.get("output_tokens"), "usage.output_tokens") or 0
    total = _FIELDS.count(usage.get("total_tokens"), "usage.total_tokens")
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=total if total is not None else input_tokens + output_tokens,
        cached_input_tokens=_FIELDS.count(input_details.get("cached_tokens"), "usage.cached_tokens"),
        reasoning_tokens=_FIELDS.count(output_details.get("reasoning_tokens"), "usage.reasoning_tokens"),
    )


class _Item:
    """An output item that has started: its type, and for a function call its place and name."""

    __slots__ = ("call_id", "code_done", "kind", "name", "ordinal", "start_arguments", "streamed")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.code_done = False  # a hosted code item whose code is complete
        self.ordinal = 0
        self.call_id: str | None = None
        self.name: str | None = None
        self.start_arguments = ""
        self.streamed = False  # text (or arguments) arrived in pieces: `.done` events repeat it


class OpenAIResponsesDecoder:
    """Decodes Responses API events into `OpenAIResponsesChunk` objects."""

    __slots__ = ("_acc", "_by_id", "_by_index", "_choice", "_done", "_tool_count")

    def __init__(self) -> None:
        self._acc = ResponseAccumulator(_PROVIDER)
        self._choice = self._acc.choice(0)
        self._by_id: dict[str, _Item] = {}
        self._by_index: dict[int, _Item] = {}
        self._tool_count = 0
        self._done = False  # response.completed or response.incomplete arrived

    @property
    def text(self) -> str:
        return self._acc.text

    def feed(self, event: RawEvent) -> OpenAIResponsesChunk | None:
        name, data = event
        if self._done or not data or data.startswith(b"[DONE]"):
            return None  # some compatible servers end with `[DONE]`, as Chat Completions does
        payload = parse_object(data, _PROVIDER)
        kind = payload.get("type")
        acc = self._acc
        if kind == _TEXT_DELTA:
            # The hot path: one piece of text.
            text = payload.get("delta")
            if type(text) is not str:
                text = _FIELDS.text(text, "response.output_text.delta.delta")
            self._choice.text.append(text)
            item = self._by_id.get(payload.get("item_id"))  # type: ignore[arg-type]
            if item is None:
                item = self._message(payload)
            item.streamed = True
            return OpenAIResponsesChunk(payload, kind, acc.model, acc.id, content=text)
        if kind == "error" or name == "error" or (payload.get("error") and kind is None):
            nested = payload.get("error")
            raise stream_error(nested if isinstance(nested, dict) else payload)
        if not isinstance(kind, str):
            raise _FIELDS.error("the event's type", kind)
        if kind in _THINKING_DELTAS:
            thinking = _FIELDS.text(payload.get("delta"), f"{kind}.delta")
            self._choice.thinking.append(thinking)
            return self._chunk(payload, kind, thinking=thinking)
        if kind == "response.function_call_arguments.delta":
            return self._arguments(payload, kind, _FIELDS.text(payload.get("delta"), f"{kind}.delta"))
        handler = _HANDLERS.get(kind)
        if handler is not None:
            return handler(self, payload, kind)
        return self._chunk(payload, kind)  # hosted tools, annotations, newer event types

    def _chunk(
        self, payload: dict[str, Any], kind: str, **fields: Unpack[ChunkFields]
    ) -> OpenAIResponsesChunk:
        acc = self._acc
        return OpenAIResponsesChunk(payload, kind, acc.model, acc.id, **fields)

    # The response as a whole -----------------------------------------------------------

    def _response(self, payload: dict[str, Any], kind: str) -> dict[str, Any]:
        """The event's `response` object; its id, model and usage are taken."""
        response = payload.get("response")
        if not isinstance(response, dict):
            raise _FIELDS.error(f"{kind}.response", response)
        acc = self._acc
        acc.id = _FIELDS.optional_text(response.get("id"), f"{kind}.response.id") or acc.id
        acc.model = _FIELDS.optional_text(response.get("model"), f"{kind}.response.model") or acc.model
        usage = response.get("usage")
        if usage is not None:
            acc.usage = normalise_usage(_FIELDS.object(usage, f"{kind}.response.usage"))
        return response

    def _started(self, payload: dict[str, Any], kind: str) -> OpenAIResponsesChunk:
        self._response(payload, kind)
        return self._chunk(payload, kind)

    def _ended(self, payload: dict[str, Any], kind: str) -> OpenAIResponsesChunk:
        response = self._response(payload, kind)
        self._done = True
        if kind == "response.completed":
            self._choice.finish("stop", _FIELDS.optional_text(response.get("status"), f"{kind}.status"))
        else:
            details = _FIELDS.object(
                response.get("incomplete_details"), f"{kind}.response.incomplete_details"
            )
            reason = _FIELDS.optional_text(details.get("reason"), f"{kind}.incomplete_details.reason")
            self._choice.finish(_INCOMPLETE_REASONS.get(reason or ""), reason or "incomplete")
        return self._chunk(payload, kind, finish_reason=self._choice.finish_reason, usage=self._acc.usage)

    def _failed(self, payload: dict[str, Any], kind: str) -> OpenAIResponsesChunk:
        response = self._response(payload, kind)
        raise stream_error(response.get("error") or {}, failed=True)

    # Output items ----------------------------------------------------------------------

    def _item_added(self, payload: dict[str, Any], kind: str) -> OpenAIResponsesChunk:
        item = _FIELDS.object(payload.get("item"), f"{kind}.item")
        started = self._start(payload, item, kind)
        if started.kind != "function_call":
            return self._chunk(payload, kind)
        piece = ToolCallDelta(started.ordinal, started.call_id, started.name, "")
        return self._chunk(payload, kind, tool_calls=(piece,))

    def _start(self, payload: dict[str, Any], item: dict[str, Any], kind: str) -> _Item:
        """Register the output item `item` of `payload`."""
        started = _Item(_FIELDS.text(item.get("type"), f"{kind}.item.type"))
        item_id = _FIELDS.optional_text(item.get("id"), f"{kind}.item.id")
        index = payload.get("output_index")
        if item_id is not None:
            self._by_id[item_id] = started
        if type(index) is int:
            self._by_index[index] = started
        if started.kind == "function_call":
            started.ordinal = self._tool_count
            self._tool_count += 1
            started.call_id = _FIELDS.optional_text(item.get("call_id"), f"{kind}.item.call_id") or item_id
            started.name = _FIELDS.text(item.get("name"), f"{kind}.item.name")
            started.start_arguments = _FIELDS.text(item.get("arguments"), f"{kind}.item.arguments")
            call = self._choice.tool_call(started.ordinal)
            call.id, call.name = started.call_id, started.name
        return started

    def _message(self, payload: dict[str, Any]) -> _Item:
        """The message item a text piece belongs to, registered now if it never started."""
        found = self._find(payload, _TEXT_DELTA)
        if found is None:
            found = self._start(payload, {"type": "message", "id": payload.get("item_id")}, _TEXT_DELTA)
        return found

    def _find(self, payload: dict[str, Any], kind: str) -> _Item | None:
        """The started item an event is about: by its `item_id`, else by its `output_index`."""
        item_id = payload.get("item_id")
        found = self._by_id.get(item_id) if isinstance(item_id, str) else None
        if found is None:
            index = payload.get("output_index")
            found = self._by_index.get(index) if type(index) is int else None
        return found

    def _item_done(self, payload: dict[str, Any], kind: str) -> OpenAIResponsesChunk:
        item = _FIELDS.object(payload.get("item"), f"{kind}.item")
        started = self._find({"item_id": item.get("id"), "output_index": payload.get("output_index")}, kind)
        if started is None:  # a server that sends finished items only
            started = self._start(payload, item, kind)
        if started.kind == "function_call":
            arguments = _FIELDS.text(item.get("arguments"), f"{kind}.item.arguments")
            return self._whole_arguments(payload, kind, started, arguments or started.start_arguments)
        if started.kind == _CODE_ITEM:
            return self._code_item_done(payload, kind, started, item)
        if started.kind != "message" or started.streamed:
            return self._chunk(payload, kind)
        started.streamed = True
        texts: list[str] = []
        for part in _FIELDS.array(item.get("content"), f"{kind}.item.content"):
            part = _FIELDS.object(part, f"{kind}.item.content part")
            if part.get("type") == "output_text":
                texts.append(_FIELDS.text(part.get("text"), f"{kind}.item.content.text"))
            elif part.get("type") == "refusal":
                self._choice.refusal.append(_FIELDS.text(part.get("refusal"), f"{kind}.item.content.refusal"))
        text = "".join(texts)
        if text:
            self._choice.text.append(text)
        return self._chunk(payload, kind, content=text)

    def _text_done(self, payload: dict[str, Any], kind: str) -> OpenAIResponsesChunk:
        started = self._find(payload, kind)
        if started is None or started.streamed:
            return self._chunk(payload, kind)
        started.streamed = True
        if kind == "response.refusal.done":
            self._choice.refusal.append(_FIELDS.text(payload.get("refusal"), f"{kind}.refusal"))
            return self._chunk(payload, kind)
        text = _FIELDS.text(payload.get("text"), f"{kind}.text")
        if text:
            self._choice.text.append(text)
        return self._chunk(payload, kind, content=text)

    def _refusal(self, payload: dict[str, Any], kind: str) -> OpenAIResponsesChunk:
        self._choice.refusal.append(_FIELDS.text(payload.get("delta"), f"{kind}.delta"))
        started = self._find(payload, kind)
        if started is not None:
            started.streamed = True
        return self._chunk(payload, kind)

    def _summary_part(self, payload: dict[str, Any], kind: str) -> OpenAIResponsesChunk:
        """A new reasoning summary part: set apart from the reasoning before it by a blank line."""
        if not self._choice.thinking:
            return self._chunk(payload, kind)
        self._choice.thinking.append("\n\n")
        return self._chunk(payload, kind, thinking="\n\n")

    # Function calls --------------------------------------------------------------------

    def _call(self, payload: dict[str, Any], kind: str) -> _Item:
        started = self._find(payload, kind)
        if started is None or started.kind != "function_call":
            raise MalformedStreamError(
                f"openai sent {kind} for output item {payload.get('item_id')!r}, which is not a "
                "function call that has started",
                provider=_PROVIDER,
            )
        return started

    def _arguments(self, payload: dict[str, Any], kind: str, arguments: str) -> OpenAIResponsesChunk:
        started = self._call(payload, kind)
        if not arguments:
            return self._chunk(payload, kind)
        started.streamed = True
        self._choice.tool_call(started.ordinal).arguments.append(arguments)
        piece = ToolCallDelta(started.ordinal, started.call_id, started.name, arguments)
        return self._chunk(payload, kind, tool_calls=(piece,))

    def _arguments_done(self, payload: dict[str, Any], kind: str) -> OpenAIResponsesChunk:
        started = self._call(payload, kind)
        return self._whole_arguments(payload, kind, started, _FIELDS.text(payload.get("arguments"), kind))

    def _whole_arguments(
        self, payload: dict[str, Any], kind: str, started: _Item, arguments: str
    ) -> OpenAIResponsesChunk:
        """A call's whole arguments: a piece only if none streamed before (else a repeat)."""
        if started.streamed or not arguments:
            return self._chunk(payload, kind)
        return self._arguments(payload, kind, arguments)

    # Hosted code (code_interpreter_call items) --------------------------------------------

    def _code_item(self, payload: dict[str, Any], kind: str) -> tuple[_Item, str]:
        started = self._find(payload, kind)
        item_id = payload.get("item_id")
        if started is None or started.kind != _CODE_ITEM or not isinstance(item_id, str):
            raise MalformedStreamError(
                f"openai sent {kind} for output item {item_id!r}, which is not a "
                "code_interpreter_call that has started",
                provider=_PROVIDER,
            )
        return started, item_id

    def _code_delta(self, payload: dict[str, Any], kind: str) -> OpenAIResponsesChunk:
        started, item_id = self._code_item(payload, kind)
        code = _FIELDS.text(payload.get("delta"), f"{kind}.delta")
        if not code or started.code_done:
            return self._chunk(payload, kind)
        started.streamed = True
        return self._chunk(payload, kind, hosted=(HostedPiece("code", item_id, code),))

    def _code_done(self, payload: dict[str, Any], kind: str) -> OpenAIResponsesChunk:
        started, item_id = self._code_item(payload, kind)
        code = _FIELDS.optional_text(payload.get("code"), f"{kind}.code") or ""
        return self._chunk(payload, kind, hosted=self._whole_code(started, item_id, code))

    def _whole_code(self, started: _Item, item_id: str, code: str) -> tuple[HostedPiece, ...]:
        """The end of a hosted call's code: the code itself first if none streamed."""
        if started.code_done:
            return ()
        started.code_done = True
        pieces = () if started.streamed or not code else (HostedPiece("code", item_id, code),)
        return (*pieces, HostedPiece("code_done", item_id))

    def _code_item_done(
        self, payload: dict[str, Any], kind: str, started: _Item, item: dict[str, Any]
    ) -> OpenAIResponsesChunk:
        item_id = _FIELDS.text(item.get("id"), f"{kind}.item.id")
        code = _FIELDS.optional_text(item.get("code"), f"{kind}.item.code") or ""
        pieces = list(self._whole_code(started, item_id, code))
        for output in _FIELDS.array(item.get("outputs"), f"{kind}.item.outputs"):
            output = _FIELDS.object(output, f"{kind}.item.outputs[]")
            if output.get("type") == "logs":
                logs = _FIELDS.text(output.get("logs"), f"{kind}.item.outputs[].logs")
                if logs:
                    pieces.append(
                        HostedPiece("output", item_id, logs if logs.endswith("\n") else f"{logs}\n")
                    )
            elif output.get("type") == "image":
                pieces.append(_image(item_id, _FIELDS.text(output.get("url"), f"{kind}.item.outputs[].url")))
        pieces.append(HostedPiece("end", item_id))
        return self._chunk(payload, kind, hosted=tuple(pieces))

    # The end -----------------------------------------------------------------------------

    def finish(self) -> None:
        if self._done:
            return
        raise StreamInterrupted(
            "the openai stream ended before the response was finished (no response.completed); "
            "the partial answer is on .response",
            provider=_PROVIDER,
        )

    def response(self, **fields: Any) -> Response:
        return self._acc.build(**fields)


_CODE_ITEM = "code_interpreter_call"


def _image(item_id: str, url: str) -> HostedPiece:
    """An image output: an image if its URL holds the data (`data:image/png;base64,...`)."""
    header, comma, data = url.partition(",")
    if url.startswith("data:") and comma and header.endswith(";base64"):
        return HostedPiece("image", item_id, data, mime=header[5:-7])
    return HostedPiece("output", item_id, f"[image: {url}]\n")


_HANDLERS = {
    "response.created": OpenAIResponsesDecoder._started,
    "response.in_progress": OpenAIResponsesDecoder._started,
    "response.queued": OpenAIResponsesDecoder._started,
    "response.completed": OpenAIResponsesDecoder._ended,
    "response.incomplete": OpenAIResponsesDecoder._ended,
    "response.failed": OpenAIResponsesDecoder._failed,
    "response.output_item.added": OpenAIResponsesDecoder._item_added,
    "response.output_item.done": OpenAIResponsesDecoder._item_done,
    "response.output_text.done": OpenAIResponsesDecoder._text_done,
    "response.refusal.delta": OpenAIResponsesDecoder._refusal,
    "response.refusal.done": OpenAIResponsesDecoder._text_done,
    "response.reasoning_summary_part.added": OpenAIResponsesDecoder._summary_part,
    "response.function_call_arguments.done": OpenAIResponsesDecoder._arguments_done,
    "response.code_interpreter_call_code.delta": OpenAIResponsesDecoder._code_delta,
    "response.code_interpreter_call_code.done": OpenAIResponsesDecoder._code_done,
}
