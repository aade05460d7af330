"""The IO-free decoder of Chat Completions event streams.

The official SDK builds its chunk objects without validating them, so whatever a compatible
server sends reaches the caller. This decoder reads the same JSON, checks the type of every
field it uses, and turns a chunk of the wrong shape into `MalformedStreamError` (never an
`AttributeError` or `TypeError`); the stream driver then attaches what had arrived.

What the fields become (docs/chunks.md states the same rules for users):

- `delta.content` is text, or a list of typed parts (Mistral): `text` parts are text,
  `thinking` parts (a string or a list of `text` parts) are reasoning, other parts carry no text.
- Reasoning is the first non-empty of `reasoning_content` and `reasoning`; without either,
  the `text` of `reasoning.text` entries and the `summary` of `reasoning.summary` entries of
  `reasoning_details` (OpenRouter sends the same text in `reasoning` and `reasoning_details`).
- A tool-call piece without `index`: a known `id` continues that call, a new `id` starts the
  next one, no `id` continues the last one.
- `response.id` and `response.model` are the first non-empty ones (Azure's prompt-filter
  chunk comes first, with both empty).
"""

from __future__ import annotations

import json
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
_REASONING_DETAIL_FIELDS = {"reasoning.text": "text", "reasoning.summary": "summary"}

_ChoiceFields = tuple[str, str, tuple[ToolCallDelta, ...], "FinishReason | None", int]


def _malformed(problem: str) -> MalformedStreamError:
    return MalformedStreamError(f"openai sent a chunk {problem}", provider="openai")


def _preview(value: Any) -> str:
    """The start of `value`'s repr for an error message (a value nested too deeply has none)."""
    try:
        return repr(value)[:200]
    except RecursionError:
        return f"a {type(value).__name__} nested too deeply to show"


def _string(value: Any, field: str) -> str:
    """`value` if it is a string, `""` if it is absent or null."""
    if value is None:
        return ""
    if type(value) is not str:
        raise _malformed(f"whose {field} is not a string: {_preview(value)}")
    return value


def _object(value: Any, field: str) -> dict[str, Any]:
    """`value` if it is an object, `{}` if it is absent or null."""
    if value is None:
        return _NO_DELTA
    if type(value) is not dict:
        raise _malformed(f"whose {field} is not an object: {_preview(value)}")
    return value


def _list(value: Any, field: str) -> list[Any]:
    """`value` if it is a list, `[]` if it is absent or null."""
    if value is None:
        return []
    if type(value) is not list:
        raise _malformed(f"whose {field} is not a list: {_preview(value)}")
    return value


def _count(value: Any, field: str) -> int | None:
    """A token count: an integer, or `None` when absent or null."""
    if value is None:
        return None
    if type(value) is not int:
        raise _malformed(f"whose usage.{field} is not an integer: {_preview(value)}")
    return value


def normalise_usage(usage: Any) -> Usage:
    """Chat Completions usage in the common shape.

    `output_tokens` includes reasoning. OpenAI counts reasoning inside `completion_tokens`;
    some compatible servers count it outside, which shows as `reasoning_tokens` larger than
    `completion_tokens`, or as `total_tokens` equal to prompt + completion + reasoning. Then
    `output_tokens` is `completion_tokens + reasoning_tokens`, and `total_tokens` at least
    `input_tokens + output_tokens`.
    """
    usage = _object(usage, "usage")
    prompt_details = _object(usage.get("prompt_tokens_details"), "usage.prompt_tokens_details")
    completion_details = _object(usage.get("completion_tokens_details"), "usage.completion_tokens_details")
    input_tokens = _count(usage.get("prompt_tokens"), "prompt_tokens") or 0
    completion_tokens = _count(usage.get("completion_tokens"), "completion_tokens") or 0
    reported_total = _count(usage.get("total_tokens"), "total_tokens")
    reasoning_tokens = _count(completion_details.get("reasoning_tokens"), "reasoning_tokens")
    output_tokens = completion_tokens
    total_tokens = reported_total or input_tokens + output_tokens
    if reasoning_tokens and (
        reasoning_tokens > completion_tokens
        or reported_total == input_tokens + completion_tokens + reasoning_tokens
    ):
        output_tokens = completion_tokens + reasoning_tokens
        total_tokens = max(total_tokens, input_tokens + output_tokens)
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=total_tokens,
        cached_input_tokens=_count(prompt_details.get("cached_tokens"), "cached_tokens"),
        reasoning_tokens=reasoning_tokens,
    )


