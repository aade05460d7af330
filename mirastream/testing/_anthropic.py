"""Scripted turns and errors in the Anthropic Messages wire format (typed SSE events)."""

from __future__ import annotations

from typing import Any

from ..responses import FinishReason
from ._script import Call, ErrorEvent, ErrorReply, Pause, Text, Thinking, Turn
from ._wire import ANTHROPIC_ERROR_TYPES, Frames, RenderContext, default_message

_FINISH: dict[FinishReason, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
# Anthropic's thinking signatures are opaque; this one stands in when a script gives none.
_SIGNATURE = "c2NyaXB0ZWQtdGhpbmtpbmctc2lnbmF0dXJl"


def error_object(status: int, message: str | None) -> dict[str, Any]:
    """The `{"type": "error", "error": {...}}` payload for a failure with HTTP `status`."""
    kind = ANTHROPIC_ERROR_TYPES.get(status, "api_error")
    text = message or ("Overloaded" if kind == "overloaded_error" else default_message(status))
    return {"type": "error", "error": {"type": kind, "message": text}}


def error_body(reply: ErrorReply) -> tuple[dict[str, Any], dict[str, str]]:
    """The body and headers of an HTTP error response."""
    headers = {"request-id": "req_scripted"}
    if reply.retry_after is not None:
        headers["retry-after"] = f"{reply.retry_after:g}"
    return {**error_object(reply.status, reply.message), "request_id": "req_scripted"}, headers


def render(turn: Turn, context: RenderContext) -> Frames:
    """The events of `turn` as the Messages API streams them."""
    frames = Frames()
    usage = turn.usage
    cached = (usage.cached_input_tokens or 0) if usage else 0
    start_usage = {
        "input_tokens": (usage.input_tokens - cached) if usage else 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "output_tokens": min(1, usage.output_tokens) if usage else 0,
        "service_tier": "standard",
    }
    message: dict[str, Any] = {
        "model": turn.model or context.model,
        "id": turn.id or f"msg_scripted{context.number:04d}",
        "type": "message",
        "role": "assistant",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    frames.sse({"type": "message_start", "message": message}, "message_start")
    frames.sse({"type": "ping"}, "ping")

    blocks = _Blocks(frames)
    for step in turn.steps:
        if isinstance(step, Pause):
            frames.pause(step.seconds)
        elif isinstance(step, Text):
            blocks.open("text", {"type": "text", "text": ""})
            for piece in step.pieces:
                blocks.delta({"type": "text_delta", "text": piece})
        elif isinstance(step, Thinking):
            blocks.open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            for piece in step.pieces:
                blocks.delta({"type": "thinking_delta", "thinking": piece})
            blocks.signature = step.signature or _SIGNATURE
        else:
            blocks.open("tool_use", _tool_use(step, context, blocks.calls))
            blocks.calls += 1
            for piece in ("", *step.pieces):
                blocks.delta({"type": "input_json_delta", "partial_json": piece})
    if isinstance(turn.ending, ErrorEvent):
        frames.sse(error_object(turn.ending.status, turn.ending.message), "error")
        return frames
    if turn.ending is not None:
        frames.cut = True
        return frames
    blocks.close()
    assert turn.finish_reason is not None
    end_usage: dict[str, Any] = {"output_tokens": usage.output_tokens if usage else 0}
    if usage is not None and usage.reasoning_tokens is not None:
        end_usage["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    delta = {"stop_reason": _FINISH[turn.finish_reason], "stop_sequence": None}
    frames.sse({"type": "message_delta", "delta": delta, "usage": end_usage}, "message_delta")
    frames.sse({"type": "message_stop"}, "message_stop")
    return frames


def _tool_use(call: Call, context: RenderContext, index: int) -> dict[str, Any]:
    call_id = call.id or f"toolu_scripted{context.number:02d}{index:02d}"
    return {"type": "tool_use", "id": call_id, "name": call.name, "input": {}}


class _Blocks:
    """The content blocks of a message: consecutive text (or thinking) steps share one block."""

    def __init__(self, frames: Frames) -> None:
        self.frames = frames
        self.index = -1
        self.kind: str | None = None
        self.signature: str | None = None
        self.calls = 0

    def open(self, kind: str, block: dict[str, Any]) -> None:
        if kind == self.kind and kind != "tool_use":
            return
        self.close()
        self.index += 1
        self.kind = kind
        self.frames.sse(
            {"type": "content_block_start", "index": self.index, "content_block": block},
            "content_block_start",
        )

    def delta(self, delta: dict[str, Any]) -> None:
        payload = {"type": "content_block_delta", "index": self.index, "delta": delta}
        self.frames.sse(payload, "content_block_delta")

    def close(self) -> None:
        if self.kind is None:
            return
        if self.signature is not None:
            self.delta({"type": "signature_delta", "signature": self.signature})
            self.signature = None
        self.frames.sse({"type": "content_block_stop", "index": self.index}, "content_block_stop")
        self.kind = None
