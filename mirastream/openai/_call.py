"""A prepared Chat Completions request, sent by the stream drivers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing, asynccontextmanager, closing, contextmanager
from typing import TYPE_CHECKING, Any

from .._sse import ServerSentEvent, aiter_events, iter_events
from ..errors import MirastreamError
from ._decode import OpenAIDecoder
from ._errors import convert_error

if TYPE_CHECKING:
    from openai import AsyncOpenAI, OpenAI


class OpenAICall:
    """Sends one streamed Chat Completions request through the official SDK.

    The SDK builds and sends the request (auth, base URL, headers); the response body is
    read as raw server-sent events and decoded by `OpenAIDecoder`.
    """

    provider = "openai"

    def __init__(
        self,
        kwargs: dict[str, Any],
        *,
        client: OpenAI | None = None,
        async_client: Callable[[], AsyncOpenAI] | None = None,
    ) -> None:
        self.kwargs = kwargs
        self._client = client
        self._async_client = async_client

    def decoder(self) -> OpenAIDecoder:
        return OpenAIDecoder()

    @contextmanager
    def send(self) -> Iterator[Iterator[ServerSentEvent]]:
        assert self._client is not None, "prepared for async use"
        create = self._client.chat.completions.with_streaming_response.create
        with (
            create(**self.kwargs) as response,
            closing(iter_events(response.http_response.iter_bytes())) as events,
        ):
            yield events

    @asynccontextmanager
    async def send_async(self) -> AsyncIterator[AsyncIterator[ServerSentEvent]]:
        assert self._async_client is not None, "prepared for sync use"
        create = self._async_client().chat.completions.with_streaming_response.create
        async with (
            create(**self.kwargs) as response,
            aclosing(aiter_events(response.http_response.aiter_bytes())) as events,
        ):
            yield events

    def convert_error(self, error: Exception) -> MirastreamError | None:
        return convert_error(error)
