"""Scripted turns in the OpenAI Responses wire format (typed `response.*` SSE events).

Each `Text` run becomes a `message` output item with one `output_text` part, each `Thinking`
run a `reasoning` item with one summary part, each `Call` a `function_call` item, framed by
`response.created` / `response.in_progress` and ended by `response.completed` (or
`response.incomplete` for `length` and `content_filter`). An `ErrorEvent` is an `error` event
with its details in a nested `error` object, as the live API sends it (the SDK raises on it).
"""

from __future__ import annotations

from typing import Any

from ..responses import Usage
from ._script import Call, ErrorEvent, Pause, Text, Thinking, Turn
from ._wire import CREATED, Frames, RenderContext, default_message

_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def error_code(status: int) -> str:
    """The `code` of an `error` event that stands for HTTP `status`."""
    if status == 429:
        return "rate_limit_exceeded"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def usage_object(usage: Usage) -> dict[str, Any]:
    """The `usage` object of a finished response."""
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_input_tokens or 0},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": usage.total_tokens,
    }


class _Writer:
    """The events of one response, numbered, with the output items finished so far."""

    def __init__(self, frames: Frames, context: RenderContext, turn: Turn) -> None:
        self.frames = frames
        self.number = context.number
        self.sequence = 0
        self.output: list[dict[str, Any]] = []
        self.response: dict[str, Any] = {
            "id": turn.id or f"resp_scripted{context.number:04d}",
            "object": "response",
            "created_at": CREATED,
            "status": "in_progress",
            "background": False,
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "max_output_tokens": None,
            "model": turn.model or context.model,
            "output": [],
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None},
            "service_tier": "auto",
            "store": True,
            "temperature": 1.0,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": None,
            "user": None,
            "metadata": {},
        }

    def event(self, kind: str, **fields: Any) -> None:
        self.frames.sse({"type": kind, **fields, "sequence_number": self.sequence}, kind)
        self.sequence += 1

    def whole(self, kind: str, **changes: Any) -> None:
        """A `response.*` event carrying the response as it stands."""
        self.event(kind, response={**self.response, "output": list(self.output), **changes})

    def item(self, added: dict[str, Any]) -> int:
        """Start an output item; its output index."""
        index = len(self.output)
        self.event("response.output_item.added", output_index=index, item=added)
        return index

    def item_done(self, index: int, item: dict[str, Any]) -> None:
        self.output.append(item)
        self.event("response.output_item.done", output_index=index, item=item)

    def message(self, pieces: list[str], finished: bool) -> None:
        item_id = f"msg_scripted{self.number:02d}{len(self.output):02d}"
        added = {
            "id": item_id,
            "type": "message",
            "status": "in_progress",
            "content": [],
            "role": "assistant",
        }
        index = self.item(added)
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        self.event("response.content_part.added", **where, part=_text_part(""))
        for piece in pieces:
            self.event("response.output_text.delta", **where, delta=piece, logprobs=[])
        if not finished:
            return
        text = "".join(pieces)
        self.event("response.output_text.done", **where, text=text, logprobs=[])
        self.event("response.content_part.done", **where, part=_text_part(text))
        self.item_done(index, {**added, "status": "completed", "content": [_text_part(text)]})

    def reasoning(self, pieces: list[str], finished: bool) -> None:
        item_id = f"rs_scripted{self.number:02d}{len(self.output):02d}"
        added = {"id": item_id, "type": "reasoning", "summary": []}
        index = self.item(added)
        where = {"item_id": item_id, "output_index": index, "summary_index": 0}
        self.event(
            "response.reasoning_summary_part.added", **where, part={"type": "summary_text", "text": ""}
        )
        for piece in pieces:
            self.event("response.reasoning_summary_text.delta", **where, delta=piece)
        if not finished:
            return
        text = "".join(pieces)
        self.event("response.reasoning_summary_text.done", **where, text=text)
        part = {"type": "summary_text", "text": text}
        self.event("response.reasoning_summary_part.done", **where, part=part)
        self.item_done(index, {**added, "summary": [part]})

    def call(self, call: Call, ordinal: int) -> None:
        item_id = f"fc_scripted{self.number:02d}{len(self.output):02d}"
        call_id = call.id or f"call_scripted{self.number:02d}{ordinal:02d}"
        added = {
            "id": item_id,
            "type": "function_call",
            "status": "in_progress",
            "arguments": "",
            "call_id": call_id,
            "name": call.name,
        }
        index = self.item(added)
        for piece in call.pieces:
            self.event(
                "response.function_call_arguments.delta", item_id=item_id, output_index=index, delta=piece
            )
        arguments = call.arguments
        self.event(
            "response.function_call_arguments.done", item_id=item_id, output_index=index, arguments=arguments
        )
        self.item_done(index, {**added, "status": "completed", "arguments": arguments})


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def render(turn: Turn, context: RenderContext) -> Frames:
    """The events of `turn` as the Responses API streams them."""
    frames = Frames()
    writer = _Writer(frames, context, turn)
    writer.whole("response.created")
    writer.whole("response.in_progress")
    run: list[str] = []
    run_kind: type[Text] | type[Thinking] | None = None
    calls = 0

    def flush(finished: bool = True) -> None:
        if run_kind is Text:
            writer.message(run, finished)
        elif run_kind is Thinking:
            writer.reasoning(run, finished)
        run.clear()

    for step in turn.steps:
        if isinstance(step, Pause):
            frames.pause(step.seconds)
            continue
        if isinstance(step, (Text, Thinking)):
            if run_kind is not type(step):
                flush()
                run_kind = type(step)
            run.extend(step.pieces)
            continue
        flush()
        run_kind = None
        writer.call(step, calls)
        calls += 1
    flush(finished=turn.ending is None)
    if isinstance(turn.ending, ErrorEvent):
        message = turn.ending.message or default_message(turn.ending.status)
        code = error_code(turn.ending.status)
        # The shape the live API sends (the reference documents the fields flat on the event).
        writer.event("error", error={"type": code, "code": code, "message": message, "param": None})
        return frames
    if turn.ending is not None:
        frames.cut = True
        return frames
    usage = usage_object(turn.usage) if turn.usage is not None else None
    assert turn.finish_reason is not None
    reason = _INCOMPLETE.get(turn.finish_reason)
    if reason is None:
        writer.whole("response.completed", status="completed", usage=usage)
    else:
        details = {"reason": reason}
        writer.whole("response.incomplete", status="incomplete", incomplete_details=details, usage=usage)
    return frames
