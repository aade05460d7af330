"""A request sent through an SDK's `with_streaming_response`, its body read as raw SSE.

The OpenAI and Anthropic SDKs share this shape: the SDK builds and sends the request (auth,
base URL, headers, version headers) and raises its own typed errors for error statuses; the
response body is then read as server-sent events and decoded by the provider's decoder,
without building the SDK's per-event objects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing, asynccontextmanager, closing, contextmanager
from typing import Any

from ._sse import ServerSentEvent, aiter_events, iter_events
from .timeouts import Timeouts


class StreamingResponseCall:
    """Sends one streamed request; subclasses name the SDK endpoint, decoder and errors."""

    provider: str

    def __init__(
        self,
        kwargs: dict[str, Any],
        *,
        client: Any = None,
        async_client: Callable[[], Any] | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        # A `timeout` call parameter wins; otherwise the stream's connect and idle limits.
        if timeouts is not None and kwargs.get("timeout") is None:
            kwargs = {**kwargs, "timeout": timeouts.for_httpx()}
        self.kwargs = kwargs
        self._client = client
        self._async_client = async_client

    def endpoint(self, client: Any) -> Any:
        """The SDK resource whose `with_streaming_response.create` sends the request."""
        raise NotImplementedError

    @contextmanager
    def send(self) -> Iterator[Iterator[ServerSentEvent]]:
        assert self._client is not None, "prepared for async use"
        create = self.endpoint(self._client).with_streaming_response.create
        with (
            create(**self.kwargs) as response,
            closing(iter_events(response.http_response.iter_bytes())) as events,
        ):
            yield events

    @asynccontextmanager
    async def send_async(self) -> AsyncIterator[AsyncIterator[ServerSentEvent]]:
        assert self._async_client is not None, "prepared for sync use"
        create = self.endpoint(self._async_client()).with_streaming_response.create
        async with (
            create(**self.kwargs) as response,
            aclosing(aiter_events(response.http_response.aiter_bytes())) as events,
        ):
            yield events
