"""OpenAI SDK and transport exceptions as mirastream's typed errors."""

from __future__ import annotations

from typing import Any

from .._status import error_for_status
from ..errors import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    MirastreamError,
    ProviderError,
    RateLimitError,
    ServerError,
)

_PROVIDER = "openai"


def error_from_event(error: Any) -> ProviderError:
    """The typed error for an `{"error": {...}}` payload sent inside the stream."""
    details = error if isinstance(error, dict) else {"message": str(error)}
    message = str(details.get("message") or "the stream reported an error")
    kind = str(details.get("type") or details.get("code") or "")
    text = f"openai reported an error in the stream: {message}"
    if "rate_limit" in kind:
        return RateLimitError(text, provider=_PROVIDER, body=details)
    if kind == "invalid_request_error":
        return BadRequestError(text, provider=_PROVIDER, body=details)
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
        return APIConnectionError(f"could not reach openai: {error!r}", provider=_PROVIDER)
    if isinstance(error, openai.APIError):
        return ProviderError(f"openai: {error.message}", provider=_PROVIDER, body=error.body)
    return None
