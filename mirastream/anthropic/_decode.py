"""The IO-free decoder of Messages API event streams."""

from __future__ import annotations

import json
from typing import Any

from .._accumulate import ChoiceAccumulator, ResponseAccumulator
from .._sse import RawEvent, json_object
from ..chunks import ToolCallDelta
from ..errors import MalformedStreamError, StreamInterrupted
from ..responses import FinishReason, Response, Usage
from ._errors import error_from_event
from .chunk import AnthropicResponseChunk

_PROVIDER = "anthropic"

_FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

_INPUT_FIELDS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


class _UsageAccumulator:
    """Token counts of one message, as `message_start` and `message_delta` report them.

    `message_start` gives the input counts; every `message_delta` gives cumulative counts
    that replace earlier ones (output tokens always, input counts when present).
    """

    __slots__ = ("counts", "thinking_tokens")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.thinking_tokens: int | None = None

    def update(self, usage: dict[str, Any]) -> None:
        for field in (*_INPUT_FIELDS, "output_tokens"):
            value = usage.get(field)
            if isinstance(value, int):
                self.counts[field] = value
        details = usage.get("output_tokens_details")
        if isinstance(details, dict) and isinstance(details.get("thinking_tokens"), int):
            self.thinking_tokens = details["thinking_tokens"]

    def build(self) -> Usage:
        counts = self.counts
        input_tokens = sum(counts.get(field, 0) for field in _INPUT_FIELDS)
        output_tokens = counts.get("output_tokens", 0)
        return Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
            cached_input_tokens=counts.get("cache_read_input_tokens"),
            reasoning_tokens=self.thinking_tokens,
        )


