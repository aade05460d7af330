"""Anthropic SDK and transport exceptions, and in-stream error events, as typed errors."""

from __future__ import annotations

from typing import Any

from .._status import connection_error, error_for_status
from ..errors import (
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    MirastreamError,
    ProviderError,
    RateLimitError,
    ServerError,
)

_PROVIDER = "anthropic"

# The `error.type` values of the Messages API; anything else counts as a server failure.
_EVENT_ERRORS: dict[str, type[ProviderError]] = {
    "invalid_request_error": BadRequestError,
    "not_found_error": BadRequestError,
    "request_too_large": BadRequestError,
    "authentication_error": AuthenticationError,
    "permission_error": AuthenticationError,
    "rate_limit_error": RateLimitError,
    "billing_error": ProviderError,
}


def _details(body: object) -> dict[str, Any]:
    """The `{"type": ..., "message": ...}` object of an Anthropic error body."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return error
    return {}


def error_from_event(payload: dict[str, Any]) -> ProviderError:
    """The typed error for an `error` event sent inside the stream.

    `payload` is the event's data, e.g.
    `{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}`.
    """
    details = _details(payload)
    kind = str(details.get("type") or "")
    message = str(details.get("message") or kind or "the stream reported an error")
    error_class = _EVENT_ERRORS.get(kind, ServerError)
    return error_class(
        f"anthropic reported an error in the stream ({kind or 'unknown'}): {message}",
        provider=_PROVIDER,
        body=payload,
    )


def convert_error(error: Exception) -> MirastreamError | None:
    """The typed error for an exception of the `anthropic` SDK or of its HTTP transport."""
    import anthropic
    import httpx2

    if isinstance(error, anthropic.APIStatusError):
        response = error.response
        message = _details(error.body).get("message") or error.message
        return error_for_status(
            response.status_code,
            str(message),
            provider=_PROVIDER,
            body=error.body,
            headers=response.headers,
        )
    if isinstance(error, (anthropic.APITimeoutError, httpx2.TimeoutException)):
        return APITimeoutError(f"anthropic did not answer in time: {error}", provider=_PROVIDER)
    if isinstance(error, (anthropic.APIConnectionError, httpx2.TransportError)):
        return connection_error(error, provider=_PROVIDER)
    if isinstance(error, anthropic.APIError):
        return ProviderError(f"anthropic: {error.message}", provider=_PROVIDER, body=error.body)
    return None
