"""Turning HTTP error statuses into mirastream's typed errors (shared by every provider)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime
from time import time
from urllib.parse import urlsplit, urlunsplit

from .errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ProviderError,
    RateLimitError,
    ServerError,
)


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


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what caused it, outermost first (urllib3 keeps its cause in `reason`)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            current = reason
        elif current.__cause__ is not None:
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            current = current.__context__
        else:
            args = getattr(current, "args", ())
            current = args[0] if args and isinstance(args[0], BaseException) else None


def _request_url(error: BaseException) -> str | None:
    """The URL the failed request went to, without its query (which may hold a key)."""
    for cause in _causes(error):
        try:
            request = getattr(cause, "request", None)
        except RuntimeError:  # httpx's `request` property raises when no request is attached
            continue
        url = getattr(request, "url", None)
        if url is not None:
            parts = urlsplit(str(url))
            host = parts.hostname or ""
            netloc = f"[{host}]" if ":" in host else host
            if parts.port is not None:
                netloc += f":{parts.port}"
            return urlunsplit((parts.scheme, netloc, parts.path, "", "")) or None
    return None


def _cause_in_words(error: BaseException) -> str:
    """Why a connection failed, in a few words: the innermost cause the chain knows."""
    causes = list(_causes(error))
    for cause in reversed(causes):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return f"the host name could not be resolved ({cause.strerror or cause})"
        if isinstance(cause, ConnectionResetError):
            return "the server reset the connection"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"its TLS certificate was not accepted ({getattr(cause, 'verify_message', None) or cause})"
        if isinstance(cause, ssl.SSLError):
            return f"the TLS handshake failed ({getattr(cause, 'reason', None) or cause})"
        if isinstance(cause, TimeoutError):
            return "timed out"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror[:1].lower() + cause.strerror[1:]
    innermost = causes[-1]
    text = str(innermost).strip()
    return text or type(innermost).__name__


def connection_error(error: BaseException, *, provider: str) -> APIConnectionError:
    """The typed error for a request that reached no server: it names the URL and the cause.

    For example `could not reach http://127.0.0.1:9/v1/chat/completions: connection refused`.
    """
    where = _request_url(error) or f"the {provider} server"
    return APIConnectionError(f"could not reach {where}: {_cause_in_words(error)}", provider=provider)
