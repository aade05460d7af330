"""A prepared Gemini request, sent by the stream drivers.

With mirastream's default clients, `google-genai` prepares the request (URL, API version,
key, headers, body) and mirastream sends it and reads the server-sent events raw: no SDK
object is built unless a chunk's `.chunk` asks for it. With a `client` of your own, the
SDK sends the request and its objects are decoded.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import aclosing, asynccontextmanager, closing, contextmanager
from itertools import chain
from typing import TYPE_CHECKING, Any

from .._connections import Connections, RequestSockets
from .._sse import DEFAULT_MAX_EVENT_SIZE, RawEvent, aiter_events, iter_events
from .._streaming_response import drain_closed
from ..errors import MirastreamError
from ..timeouts import Timeouts
from ._client import GeminiClients
from ._decode import GeminiDecoder, read_event, read_sdk_response
from ._errors import convert_error
from ._native import NativeResponses
from .chunk import GeminiResponseChunk

if TYPE_CHECKING:
    import httpx2
    from google.genai.types import GenerateContentResponse

_PROVIDER = "gemini"


class _ClientsCall:
    """What both kinds of call share: the request's keyword arguments and the clients."""

    provider = _PROVIDER

    def __init__(
        self,
        kwargs: dict[str, Any],
        *,
        clients: GeminiClients | None = None,
        async_clients: Callable[[], GeminiClients] | None = None,
    ) -> None:
        self.kwargs = kwargs
        self._clients = clients  # for `stream()`
        self._async_clients = async_clients  # for `stream_async()`, in its event loop

    def convert_error(self, error: Exception) -> MirastreamError | None:
        return convert_error(error)


class GeminiCall(_ClientsCall):
    """Sends one `streamGenerateContent` request that the SDK prepared, and reads it raw."""

    def __init__(
        self,
        kwargs: dict[str, Any],
        *,
        clients: GeminiClients | None = None,
        async_clients: Callable[[], GeminiClients] | None = None,
        timeouts: Timeouts | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_SIZE,
    ) -> None:
        super().__init__(kwargs, clients=clients, async_clients=async_clients)
        self.max_event_bytes = max_event_bytes
        self._connections = Connections()
        config = kwargs.get("config")
        self._natives = NativeResponses(config)
        # Unless a `timeout` is set (and sent by the SDK as a deadline for the whole
        # request), the stream's limits bound the connection and every read.
        has_timeout = config is not None and config.http_options is not None and config.http_options.timeout
        self._timeouts = None if has_timeout else timeouts

    def _limit(self, request: httpx2.Request) -> httpx2.Request:
        if self._timeouts is not None:
            request.extensions = {**request.extensions, "timeout": self._timeouts.for_httpx().as_dict()}
        return request

    def decoder(self) -> GeminiDecoder[GeminiResponseChunk]:
        return GeminiDecoder(GeminiResponseChunk, read_event(self._natives))

    @contextmanager
    def send(self) -> Iterator[Iterator[RawEvent]]:
        from google.genai import errors

        from ._http import preparing

        assert self._clients is not None, "prepared for async use"
        sdk, http_client = self._clients
        with preparing() as prepared:
            _expect_nothing(sdk.models.generate_content_stream(**self.kwargs))
        sockets = RequestSockets(self._connections)
        response = http_client.send(self._limit(prepared.request), stream=True)
        try:
            sockets.add_response(response)
            errors.APIError.raise_for_response(response)  # the SDK's own error for a failed request
            self._natives.headers = response.headers
            # Like google-genai, which reads lines, deliver a last event without its blank line.
            with closing(
                iter_events(
                    response.iter_bytes(), max_event_size=self.max_event_bytes, deliver_unterminated=True
                )
            ) as events:
                yield events
        finally:
            sockets.forget()
            response.close()

    @asynccontextmanager
    async def send_async(self) -> AsyncIterator[AsyncIterator[RawEvent]]:
        from google.genai import errors

        from ._http import preparing

        assert self._async_clients is not None, "prepared for sync use"
        sdk, http_client = self._async_clients()
        with preparing() as prepared:
            async for _ in await sdk.aio.models.generate_content_stream(**self.kwargs):
                raise _unexpected_item()
        sockets = RequestSockets(self._connections)
        response = await http_client.send(self._limit(prepared.request), stream=True)
        pieces: AsyncIterator[bytes] | None = None
        try:
            sockets.add_response(response)
            await errors.APIError.raise_for_async_response(response)
            self._natives.headers = response.headers
            pieces = response.aiter_bytes()
            async with aclosing(
                aiter_events(pieces, max_event_size=self.max_event_bytes, deliver_unterminated=True)
            ) as events:
                yield events
        finally:
            sockets.forget()
            await response.aclose()
            if pieces is not None:
                await drain_closed(pieces)

    def abort(self) -> None:
        """Shut the live connection down, from any thread: a blocked read returns at once."""
        self._connections.abort()

    def interrupt(self) -> None:
        """Shut the live connection down, from any thread; the call may be sent again."""
        self._connections.interrupt()


class GeminiClientCall(_ClientsCall):
    """Sends one `generate_content_stream` request through a `google.genai.Client` of yours.

    The SDK's own `GenerateContentResponse` objects are decoded, and each chunk's `.chunk`
    is exactly the object the SDK yielded. A stream can be stopped from its own thread or
    task only: mirastream does not see the connection of a client it did not make.
    """

    def decoder(self) -> GeminiDecoder[GeminiResponseChunk]:
        return GeminiDecoder(GeminiResponseChunk, read_sdk_response)

    @contextmanager
    def send(self) -> Iterator[Iterator[GenerateContentResponse]]:
        assert self._clients is not None, "prepared for async use"
        stream = self._clients.sdk.models.generate_content_stream(**self.kwargs)
        try:
            # The SDK sends the request on the first read: do it now, so that an HTTP
            # error is raised before the stream counts as connected.
            first = next(stream, None)
            yield chain((first,), stream) if first is not None else iter(())
        finally:
            _close(stream)

    @asynccontextmanager
    async def send_async(self) -> AsyncIterator[AsyncIterator[GenerateContentResponse]]:
        assert self._async_clients is not None, "prepared for sync use"
        stream = await self._async_clients().sdk.aio.models.generate_content_stream(**self.kwargs)
        try:
            first = await anext(stream, None)
            async with aclosing(_prepend(first, stream)) as items:
                yield items
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    def abort(self) -> None:
        """Nothing to shut down from another thread: the connection is the client's own."""

    def interrupt(self) -> None:
        """Nothing to shut down from another thread: the connection is the client's own."""


def _unexpected_item() -> MirastreamError:
    return MirastreamError(
        "google-genai yielded a response while only preparing a request", provider=_PROVIDER
    )


def _expect_nothing(stream: Iterator[Any]) -> None:
    """Run the SDK's stream over the empty answer to its prepared request."""
    for _ in stream:
        raise _unexpected_item()


def _close(stream: object) -> None:
    """Close the SDK's stream (a generator, typed as an iterator): its HTTP response closes at once."""
    close = getattr(stream, "close", None)
    if close is not None:
        close()


async def _prepend(first: Any, stream: AsyncIterator[Any]) -> AsyncGenerator[Any, None]:
    """`first` (unless `None`), then the rest of `stream`."""
    if first is None:
        return
    yield first
    async for item in stream:
        yield item
