"""A prepared Gemini request, sent by the stream drivers through the `google-genai` SDK."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import aclosing, asynccontextmanager, contextmanager
from itertools import chain
from typing import TYPE_CHECKING, Any

from .._connections import Connections
from .._streaming_response import drain_closed
from ..errors import MirastreamError
from ._client import ResponseTracker
from ._decode import GeminiDecoder
from ._errors import convert_error
from .chunk import GeminiResponseChunk

if TYPE_CHECKING:
    from google.genai import Client
    from google.genai.types import GenerateContentResponse


class GeminiCall:
    """Sends one `generate_content_stream` request through the SDK's public API.

    The SDK's own `GenerateContentResponse` objects are fed to `GeminiDecoder`
    unchanged, so every chunk's `.chunk` is exactly what the SDK yielded.
    """

    provider = "gemini"

    def __init__(
        self,
        kwargs: dict[str, Any],
        *,
        client: Client | None = None,
        async_client: Callable[[], Client] | None = None,
    ) -> None:
        self.kwargs = kwargs
        self._client = client
        self._async_client = async_client
        self._connections = Connections()

    def decoder(self) -> GeminiDecoder[GeminiResponseChunk]:
        return GeminiDecoder(GeminiResponseChunk)

    @contextmanager
    def send(self) -> Iterator[Iterator[GenerateContentResponse]]:
        assert self._client is not None, "prepared for async use"
        tracker = ResponseTracker(self._connections)
        with tracker.active():
            stream = self._client.models.generate_content_stream(**self.kwargs)
            try:
                # The SDK sends the request on the first read: do it now, so that an HTTP
                # error is raised before the stream counts as connected.
                first = next(stream, None)
                yield chain((first,), stream) if first is not None else iter(())
            finally:
                _close(stream)
                tracker.sockets.forget()

    @asynccontextmanager
    async def send_async(self) -> AsyncIterator[AsyncIterator[GenerateContentResponse]]:
        assert self._async_client is not None, "prepared for sync use"
        models = self._async_client().aio.models
        tracker = ResponseTracker(self._connections)
        with tracker.active():
            stream = await models.generate_content_stream(**self.kwargs)
            try:
                first = await anext(stream, None)
                async with aclosing(_prepend(first, stream)) as items:
                    yield items
            finally:
                # Responses first: once the SDK's generators start closing, they race for them.
                await tracker.aclose()
                await drain_closed(stream)

    def convert_error(self, error: Exception) -> MirastreamError | None:
        return convert_error(error)

    def abort(self) -> None:
        """Shut the live connection down, from any thread: a blocked read returns at once."""
        self._connections.abort()


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
