"""Helpers for Gemini's wire formats: transcript payloads, the legacy JSON array, Google errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..loopback import Reply, transcript


def payloads(name: str) -> list[dict[str, Any]]:
    """The JSON payloads of `tests/transcripts/gemini/<name>.sse`, in order."""
    events = transcript(f"gemini/{name}.sse").decode().split("\n\n")
    return [json.loads(event[len("data: ") :]) for event in events if event.startswith("data: ")]


def _enum_numbers() -> dict[str, Callable[[str], int]]:
    from google.ai import generativelanguage as glm

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


def legacy_reply(name: str, **options: Any) -> Reply:
    """A transcript as the REST transport of `google-generativeai` receives it.

    That transport asks for `$alt=json;enum-encoding=int`: the stream is one JSON array,
    growing by one `GenerateContentResponse` per chunk, with enums as numbers.
    """
    numbers = _enum_numbers()
    elements = [json.dumps(_numbered(payload, numbers), ensure_ascii=False) for payload in payloads(name)]
    body = "[" + "\n\n,".join(elements) + "\n\n]"
    return Reply(body.encode(), content_type="application/json", chunked=True, **options)


def google_error(code: int, status: str, message: str, *details: dict[str, Any]) -> dict[str, Any]:
    """An error body in Google's format."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return {"error": error}
