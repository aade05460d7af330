"""Scripted turns and errors in Gemini's wire formats.

`google-genai` reads `streamGenerateContent?alt=sse`: one whole `GenerateContentResponse`
per event, with the running usage on each and the finish reason on the last. The legacy
`google-generativeai` REST transport reads the same objects as one JSON array that grows
element by element, with enums as numbers (`$alt=json;enum-encoding=int`).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

from ..responses import FinishReason, Usage
from ._script import Call, ErrorEvent, ErrorReply, Pause, Text, Thinking, Turn
from ._wire import GOOGLE_STATUSES, Frames, RenderContext, RenderError, default_message

_FINISH: dict[FinishReason, str] = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "tool_calls": "STOP",  # Gemini has no finish reason of its own for function calls
    "content_filter": "SAFETY",
}
_SAFETY_RATINGS = [
    {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
]


def error_object(status: int, message: str | None) -> dict[str, Any]:
    """Google's `error` object for a failure with HTTP `status`."""
    return {
        "code": status,
        "message": message or default_message(status),
        "status": GOOGLE_STATUSES.get(status, "UNKNOWN"),
    }


def error_body(reply: ErrorReply) -> tuple[dict[str, Any], dict[str, str]]:
    """The body and headers of an HTTP error response (a wait goes into `RetryInfo`)."""
    error = error_object(reply.status, reply.message)
    if reply.retry_after is not None:
        retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{reply.retry_after:g}s"}
        error["details"] = [retry]
    return {"error": error}, {}


def _usage(usage: Usage, final: bool) -> dict[str, Any]:
    if not final:
        return {"promptTokenCount": usage.input_tokens, "totalTokenCount": usage.input_tokens}
    reasoning = usage.reasoning_tokens or 0
    metadata: dict[str, Any] = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": usage.output_tokens - reasoning,
        "totalTokenCount": usage.total_tokens,
    }
    if reasoning:
        metadata["thoughtsTokenCount"] = reasoning
    if usage.cached_input_tokens:
        metadata["cachedContentTokenCount"] = usage.cached_input_tokens
    return metadata


def _function_call(call: Call) -> dict[str, Any]:
    try:
        args = json.loads(call.arguments) if call.arguments.strip() else {}
    except ValueError:
        args = None
    if not isinstance(args, dict):
        raise RenderError(
            f"Gemini sends a function call's arguments as a JSON object, and those of "
            f"Call({call.name!r}) are not one: {call.arguments[:200]!r}"
        )
    function_call: dict[str, Any] = {"name": call.name, "args": args}
    if call.id is not None:
        function_call["id"] = call.id
    part: dict[str, Any] = {"functionCall": function_call}
    if call.signature is not None:
        part["thoughtSignature"] = call.signature
    return part


def payloads(turn: Turn, context: RenderContext) -> tuple[list[dict[str, Any]], dict[int, float]]:
    """The `GenerateContentResponse` objects of `turn`, and the pauses before some of them."""
    items: list[dict[str, Any]] = []
    pauses: dict[int, float] = {}
    envelope = {
        "modelVersion": turn.model or context.model,
        "responseId": turn.id or f"scripted{context.number:04d}",
    }

    def response(candidate: dict[str, Any], final: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {"candidates": [{**candidate, "index": 0}]}
        if turn.usage is not None:
            payload["usageMetadata"] = _usage(turn.usage, final)
        return {**payload, **envelope}

    def content(*parts: dict[str, Any]) -> dict[str, Any]:
        return {"content": {"parts": list(parts), "role": "model"}}

    for step in turn.steps:
        if isinstance(step, Pause):
            pauses[len(items)] = pauses.get(len(items), 0.0) + step.seconds
        elif isinstance(step, Text):
            items.extend(response(content({"text": piece}), False) for piece in step.pieces)
        elif isinstance(step, Thinking):
            items.extend(response(content({"text": piece, "thought": True}), False) for piece in step.pieces)
        else:
            items.append(response(content(_function_call(step)), False))
    if isinstance(turn.ending, ErrorEvent):
        items.append({"error": error_object(turn.ending.status, turn.ending.message)})
        return items, pauses
    if turn.ending is not None:
        return items, pauses
    assert turn.finish_reason is not None
    reason = _FINISH[turn.finish_reason]
    if turn.finish_reason == "content_filter":
        items.append(response({"finishReason": reason, "safetyRatings": _SAFETY_RATINGS}, True))
    elif items and len(items) not in pauses and "candidates" in items[-1]:
        # The finish reason and the final usage come with the last piece.
        last = items.pop()
        items.append(response({**last["candidates"][0], "finishReason": reason}, True))
    else:
        items.append(response({**content({"text": ""}), "finishReason": reason}, True))
    return items, pauses


def render(turn: Turn, context: RenderContext) -> Frames:
    """The events of `turn` as `google-genai` reads them (SSE)."""
    items, pauses = payloads(turn, context)
    frames = Frames(pauses=pauses, cut=turn.ending is not None and not isinstance(turn.ending, ErrorEvent))
    for item in items:
        frames.sse(item)
    return frames


def render_legacy(turn: Turn, context: RenderContext) -> Frames:
    """The pieces of `turn` as the legacy REST transport reads them (a growing JSON array)."""
    items, pauses = payloads(turn, context)
    cut = turn.ending is not None and not isinstance(turn.ending, ErrorEvent)
    return legacy_frames(items, pauses, cut=cut)


def legacy_frames(items: list[Any], pauses: dict[int, float], *, cut: bool) -> Frames:
    """`items` as the legacy transport's JSON array, one element per piece, enums as numbers."""
    numbers = _enum_numbers()
    frames = Frames(pauses=dict(pauses), cut=cut)
    for position, item in enumerate(items):
        element = json.dumps(_numbered(item, numbers), ensure_ascii=False)
        frames.events.append(f"{',' if position else '['}{element}\n\n".encode())
    if not cut:
        frames.events.append(b"]" if items else b"[]")
    return frames


def sse_payloads(body: bytes) -> list[Any]:
    """The JSON payloads of a Gemini SSE transcript, in order."""
    items = []
    for event in body.replace(b"\r\n", b"\n").split(b"\n\n"):
        for line in event.split(b"\n"):
            if line.startswith(b"data:"):
                items.append(json.loads(line[5:].strip()))
    return items


def _enum_numbers() -> dict[str, Callable[[str], int]]:
    glm: Any = importlib.import_module("google.ai.generativelanguage")

    return {
        "finishReason": lambda name: glm.Candidate.FinishReason[name].value,
        "blockReason": lambda name: glm.GenerateContentResponse.PromptFeedback.BlockReason[name].value,
        "category": lambda name: glm.HarmCategory[name].value,
        "probability": lambda name: glm.SafetyRating.HarmProbability[name].value,
    }


def _numbered(value: Any, numbers: dict[str, Callable[[str], int]]) -> Any:
    if isinstance(value, list):
        return [_numbered(item, numbers) for item in value]
    if isinstance(value, dict):
        return {
            key: numbers[key](item) if key in numbers and isinstance(item, str) else _numbered(item, numbers)
            for key, item in value.items()
        }
    return value
