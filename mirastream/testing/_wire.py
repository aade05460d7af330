"""What the renderers share: the wire formats, what a request tells them, and event framing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote

Wire = Literal["openai", "openai-responses", "anthropic", "gemini", "gemini-legacy"]
"""A wire format the server speaks: OpenAI Chat Completions, OpenAI Responses, Anthropic
Messages, Gemini `streamGenerateContent` as SSE (`google-genai`) or as a JSON array
(`google-generativeai`)."""

WIRES: tuple[Wire, ...] = ("openai", "openai-responses", "anthropic", "gemini", "gemini-legacy")

CREATED = 1767225600  # a fixed `created` timestamp, so rendered replies are reproducible


class RenderError(Exception):
    """A scripted reply cannot be expressed in the wire format that was asked for."""


def detect_wire(path: str) -> Wire | None:
    """The wire format a request path asks for (`None` for a path no provider streams from)."""
    route, _, query = path.partition("?")
    if route.endswith("/chat/completions"):
        return "openai"
    if route.endswith("/responses"):
        return "openai-responses"
    if route.endswith("/messages"):
        return "anthropic"
    if route.endswith(":streamGenerateContent"):
        return "gemini" if "alt=sse" in unquote(query) else "gemini-legacy"
    return None


def requested_model(wire: Wire, path: str, body: Any) -> str | None:
    """The model a request asks for: in its body, or in its path on Gemini."""
    if wire in ("gemini", "gemini-legacy"):
        route = path.partition("?")[0]
        return unquote(route.rpartition("/models/")[2].partition(":")[0]) or None
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) and model else None


@dataclass(frozen=True)
class RenderContext:
    """What a renderer needs to know about the request it answers.

    Attributes:
        wire: the wire format to write.
        model: the model the request asked for.
        number: the request's position on the server (1 for the first).
        include_usage: whether an OpenAI request asked for a usage chunk.
    """

    wire: Wire
    model: str = "scripted-model"
    number: int = 1
    include_usage: bool = True

    @classmethod
    def of_request(cls, wire: Wire, path: str, body: Any, number: int) -> RenderContext:
        """The context of a request with `path` and decoded JSON `body`."""
        include_usage = True
        if wire == "openai":
            options = body.get("stream_options") if isinstance(body, dict) else None
            include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        return cls(
            wire,
            model=requested_model(wire, path, body) or "scripted-model",
            number=number,
            include_usage=include_usage,
        )


@dataclass
class Frames:
    """A stream being written: its events, the pauses before some of them, and a cut."""

    events: list[bytes] = field(default_factory=list)
    pauses: dict[int, float] = field(default_factory=dict)
    cut: bool = False

    def sse(self, payload: Any, event: str | None = None) -> None:
        """Add a server-sent event whose data is `payload` as compact JSON."""
        data = payload if isinstance(payload, str) else compact(payload)
        prefix = f"event: {event}\n" if event else ""
        self.events.append(f"{prefix}data: {data}\n\n".encode())

    def pause(self, seconds: float) -> None:
        """Wait `seconds` before the next event (or before the end)."""
        at = len(self.events)
        self.pauses[at] = self.pauses.get(at, 0.0) + seconds


def compact(payload: Any) -> str:
    """JSON text the way the APIs send it: no spaces, non-ASCII as is."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


# Each provider's name for an error of a given HTTP status.
OPENAI_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_exceeded", "rate_limit_exceeded"),
}
ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
GOOGLE_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
MESSAGES = {
    400: "The request is invalid.",
    401: "Invalid API key.",
    403: "Permission denied.",
    404: "The requested model was not found.",
    408: "The request timed out.",
    409: "The request conflicts with another request.",
    413: "The request is too large.",
    422: "The request could not be processed.",
    429: "Rate limit reached; please retry later.",
    500: "The server had an error while processing your request.",
    503: "The service is overloaded; please retry later.",
    529: "Overloaded",
}


def default_message(status: int) -> str:
    """A typical message for an error with HTTP `status`."""
    return MESSAGES.get(status, "The server could not answer the request.")
