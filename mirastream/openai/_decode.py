"""The IO-free decoder of Chat Completions event streams."""

from __future__ import annotations

from typing import Any

from .._accumulate import ChoiceAccumulator, ResponseAccumulator
from .._sse import RawEvent, loads
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
_NO_DELTA: dict[str, Any] = {}


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

    def feed(self, event: RawEvent) -> OpenAIResponseChunk | None:
        if self._done:
            return None
        data = event[1]
        try:
            payload = loads(data)
        except ValueError as error:
            if data.startswith(b"[DONE]"):
                self._done = True
                return None
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
        choices = payload.get("choices")
        usage_payload = payload.get("usage")
        usage = None
        if usage_payload:
            usage = acc.usage = normalise_usage(usage_payload)
        if not choices:
            return OpenAIResponseChunk(payload, "", "", (), None, usage, 0)
        if len(choices) > 1:
            return self._choices(payload, choices, usage)
        choice = choices[0]
        index = choice.get("index", 0)
        state = acc.choices.get(index) or acc.choice(index)
        delta = choice.get("delta") or _NO_DELTA
        text = delta.get("content")
        if text is None or len(delta) > 1:
            # A delta with more than a piece of text: reasoning, a refusal, tool calls, a role.
            thinking, pieces = self._other_fields(state, delta)
        else:
            thinking, pieces = "", ()
        if text:
            state.text.append(text)
        raw_finish = choice.get("finish_reason")
        finish_reason = None
        if raw_finish:
            state.finish(_FINISH_REASONS.get(raw_finish), raw_finish)
            finish_reason = state.finish_reason
        return OpenAIResponseChunk(payload, text or "", thinking, pieces, finish_reason, usage, index)

    def _choices(
        self, payload: dict[str, Any], choices: list[dict[str, Any]], usage: Usage | None
    ) -> OpenAIResponseChunk:
        """A chunk with several choices: each is accumulated; the chunk's fields are the first's."""
        fields: tuple[str, str, tuple[ToolCallDelta, ...], FinishReason | None] | None = None
        choice_index = 0
        for choice in choices:
            index = choice.get("index", 0)
            state = self._acc.choice(index)
            delta = choice.get("delta") or _NO_DELTA
            text = delta.get("content")
            if text:
                state.text.append(text)
            thinking, pieces = self._other_fields(state, delta)
            raw_finish = choice.get("finish_reason")
            if raw_finish:
                state.finish(_FINISH_REASONS.get(raw_finish), raw_finish)
            if fields is None:
                choice_index = index
                fields = (text or "", thinking, pieces, state.finish_reason if raw_finish else None)
        assert fields is not None
        return OpenAIResponseChunk(payload, *fields, usage, choice_index)

    def _other_fields(
        self, state: ChoiceAccumulator, delta: dict[str, Any]
    ) -> tuple[str, tuple[ToolCallDelta, ...]]:
        """Accumulate a delta's reasoning, refusal and tool calls; its reasoning and call pieces."""
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning:
            state.thinking.append(reasoning)
        refusal = delta.get("refusal")
        if refusal:
            state.refusal.append(refusal)
        calls = delta.get("tool_calls")
        return reasoning or "", self._merge_tool_calls(state, calls) if calls else ()

    @staticmethod
    def _merge_tool_calls(state: ChoiceAccumulator, calls: list[dict[str, Any]]) -> tuple[ToolCallDelta, ...]:
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
