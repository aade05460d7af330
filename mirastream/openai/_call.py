"""A prepared Chat Completions request, sent by the stream drivers."""

from __future__ import annotations

from typing import Any

from .._streaming_response import StreamingResponseCall
from ..errors import MirastreamError
from ._decode import OpenAIDecoder
from ._errors import convert_error


class OpenAICall(StreamingResponseCall):
    """Sends one streamed Chat Completions request through the official SDK.

    The SDK builds and sends the request; the body is read as raw server-sent events and
    decoded by `OpenAIDecoder`.
    """

    provider = "openai"

    def endpoint(self, client: Any) -> Any:
        return client.chat.completions

    def decoder(self) -> OpenAIDecoder:
        return OpenAIDecoder()

    def convert_error(self, error: Exception) -> MirastreamError | None:
        return convert_error(error)
