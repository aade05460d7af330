"""Errors reported inside a Responses API stream (`error` and `response.failed`) as typed errors."""

from __future__ import annotations

from typing import Any

from ..errors import BadRequestError, ContentFilterError, ProviderError, RateLimitError, ServerError
from ._errors import error_from_event

_PROVIDER = "openai"

# Error codes of the Responses API that are about the request or its content, not the server.
_CONTENT_CODES = frozenset({"bio_policy", "misalignment_policy_violation", "content_filter"})
_REQUEST_PREFIXES = ("invalid_", "image_", "unsupported_", "empty_", "failed_to_", "context_length")
_REQUEST_CODES = frozenset({"data_residency_mismatch", "invalid_request_error"})


def _kind(details: dict[str, Any]) -> str:
    """The error's code (or type), the field that says what went wrong."""
    for field in ("code", "type"):
        value = details.get(field)
        if isinstance(value, str) and value and value != "error":
            return value
    return ""


def _status_in(details: dict[str, Any]) -> bool:
    """Whether the error names an HTTP status in its `code` or `status` (e.g. a proxy's 429)."""
    for field in ("code", "status"):
        value = details.get(field)
        if type(value) is int or (isinstance(value, str) and len(value) == 3 and value.isdigit()):
            return True
    return False


def stream_error(details: Any, *, failed: bool = False) -> ProviderError:
    """The typed error for an error the stream reports.

    `details` is the `error` event itself (`{"type": "error", "code": ..., "message": ...}`),
    the `error` object nested in one, or the `error` of a failed response. The code decides:
    `rate_limit_exceeded` is a `RateLimitError`, an exhausted quota (`insufficient_quota`,
    which waiting does not cure) a plain `ProviderError`, which is not retried; policy codes
    (`bio_policy`, ...) a `ContentFilterError`, codes about the request (`invalid_prompt`,
    `image_...`, `context_length_exceeded`, ...) a `BadRequestError`, anything else (such as
    `server_error`) a `ServerError`. A numeric status in `code` decides as that HTTP status.
    """
    if not isinstance(details, dict):
        details = {"message": str(details)[:1000]}
    if _status_in(details):
        return error_from_event(details)
    message = details.get("message")
    if not isinstance(message, str) or not message:
        message = "the response failed" if failed else "the stream reported an error"
    kind = _kind(details)
    what = "the response failed" if failed else "openai reported an error in the stream"
    text = f"{what} ({kind or 'unknown'}): {message}"
    error_class: type[ProviderError] = ServerError
    if "rate_limit" in kind:
        error_class = RateLimitError
    elif "quota" in kind:
        error_class = ProviderError
    elif kind in _CONTENT_CODES or "content_policy" in kind:
        error_class = ContentFilterError
    elif kind in _REQUEST_CODES or kind.startswith(_REQUEST_PREFIXES):
        error_class = BadRequestError
    return error_class(text, provider=_PROVIDER, body=details)
