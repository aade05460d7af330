"""The error hierarchy of mirastream.

Every error is a `MirastreamError`. Errors about the caller's own input
(`ConfigurationError` and its subclasses) are raised before any network call.
Errors from a provider name the provider, keep the SDK's exception as `__cause__` and,
when part of the answer had already arrived, carry that partial answer as `.response`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .responses import Response

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ContentFilterError",
    "MalformedStreamError",
    "MaxStepsReached",
    "MirastreamError",
    "MissingAPIKeyError",
    "MissingDependencyError",
    "ProviderError",
    "RateLimitError",
    "ServerError",
    "StreamAlreadyConsumed",
    "StreamInterrupted",
    "TemplateError",
]


class MirastreamError(Exception):
    """Base class of every error raised by mirastream.

    Attributes:
        provider: the provider involved (`"openai"`, `"anthropic"`, ...), if any.
        response: what was received before the error (text, tool calls, usage so far), or
            `None` when nothing had arrived.
    """

    def __init__(
        self, message: str, *, provider: str | None = None, response: Response | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.response = response


class ConfigurationError(MirastreamError, ValueError):
    """The caller's own configuration is wrong; raised before any request is sent."""


class TemplateError(ConfigurationError):
    """A prompt template is malformed or names a field its class does not declare."""


class MissingAPIKeyError(ConfigurationError):
    """No usable API key was found. `env_var` names the environment variable to set, if any."""

    def __init__(self, message: str, *, provider: str, env_var: str | None) -> None:
        super().__init__(message, provider=provider)
        self.env_var = env_var


class MissingDependencyError(ConfigurationError, ImportError):
    """An optional dependency is not installed. `extra` names the extra that installs it."""

    def __init__(self, message: str, *, extra: str) -> None:
        super().__init__(message)
        self.extra = extra


class StreamAlreadyConsumed(MirastreamError, RuntimeError):
    """A stream was iterated a second time; streams can be iterated once."""


class ProviderErrorDetails(TypedDict, total=False):
    """What a `ProviderError` carries besides its message, by keyword (see `ProviderError`)."""

    provider: str | None
    response: Response | None
    status_code: int | None
    body: object


class ProviderError(MirastreamError):
    """The provider answered with an error.

    Attributes:
        status_code: the HTTP status, when the error came with one.
        body: the decoded error body the provider sent, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        response: Response | None = None,
        status_code: int | None = None,
        body: object = None,
    ) -> None:
        super().__init__(message, provider=provider, response=response)
        self.status_code = status_code
        self.body = body


class AuthenticationError(ProviderError):
    """The API key was rejected or lacks permission (HTTP 401 or 403)."""


class BadRequestError(ProviderError):
    """The provider rejected the request itself (HTTP 400, 404, 409, 413 or 422)."""


class RateLimitError(ProviderError):
    """Too many requests (HTTP 429). `retry_after` is the wait the provider asked for, in seconds."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, **details: Unpack[ProviderErrorDetails]
    ) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class ServerError(ProviderError):
    """The provider failed or is overloaded (HTTP 5xx, or an error event inside the stream)."""


class ContentFilterError(ProviderError):
    """The provider refused to answer because of its content policy."""


class APIConnectionError(MirastreamError, ConnectionError):
    """The connection to the provider could not be made or broke before any chunk arrived."""


class APITimeoutError(APIConnectionError, TimeoutError):
    """The provider did not answer in time."""


class MalformedStreamError(MirastreamError):
    """The stream broke the provider's wire format (an unparsable or unexpected event)."""


class StreamInterrupted(MirastreamError):
    """The stream stopped before the provider finished its answer.

    `response` holds everything received until then, marked `interrupted`.
    """


class MaxStepsReached(MirastreamError):
    """The model was still calling tools after `max_steps` turns; the loop stopped there.

    `response` holds every step so far; the last turn's tool calls were not run.
    """