def content_parts(parts: list[Any]) -> tuple[str, str]:
    """The text and the reasoning of a `content` sent as a list of typed parts."""
    text: list[str] = []
    thinking: list[str] = []
    for part in parts:
        part = _object(part, "content part")
        kind = part.get("type")
        if kind == "text":
            text.append(_string(part.get("text"), "text part"))
        elif kind == "thinking":
            inner = part.get("thinking")
            if type(inner) is list:
                for piece in inner:
                    piece = _object(piece, "thinking part")
                    if piece.get("type") == "text":
                        thinking.append(_string(piece.get("text"), "thinking part's text"))
            else:
                thinking.append(_string(inner, "thinking part"))
        # Other parts (images, references) carry no text.
    return "".join(text), "".join(thinking)


def reasoning_text(delta: dict[str, Any]) -> str:
    """The reasoning a delta carries, per the rule in the module docstring."""
    for name in ("reasoning_content", "reasoning"):
        value = delta.get(name)
        if value:
            return _string(value, name)
    details = delta.get("reasoning_details")
    if not details:
        return ""
    pieces = []
    for detail in _list(details, "reasoning_details"):
        detail = _object(detail, "reasoning detail")
        kind = detail.get("type")
        field = _REASONING_DETAIL_FIELDS.get(kind) if type(kind) is str else None
        if field is not None:
            pieces.append(_string(detail.get(field), f"reasoning detail's {field}"))
    return "".join(pieces)


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
            raise _malformed(f"that is not JSON ({error}): {data[:200]!r}") from error
        if type(payload) is not dict:
            raise _malformed(f"that is not an object: {data[:200]!r}")
        if payload.get("error"):
            raise error_from_event(payload["error"])  # the SDK raises for a truthy "error" too
        acc = self._acc
        if acc.id is None or acc.model is None:
            self._identify(payload)
        choices = payload.get("choices")
        usage_payload = payload.get("usage")
        usage = None
        if usage_payload:
            usage = acc.usage = normalise_usage(usage_payload)
        if not choices:
            _list(choices, "choices")
            return OpenAIResponseChunk(payload, "", "", (), None, usage, 0)
        if type(choices) is not list:
            raise _malformed(f"whose choices is not a list: {_preview(choices)}")
        if len(choices) == 1:
            # The usual chunk, one choice with a piece of text and nothing else, taken inline.
            choice = choices[0]
            if type(choice) is dict and choice.get("finish_reason") is None:
                delta = choice.get("delta")
                index = choice.get("index", 0)
                if type(delta) is dict and len(delta) == 1 and type(index) is int:
                    content = delta.get("content")
                    if type(content) is str:
                        if content:
                            (acc.choices.get(index) or acc.choice(index)).text.append(content)
                        return OpenAIResponseChunk(payload, content, "", (), None, usage, index)
        fields = self._choice(choices[0])
        for choice in choices[1:]:
            # Every choice is accumulated; the chunk's fields are choice 0's when the event has
            # it (it may come second), so the first choice's calls are shown as they stream.
            other = self._choice(choice)
            if other[4] == 0:
                fields = other
        content, thinking, pieces, finish_reason, index = fields
        return OpenAIResponseChunk(payload, content, thinking, pieces, finish_reason, usage, index)

    def _identify(self, payload: dict[str, Any]) -> None:
        """Take the completion's id and model from the first chunk that has them."""
        acc = self._acc
        if acc.id is None:
            value = payload.get("id")
            if value and type(value) is str:
                acc.id = value
        if acc.model is None:
            value = payload.get("model")
            if value and type(value) is str:
                acc.model = value

    def _choice(self, choice: Any) -> _ChoiceFields:
        """Accumulate one choice of a chunk; return its content, thinking, pieces, finish and index."""
        if type(choice) is not dict:
            raise _malformed(f"with a choice that is not an object: {_preview(choice)}")
        index = choice.get("index")
        if index is None:
            index = 0
        elif type(index) is not int:
            raise _malformed(f"whose choice index is not an integer: {_preview(index)}")
        state = self._acc.choices.get(index) or self._acc.choice(index)
        delta = choice.get("delta")
        if type(delta) is not dict:
            delta = _object(delta, "delta")
        content = delta.get("content")
        pieces: tuple[ToolCallDelta, ...] = ()
        if type(content) is str and len(delta) == 1:
            text, thinking = content, ""
        else:
            part_thinking = ""
            if content is None or type(content) is str:
                text = content or ""
            elif type(content) is list:
                text, part_thinking = content_parts(content)
                if part_thinking:
                    state.thinking.append(part_thinking)
            else:
                raise _malformed(f"whose content is neither text nor a list of parts: {_preview(content)}")
            thinking, pieces = self._other_fields(state, delta)
            thinking = part_thinking + thinking
        if text:
            state.text.append(text)
        raw_finish = choice.get("finish_reason")
        finish_reason = None
        if raw_finish is not None:
            if type(raw_finish) is not str:
                raise _malformed(f"whose finish_reason is not a string: {_preview(raw_finish)}")
            if raw_finish:
                state.finish(_FINISH_REASONS.get(raw_finish), raw_finish)
                finish_reason = state.finish_reason
        return text, thinking, pieces, finish_reason, index

    def _other_fields(
        self, state: ChoiceAccumulator, delta: dict[str, Any]
    ) -> tuple[str, tuple[ToolCallDelta, ...]]:
        """Accumulate a delta's reasoning, refusal and tool calls; its reasoning and call pieces."""
        reasoning = reasoning_text(delta)
        if reasoning:
            state.thinking.append(reasoning)
        refusal = delta.get("refusal")
        if refusal:
            state.refusal.append(_string(refusal, "refusal"))
        calls = delta.get("tool_calls")
        return reasoning, self._merge_tool_calls(state, _list(calls, "tool_calls")) if calls else ()

    @staticmethod
    def _merge_tool_calls(state: ChoiceAccumulator, calls: list[Any]) -> tuple[ToolCallDelta, ...]:
        pieces = []
        for call in calls:
            call = _object(call, "tool call")
            index = call.get("index")
            call_id = call.get("id")
            if call_id is not None:
                call_id = _string(call_id, "tool call id")
            if index is None:
                index = _call_index(state, call_id)
            elif type(index) is not int:
                raise _malformed(f"whose tool call index is not an integer: {_preview(index)}")
            function = _object(call.get("function"), "tool call function")
            name = function.get("name")
            if name is not None:
                name = _string(name, "tool call name")
            arguments = function.get("arguments")
            if type(arguments) is dict:
                arguments = json.dumps(arguments)  # a server that sends the arguments decoded
            else:
                arguments = _string(arguments, "tool call arguments")
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


def _call_index(state: ChoiceAccumulator, call_id: str | None) -> int:
    """The index of a tool-call piece sent without one (some compatible servers omit it).

    A known id continues its call, a new id starts the next call, no id continues the last.
    """
    calls = state.tool_calls
    if not calls:
        return 0
    if call_id is None:
        return max(calls)
    for index, call in calls.items():
        if call.id == call_id:
            return index
    return max(calls) + 1
