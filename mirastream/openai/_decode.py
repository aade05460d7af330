"""The IO-free decoder of Chat Completions event streams."""

from __future__ import annotations

import json
from typing import Any

from .._accumulate import ResponseAccumulator
from .._sse import ServerSentEvent
from ..chunks import ToolCallDelta
from ..errors import MalformedStreamError, StreamInterrupted
from ..responses import FinishReason, Response, Usage
from ._errors import error_from_event
from .chunk import OpenAIResponseChunk

_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def normalise_usage(usage: dict[str, Any]) -> Usage:
    """Chat Completions usage in the common shape."""
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    input_tokens = usage.get("prompt_tokens") or 0
    output_tokens = usage.get("completion_tokens") or 0
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=usage.get("total_tokens") or input_tokens + output_tokens,
        cached_input_tokens=prompt_details.get("cached_tokens"),
        reasoning_tokens=completion_details.get("reasoning_tokens"),
    )


class OpenAIDecoder:
    """Decodes `chat.completion.chunk` events into `OpenAIResponseChunk` objects.

    Merges tool-call pieces by their `index` (so parallel calls in one chunk stay apart),
    aggregates every choice, and checks at the end that the stream closed with `[DONE]`.
    """

    __slots__ = ("_acc", "_done")

    def __init__(self) -> None:
        self._acc = ResponseAccumulator("openai")
        self._done = False

    @property
    def text(self) -> str:
        return self._acc.text

    def feed(self, event: ServerSentEvent) -> OpenAIResponseChunk | None:
        data = event.data
        if self._done:
            return None
        if data.startswith(b"[DONE]"):
            self._done = True
            return None
        try:
            payload = json.loads(data)
        except ValueError as error:
            raise MalformedStreamError(
                f"openai sent a chunk that is not JSON ({error}): {data[:200]!r}", provider="openai"
            ) from error
        if not isinstance(payload, dict):
            raise MalformedStreamError(
                f"openai sent a chunk that is not an object: {data[:200]!r}", provider="openai"
            )
        if payload.get("error") is not None:
            raise error_from_event(payload["error"])

        acc = self._acc
        if acc.id is None:
            acc.id = payload.get("id")
            acc.model = payload.get("model")
        content = thinking = ""
        deltas: tuple[ToolCallDelta, ...] = ()
        finish_reason: FinishReason | None = None
        choice_index = 0
        first = True
        for choice in payload.get("choices") or ():
            index = choice.get("index", 0)
            state = acc.choice(index)
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if text:
                state.text.append(text)
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning:
                state.thinking.append(reasoning)
            refusal = delta.get("refusal")
            if refusal:
                state.refusal.append(refusal)
            calls = delta.get("tool_calls")
            pieces = self._merge_tool_calls(state, calls) if calls else ()
            raw_finish = choice.get("finish_reason")
            if raw_finish:
                state.finish(_FINISH_REASONS.get(raw_finish), raw_finish)
            if first:
                first = False
                choice_index = index
                content = text or ""
                thinking = reasoning or ""
                deltas = pieces
                finish_reason = state.finish_reason if raw_finish else None
        usage_payload = payload.get("usage")
        usage = normalise_usage(usage_payload) if usage_payload else None
        if usage is not None:
            acc.usage = usage
        return OpenAIResponseChunk(payload, content, thinking, deltas, finish_reason, usage, choice_index)

    @staticmethod
    def _merge_tool_calls(state: Any, calls: list[dict[str, Any]]) -> tuple[ToolCallDelta, ...]:
        pieces = []
        for call in calls:
            index = call.get("index")
            call_id = call.get("id")
            if index is None:
                # Some compatible servers omit the index: a new id starts a new call.
                known = {existing.id: existing.index for existing in state.tool_calls.values()}
                if call_id is not None and call_id in known:
                    index = known[call_id]
                elif call_id is not None or not state.tool_calls:
                    index = len(state.tool_calls)
                else:
                    index = max(state.tool_calls)
            function = call.get("function") or {}
            name = function.get("name")
            arguments = function.get("arguments") or ""
            target = state.tool_call(index)
            if call_id:
                target.id = call_id
            if name:
                target.name = name
            if arguments:
                target.arguments.append(arguments)
            pieces.append(ToolCallDelta(index, call_id, name, arguments))
        return tuple(pieces)

    def finish(self) -> None:
        if self._done:
            return
        unfinished = [index for index, choice in self._acc.choices.items() if choice.finish_reason is None]
        if unfinished or not self._acc.choices:
            raise StreamInterrupted(
                "the openai stream ended before the answer was finished (no finish_reason and no "
                "[DONE]); the partial answer is on .response",
                provider="openai",
            )

    def response(self, **fields: Any) -> Response:
        return self._acc.build(**fields)
