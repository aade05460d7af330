"""The HTTP clients under the default Gemini clients.

`google-genai` has no way to hand back a streamed response unread, so the default clients
split a request in two. The SDK prepares it (URL, API version, key, headers, body, timeout)
and sends it through one of these clients, which, while `preparing()` is active, keeps the
prepared request and answers it with an empty stream instead of sending it. mirastream then
sends that request itself through the same client and reads the server-sent events raw.
Outside `preparing()` the clients are plain `httpx2` clients.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpx2

from ..errors import MirastreamError

_PREPARED: ContextVar[list[httpx2.Request] | None] = ContextVar("mirastream_gemini_prepared", default=None)


class PreparedRequest:
    """The request the SDK prepared inside a `preparing()` block."""

    __slots__ = ("_requests",)

    def __init__(self, requests: list[httpx2.Request]) -> None:
        self._requests = requests

    @property
    def request(self) -> httpx2.Request:
        """The prepared request.

        Raises:
            MirastreamError: the SDK prepared no request (or several).
        """
        if len(self._requests) != 1:
            raise MirastreamError(
                f"google-genai prepared {len(self._requests)} requests for one stream, not 1",
                provider="gemini",
            )
        return self._requests[0]


@contextmanager
def preparing() -> Iterator[PreparedRequest]:
    """Keep, instead of sending, the requests sent through these clients in the block."""
    requests: list[httpx2.Request] = []
    token = _PREPARED.set(requests)
    try:
        yield PreparedRequest(requests)
    finally:
        _PREPARED.reset(token)


def _kept(request: httpx2.Request) -> httpx2.Response | None:
    """The empty answer to a request sent inside `preparing()`, which keeps it; else `None`."""
    requests = _PREPARED.get()
    if requests is None:
        return None
    requests.append(request)
    return httpx2.Response(200, headers={"content-type": "text/event-stream"}, request=request)


class PreparingClient(httpx2.Client):
    """An `httpx2.Client` that keeps the requests sent inside `preparing()`."""

    def send(self, request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
        kept = _kept(request)
        return kept if kept is not None else super().send(request, **kwargs)


class AsyncPreparingClient(httpx2.AsyncClient):
    """An `httpx2.AsyncClient` that keeps the requests sent inside `preparing()`."""

    async def send(self, request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
        kept = _kept(request)
        return kept if kept is not None else await super().send(request, **kwargs)
