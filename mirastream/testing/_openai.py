"""Scripted turns and errors in the Chat Completions wire format (`chat.completion.chunk` SSE)."""

from __future__ import annotations

from typing import Any

from ..responses import FinishReason, Usage
from ._script import Call, ErrorEvent, ErrorReply, Pause, Text, Thinking, Turn
from ._wire import CREATED, OPENAI_ERROR_TYPES, Frames, RenderContext, default_message

_FINISH: dict[FinishReason, str] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
}


def error_object(status: int, message: str | None) -> dict[str, Any]:
    """The `error` object OpenAI sends for a failure with HTTP `status`."""
    kind, code = OPENAI_ERROR_TYPES.get(status, ("server_error", None))
    return {"message": message or default_message(status), "type": kind, "param": None, "code": code}


def error_body(reply: ErrorReply) -> tuple[dict[str, Any], dict[str, str]]:
    """The body and headers of an HTTP error response."""
    headers = {"x-request-id": "req_scripted"}
    if reply.retry_after is not None:
        headers["retry-after"] = f"{reply.retry_after:g}"
    return {"error": error_object(reply.status, reply.message)}, headers


def _usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens or 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens or 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def render(turn: Turn, context: RenderContext) -> Frames:
    """The events of `turn` as OpenAI streams them."""
    frames = Frames()
    envelope: dict[str, Any] = {
        "id": turn.id or f"chatcmpl-scripted{context.number:04d}",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": turn.model or context.model,
        "service_tier": "default",
        "system_fingerprint": "fp_scripted",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        payload = {**envelope, "choices": [choice]}
        if context.include_usage:
            payload["usage"] = None
        frames.sse(payload)

    first_output = next((step for step in turn.steps if not isinstance(step, Pause)), None)
    opening = None if isinstance(first_output, Call) else ""
    chunk({"role": "assistant", "content": opening, "refusal": None})
    calls = 0
    for step in turn.steps:
        if isinstance(step, Pause):
            frames.pause(step.seconds)
        elif isinstance(step, Text):
            for piece in step.pieces:
                chunk({"content": piece})
        elif isinstance(step, Thinking):
            # What compatible reasoning servers (DeepSeek, Qwen, vLLM) send.
            for piece in step.pieces:
                chunk({"content": None, "reasoning_content": piece})
        else:
            index = calls
            calls += 1
            call_id = step.id or f"call_scripted{context.number:02d}{index:02d}"
            function = {"name": step.name, "arguments": ""}
            chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function", "function": function}]})
            for piece in step.pieces:
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    if isinstance(turn.ending, ErrorEvent):
        frames.sse({"error": error_object(turn.ending.status, turn.ending.message)})
        return frames
    if turn.ending is not None:
        frames.cut = True
        return frames
    assert turn.finish_reason is not None
    chunk({}, _FINISH[turn.finish_reason])
    if context.include_usage and turn.usage is not None:
        frames.sse({**envelope, "choices": [], "usage": _usage(turn.usage)})
    frames.sse("[DONE]")
    return frames
