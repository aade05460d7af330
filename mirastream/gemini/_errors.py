"""Gemini SDK and transport exceptions as mirastream's typed errors.

Google reports errors as `{"error": {"code": 429, "message": ..., "status":
"RESOURCE_EXHAUSTED", "details": [...]}}`, both as HTTP error bodies and, with a 200
status, inside a stream. The `code` is an HTTP status either way, so both map by status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._status import connection_error, error_for_status
from ..errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    MalformedStreamError,
    MirastreamError,
    ProviderError,
    RateLimitError,
    StreamInterrupted,
)

_PROVIDER = "gemini"


def _details(body: Any, kind: str) -> list[Mapping[str, Any]]:
    """The `details` of a Google error object whose `@type` names `kind`."""
    details = body.get("details") if isinstance(body, Mapping) else None
    if not isinstance(details, list):
        return []
    return [
        detail
        for detail in details
        if isinstance(detail, Mapping) and str(detail.get("@type", "")).endswith(f"google.rpc.{kind}")
    ]


def retry_delay(body: Any) -> float | None:
    """The wait a Google error object asks for in a `google.rpc.RetryInfo` detail ("7s")."""
    for detail in _details(body, "RetryInfo"):
        try:
            return max(float(str(detail.get("retryDelay") or "").removesuffix("s")), 0.0)
        except ValueError:
            return None
    return None


def typed_error(
    code: int,
    message: str,
    *,
    body: Any,
    headers: Mapping[str, str] | None,
    in_stream: bool,
) -> ProviderError:
    """The typed error for a Google error with HTTP status `code`.

    `in_stream` marks an error payload that arrived inside a stream that had begun with
    HTTP 200. A 429 without a `retry-after` header takes its wait from `RetryInfo`; a
    400 whose `ErrorInfo` reason is `API_KEY_INVALID` is an `AuthenticationError`.
    """
    if any(detail.get("reason") == "API_KEY_INVALID" for detail in _details(body, "ErrorInfo")):
        # Gemini rejects a wrong key with 400 INVALID_ARGUMENT; it is still a key problem.
        return AuthenticationError(
            f"gemini rejected the API key (HTTP {code}): {message}",
            provider=_PROVIDER,
            status_code=code,
            body=body,
        )
    error = error_for_status(code, message, provider=_PROVIDER, body=body, headers=headers)
    if in_stream:
        text = f"gemini reported an error in the stream ({code}): {message}"
        error.message = text
        error.args = (text,)
    if isinstance(error, RateLimitError) and error.retry_after is None:
        error.retry_after = retry_delay(body)
    return error


def stream_error(error: Any) -> ProviderError:
    """The typed error for an `{"error": ...}` object that arrived inside a stream."""
    body = error if isinstance(error, Mapping) else {"message": str(error)}
    code = body.get("code")
    message = body.get("message") or body.get("status") or "no message"
    return typed_error(
        code if isinstance(code, int) and code >= 400 else 500,
        str(message),
        body=body,
        headers=None,
        in_stream=True,
    )


def _error_object(payload: Any) -> Any:
    """The `error` object of a Google error body (the body itself if it has none)."""
    if isinstance(payload, list) and len(payload) == 1:
        payload = payload[0]
    if isinstance(payload, Mapping) and isinstance(payload.get("error"), Mapping):
        return payload["error"]
    return payload


def convert_error(error: Exception) -> MirastreamError | None:
    """The typed error for an exception of the `google-genai` SDK or of its HTTP transport."""
    import httpx2
    import pydantic
    from google.genai import errors

    if isinstance(error, errors.APIError):
        response = error.response
        status = getattr(response, "status_code", None)
        headers = getattr(response, "headers", None)
        return typed_error(
            error.code,
            error.message or str(error),
            body=_error_object(error.details),
            headers=headers if isinstance(headers, Mapping) else None,
            in_stream=status == 200,
        )
    if isinstance(error, (errors.UnknownApiResponseError, pydantic.ValidationError)):
        return MalformedStreamError(
            f"gemini sent a chunk the SDK could not read: {error}", provider=_PROVIDER
        )
    if isinstance(error, httpx2.TimeoutException):
        return APITimeoutError(f"gemini did not answer in time: {error!r}", provider=_PROVIDER)
    if isinstance(error, httpx2.TransportError):
        return connection_error(error, provider=_PROVIDER)
    return None


def convert_legacy_error(error: Exception) -> MirastreamError | None:
    """The typed error for an exception of the legacy `google-generativeai` REST client."""
    import requests
    from google.api_core import exceptions
    from google.protobuf.json_format import ParseError  # type: ignore[import-untyped]

    if isinstance(error, exceptions.GoogleAPICallError) and isinstance(error.code, int):
        response = error.response
        body: Any = None
        if isinstance(response, requests.Response):
            try:
                body = _error_object(response.json())
            except ValueError:
                body = response.text
        return typed_error(
            error.code,
            error.message or str(error),
            body=body,
            headers=response.headers if isinstance(response, requests.Response) else None,
            in_stream=False,
        )
    if isinstance(error, requests.Timeout):
        return APITimeoutError(f"gemini did not answer in time: {error!r}", provider=_PROVIDER)
    if isinstance(error, requests.ConnectionError):
        return connection_error(error, provider=_PROVIDER)
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return APIConnectionError(f"the gemini connection broke: {error!r}", provider=_PROVIDER)
    if isinstance(error, ValueError) and str(error).startswith("Unfinished stream"):
        return StreamInterrupted(f"the gemini stream broke off: {error}", provider=_PROVIDER)
    if isinstance(error, (ParseError, ValueError)):
        return MalformedStreamError(
            f"gemini sent a stream the legacy SDK could not read: {error}", provider=_PROVIDER
        )
    return None
