"""A request sent through an SDK's `with_streaming_response`, its body read as raw SSE.

The OpenAI and Anthropic SDKs share this shape: the SDK builds and sends the request (auth,
base URL, headers, version headers) and raises its own typed errors for error statuses; the
response body is then read as server-sent events and decoded by the provider's decoder,
without building the SDK's per-event objects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import Any

from ._connections import Connections, RequestSockets
from ._sse import DEFAULT_MAX_EVENT_SIZE, RawEvent, aiter_events, iter_events
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
        max_event_bytes: int = DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        # A `timeout` call parameter wins; otherwise the stream's connect and idle limits.
        if timeouts is not None and kwargs.get("timeout") is None:
            kwargs = {**kwargs, "timeout": _httpx_timeout(timeouts)}
        self.kwargs = kwargs
        self.max_event_bytes = max_event_bytes
        self._client = client
        self._async_client = async_client
        self._connections = Connections()

    def endpoint(self, client: Any) -> Any:
        """The SDK resource whose `with_streaming_response.create` sends the request."""
        raise NotImplementedError

    @contextmanager
    def send(self) -> Iterator[Iterator[RawEvent]]:
        assert self._client is not None, "prepared for async use"
        create = self.endpoint(self._client).with_streaming_response.create
        sockets = RequestSockets(self._connections)
        with create(**self.kwargs) as response:
            sockets.add_response(response.http_response)
            events = iter_events(response.http_response.iter_bytes(), max_event_size=self.max_event_bytes)
            try:
                try:
                    yield events
                finally:
                    events.close()
            finally:
                sockets.forget()

    @asynccontextmanager
    async def send_async(self) -> AsyncIterator[AsyncIterator[RawEvent]]:
        assert self._async_client is not None, "prepared for sync use"
        create = self.endpoint(self._async_client()).with_streaming_response.create
        sockets = RequestSockets(self._connections)
        async with create(**self.kwargs) as response:
            http_response = response.http_response
            sockets.add_response(http_response)
            pieces = http_response.aiter_bytes()
            events = aiter_events(pieces, max_event_size=self.max_event_bytes)
            try:
                try:
                    yield events
                finally:
                    await events.aclose()
            finally:
                sockets.forget()
                # Closing `pieces` would end only the outermost of httpx's nested async
                # generators and leave the others to the event loop's finaliser, as tasks.
                # Closing the response first makes their next read fail at once, and reading
                # on to that failure ends each of them here and now.
                await http_response.aclose()
                await drain_closed(pieces)

    def abort(self) -> None:
        """Shut the live connection down, from any thread: a blocked read returns at once."""
        self._connections.abort()

    def interrupt(self) -> None:
        """Shut the live connection down, from any thread; the call may be sent again."""
        self._connections.interrupt()


_httpx_timeouts: dict[Timeouts, Any] = {}


def _httpx_timeout(timeouts: Timeouts) -> Any:
    """`timeouts.for_httpx()`, made once per distinct `Timeouts` (they are immutable)."""
    timeout = _httpx_timeouts.get(timeouts)
    if timeout is None:
        timeout = timeouts.for_httpx()
        if len(_httpx_timeouts) < 64:
            _httpx_timeouts[timeouts] = timeout
    return timeout


async def drain_closed(items: AsyncIterator[Any]) -> None:
    """Read an async iterator over a closed httpx response on to its (immediate) end.

    Reading a closed response fails at once, and the failure ends each nested async
    generator of the SDK and of httpx here; `aclose()` would end only the outermost one and
    leave the others to the event loop's finaliser, as tasks.
    """
    import httpx2

    # The failure is the expected end of reading a closed response.
    with suppress(httpx2.HTTPError, httpx2.StreamError):
        async for _ in items:
            pass
