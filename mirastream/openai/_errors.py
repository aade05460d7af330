"""OpenAI SDK and transport exceptions as mirastream's typed errors."""

from __future__ import annotations

from typing import Any

from .._status import connection_error, error_for_status
from ..errors import (
    APITimeoutError,
    BadRequestError,
    ContentFilterError,
    MirastreamError,
    ProviderError,
    RateLimitError,
    ServerError,
)

_PROVIDER = "openai"


def _text(value: Any) -> str:
    """`value` as text for a message (a string as it is; a value nested too deeply by its type)."""
    if isinstance(value, str):
        return value
    try:
        return str(value)[:1000]
    except RecursionError:
        return f"a {type(value).__name__} nested too deeply to show"


def _status(details: dict[str, Any]) -> int | None:
    """The HTTP status an error payload names in its `code` or `status` (e.g. OpenRouter's 400)."""
    for field in ("code", "status"):
        value = details.get(field)
        if type(value) is str and len(value) == 3 and value.isdigit():
            value = int(value)
        if type(value) is int and 400 <= value <= 599:
            return value
    return None


def error_from_event(error: Any) -> ProviderError:
    """The typed error for an `{"error": {...}}` payload sent inside the stream.

    A numeric status in `code` or `status` decides the type as an HTTP status would (400:
    `BadRequestError`, 429: `RateLimitError`, 5xx: `ServerError`, ...) and is kept as
    `status_code`, so the retry policy treats it as it treats that status. Otherwise the error
    `type` or `code` decides (`rate_limit...`, `invalid_request_error`, `content_filter`), and
    anything else is a `ServerError`.
    """
    details = error if isinstance(error, dict) else {"message": _text(error)}
    message = details.get("message")
    if not message or not isinstance(message, str):
        message = "the stream reported an error"
    status = _status(details)
    if status is not None:
        text = f"openai reported an error in the stream (status {status}): {message}"
        typed = error_for_status(status, message, provider=_PROVIDER, body=details)
        typed.message = text
        typed.args = (text,)
        return typed
    kind = _text(details.get("type") or details.get("code") or "")
    text = f"openai reported an error in the stream: {message}"
    if "rate_limit" in kind:
        return RateLimitError(text, provider=_PROVIDER, body=details)
    if kind == "invalid_request_error":
        return BadRequestError(text, provider=_PROVIDER, body=details)
    if "content_filter" in kind:
        return ContentFilterError(text, provider=_PROVIDER, body=details)
    return ServerError(text, provider=_PROVIDER, body=details)


def convert_error(error: Exception) -> MirastreamError | None:
    """The typed error for an exception of the `openai` SDK or of its HTTP transport."""
    import httpx2
    import openai

    if isinstance(error, openai.APIStatusError):
        response = error.response
        return error_for_status(
            response.status_code,
            error.message,
            provider=_PROVIDER,
            body=error.body,
            headers=response.headers,
        )
    if isinstance(error, (openai.APITimeoutError, httpx2.TimeoutException)):
        return APITimeoutError(f"openai did not answer in time: {error}", provider=_PROVIDER)
    if isinstance(error, (openai.APIConnectionError, httpx2.TransportError)):
        return connection_error(error, provider=_PROVIDER)
    if isinstance(error, openai.APIError):
        return ProviderError(f"openai: {error.message}", provider=_PROVIDER, body=error.body)
    return None
