"""Turning HTTP error statuses into mirastream's typed errors (shared by every provider)."""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from time import time

from .errors import AuthenticationError, BadRequestError, ProviderError, RateLimitError, ServerError


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait a response asks for: `retry-after-ms`, or `retry-after` in seconds or as a date."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(float(milliseconds) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time(), 0.0)
    except (TypeError, ValueError):
        return None


def error_for_status(
    status: int,
    message: str,
    *,
    provider: str,
    body: object = None,
    headers: Mapping[str, str] | None = None,
) -> ProviderError:
    """The typed error for an HTTP error status."""
    message = message.removeprefix(f"Error code: {status} - ")  # the SDKs' own status prefix
    text = f"{provider} answered HTTP {status}: {message}"
    if status in (401, 403):
        return AuthenticationError(text, provider=provider, status_code=status, body=body)
    if status == 429:
        return RateLimitError(
            text,
            provider=provider,
            status_code=status,
            body=body,
            retry_after=retry_after_seconds(headers or {}),
        )
    if status >= 500:
        return ServerError(text, provider=provider, status_code=status, body=body)
    if 400 <= status < 500 and status != 408:
        return BadRequestError(text, provider=provider, status_code=status, body=body)
    return ProviderError(text, provider=provider, status_code=status, body=body)