class AnthropicDecoder:
    """Decodes Messages API events into `AnthropicResponseChunk` objects.

    `ping` events and event types it does not know are skipped; an `error` event raises a
    typed error. Tool calls are numbered in the order they start, whatever their content
    block index. At the end it checks that the stream closed with `message_stop`.
    """

    __slots__ = ("_acc", "_choice", "_done", "_tool_blocks", "_usage")

    def __init__(self) -> None:
        self._acc = ResponseAccumulator(_PROVIDER)
        self._choice: ChoiceAccumulator = self._acc.choice(0)
        self._usage = _UsageAccumulator()
        self._tool_blocks: dict[int, _ToolBlock] = {}
        self._done = False

    @property
    def text(self) -> str:
        return self._acc.text

    def feed(self, event: RawEvent) -> AnthropicResponseChunk | None:
        name, data = event
        if self._done or name == "ping" or not data:
            return None
        if name == "error" and not data.startswith(b"{"):
            message = data.decode(errors="replace")
            raise error_from_event({"type": "error", "error": {"type": "", "message": message}})
        payload = json_object(data, _PROVIDER)
        event_type = payload.get("type")
        if name == "error" or event_type == "error":
            raise error_from_event(payload)
        if event_type == "content_block_delta":
            delta = payload.get("delta")
            if isinstance(delta, dict) and delta.get("type") == "text_delta":
                # The hot path: one piece of text.
                text = delta.get("text") or ""
                self._choice.text.append(text)
                acc = self._acc
                return AnthropicResponseChunk(
                    payload, event_type, text, "", (), None, None, acc.model, acc.id
                )
            return self._block_delta(payload)
        if event_type == "content_block_start":
            return self._block_start(payload)
        if event_type == "content_block_stop":
            return self._block_stop(payload)
        if event_type == "message_start":
            return self._message_start(payload)
        if event_type == "message_delta":
            return self._message_delta(payload)
        if event_type == "message_stop":
            self._done = True
            return self._chunk(payload, "message_stop")
        return None  # `ping` without its event name, or an event type newer than this decoder

    def _chunk(
        self,
        payload: dict[str, Any],
        event_type: str,
        content: str = "",
        thinking: str = "",
        tool_calls: tuple[ToolCallDelta, ...] = (),
        finish_reason: FinishReason | None = None,
        usage: Usage | None = None,
    ) -> AnthropicResponseChunk:
        acc = self._acc
        return AnthropicResponseChunk(
            payload, event_type, content, thinking, tool_calls, finish_reason, usage, acc.model, acc.id
        )

    def _message_start(self, payload: dict[str, Any]) -> AnthropicResponseChunk:
        message = _object(payload, "message")
        acc = self._acc
        acc.id = message.get("id")
        acc.model = message.get("model")
        usage = message.get("usage")
        if isinstance(usage, dict):
            self._usage.update(usage)
            acc.usage = self._usage.build()  # the input counts, kept if the stream breaks
        return self._chunk(payload, "message_start")

    def _block_start(self, payload: dict[str, Any]) -> AnthropicResponseChunk:
        block = _object(payload, "content_block")
        kind = block.get("type")
        choice = self._choice
        if kind == "text":
            text = block.get("text") or ""
            if text:
                choice.text.append(text)
            return self._chunk(payload, "content_block_start", content=text)
        if kind == "thinking":
            thinking = block.get("thinking") or ""
            if thinking:
                choice.thinking.append(thinking)
            return self._chunk(payload, "content_block_start", thinking=thinking)
        if kind == "tool_use":
            ordinal = len(self._tool_blocks)
            self._tool_blocks[_index(payload)] = _ToolBlock(ordinal, block.get("input"))
            call = choice.tool_call(ordinal)
            call.id = block.get("id")
            call.name = block.get("name")
            piece = ToolCallDelta(ordinal, call.id, call.name, "")
            return self._chunk(payload, "content_block_start", tool_calls=(piece,))
        return self._chunk(payload, "content_block_start")

    def _block_delta(self, payload: dict[str, Any]) -> AnthropicResponseChunk:
        delta = _object(payload, "delta")
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text") or ""
            self._choice.text.append(text)
            return self._chunk(payload, "content_block_delta", content=text)
        if kind == "thinking_delta":
            thinking = delta.get("thinking") or ""
            self._choice.thinking.append(thinking)
            return self._chunk(payload, "content_block_delta", thinking=thinking)
        if kind == "input_json_delta":
            tool = self._tool_blocks.get(_index(payload))
            arguments = delta.get("partial_json") or ""
            if tool is None or not arguments:  # a server tool's input, or an empty piece
                return self._chunk(payload, "content_block_delta")
            tool.streamed = True
            self._choice.tool_call(tool.ordinal).arguments.append(arguments)
            piece = ToolCallDelta(tool.ordinal, None, None, arguments)
            return self._chunk(payload, "content_block_delta", tool_calls=(piece,))
        # signature_delta, citations_delta and newer kinds carry no text for the consumer.
        return self._chunk(payload, "content_block_delta")

    def _block_stop(self, payload: dict[str, Any]) -> AnthropicResponseChunk:
        tool = self._tool_blocks.get(_index(payload))
        if tool is None or tool.streamed or not tool.start_input:
            return self._chunk(payload, "content_block_stop")
        # Some compatible servers send the whole input on content_block_start and no deltas.
        tool.streamed = True
        arguments = json.dumps(tool.start_input)
        self._choice.tool_call(tool.ordinal).arguments.append(arguments)
        piece = ToolCallDelta(tool.ordinal, None, None, arguments)
        return self._chunk(payload, "content_block_stop", tool_calls=(piece,))

    def _message_delta(self, payload: dict[str, Any]) -> AnthropicResponseChunk:
        delta = _object(payload, "delta")
        raw_finish = delta.get("stop_reason")
        finish_reason: FinishReason | None = None
        if isinstance(raw_finish, str):
            self._choice.finish(_FINISH_REASONS.get(raw_finish), raw_finish)
            finish_reason = self._choice.finish_reason
        usage_payload = payload.get("usage")
        usage = None
        if isinstance(usage_payload, dict):
            self._usage.update(usage_payload)
            usage = self._acc.usage = self._usage.build()
        return self._chunk(payload, "message_delta", finish_reason=finish_reason, usage=usage)

    def finish(self) -> None:
        if self._done:
            return
        raise StreamInterrupted(
            "the anthropic stream ended before the answer was finished (no message_stop); "
            "the partial answer is on .response",
            provider=_PROVIDER,
        )

    def response(self, **fields: Any) -> Response:
        return self._acc.build(**fields)


class _ToolBlock:
    """A `tool_use` content block: its call's ordinal in the turn and its starting input."""

    __slots__ = ("ordinal", "start_input", "streamed")

    def __init__(self, ordinal: int, start_input: object) -> None:
        self.ordinal = ordinal
        self.start_input = start_input if isinstance(start_input, dict) else None
        self.streamed = False


def _object(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    if not isinstance(value, dict):
        raise MalformedStreamError(
            f"anthropic sent a {payload.get('type')} event without its {key!r} object: "
            f"{json.dumps(payload)[:200]}",
            provider=_PROVIDER,
        )
    return value


def _index(payload: dict[str, Any]) -> int:
    index = payload.get("index")
    if not isinstance(index, int):
        raise MalformedStreamError(
            f"anthropic sent a {payload.get('type')} event without a content block index",
            provider=_PROVIDER,
        )
    return index
