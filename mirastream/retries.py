"""Retrying a stream's request, with tenacity, only while nothing has reached the consumer.

A retry policy is a number of retries or a full `tenacity.Retrying` / `AsyncRetrying`. It
covers sending the request and waiting for the first chunk; once a chunk has been yielded,
nothing is retried, so nothing is ever shown twice. The default clients mirastream makes
have the SDKs' own retries turned off, so a request is never retried twice over; a client
you configure yourself keeps its SDK retries, on top of this policy (set the SDK's
`max_retries=0` to leave retrying to mirastream).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Union

from .errors import APIConnectionError, ProviderError, RateLimitError, ServerError

if TYPE_CHECKING:
    from tenacity import AsyncRetrying, RetryCallState, Retrying

__all__ = ["DEFAULT_RETRIES", "RetryPolicy", "default_wait", "is_retryable"]

RetryPolicy = Union[int, "Retrying", "AsyncRetrying", None]
"""`None` or `0`: no retries; `n`: up to `n` retries with the default rules; or your own
`tenacity.Retrying` (sync or async streams) / `tenacity.AsyncRetrying` (async streams)."""

DEFAULT_RETRIES = 2
"""Retries by default (so up to 3 attempts)."""

_RETRYABLE_STATUSES = frozenset({408, 409})
_MAX_RETRY_AFTER = 60.0


def is_retryable(error: BaseException) -> bool:
    """Whether the default policy retries `error`.

    It retries connection errors and timeouts, 408, 409, 429 and 5xx statuses and
    "overloaded" errors; never 400, 401, 403, 404 or 422.
    """
    if isinstance(error, (APIConnectionError, RateLimitError, ServerError)):
        return True
    return isinstance(error, ProviderError) and error.status_code in _RETRYABLE_STATUSES


def default_wait(state: RetryCallState) -> float:
    """The provider's `retry-after` when it gave one, else exponential backoff with jitter."""
    outcome = state.outcome
    error = outcome.exception() if outcome is not None else None
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, (int, float)) and retry_after >= 0:
        return float(min(retry_after, _MAX_RETRY_AFTER))
    backoff: float = min(8.0, 0.5 * 2 ** (state.attempt_number - 1))
    return backoff / 2 + random.uniform(0, backoff / 2)


def counted_retries(policy: RetryPolicy) -> int | None:
    """How many retries a policy given as a number allows (0 for `None`); `None` for a tenacity object.

    Raises:
        TypeError: `policy` is neither a number nor a tenacity `Retrying` / `AsyncRetrying`.
        ValueError: a negative number.
    """
    if policy is None or policy == 0:
        return 0
    if isinstance(policy, int) and not isinstance(policy, bool):
        if policy < 0:
            raise ValueError(f"retries must be >= 0, not {policy}")
        return policy
    import tenacity

    if not isinstance(policy, tenacity.BaseRetrying):
        raise TypeError(f"retries must be an int or a tenacity Retrying object, not {type(policy).__name__}")
    return None


def build_retrying(policy: RetryPolicy, *, asynchronous: bool) -> Any:
    """The tenacity object for `policy` (`None` for no retries).

    A sync `Retrying` given to an async stream is turned into an `AsyncRetrying` with the
    same rules, so that waiting does not block the event loop.
    """
    retries = counted_retries(policy)
    if retries == 0:
        return None
    import tenacity

    if retries is not None:
        rules: dict[str, Any] = {
            "stop": tenacity.stop_after_attempt(retries + 1),
            "wait": default_wait,
            "retry": tenacity.retry_if_exception(is_retryable),
            "reraise": True,
        }
        return tenacity.AsyncRetrying(**rules) if asynchronous else tenacity.Retrying(**rules)
    assert isinstance(policy, tenacity.BaseRetrying)
    if asynchronous and not isinstance(policy, tenacity.AsyncRetrying):
        return tenacity.AsyncRetrying(
            stop=policy.stop,
            wait=policy.wait,
            retry=policy.retry,
            before=policy.before,
            after=policy.after,
            before_sleep=policy.before_sleep,
            reraise=policy.reraise,
            retry_error_callback=policy.retry_error_callback,
        )
    if not asynchronous and isinstance(policy, tenacity.AsyncRetrying):
        raise TypeError("an AsyncRetrying policy needs stream_async(); give a Retrying for stream()")
    return policy.copy()
