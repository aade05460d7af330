"""A prepared Messages API request, sent by the stream drivers."""

from __future__ import annotations

from typing import Any

from .._streaming_response import StreamingResponseCall
from ..errors import MirastreamError
from ._decode import AnthropicDecoder
from ._errors import convert_error


class AnthropicCall(StreamingResponseCall):
    """Sends one streamed Messages API request through the official SDK.

    The SDK builds and sends the request; the body is read as raw server-sent events and
    decoded by `AnthropicDecoder`.
    """

    provider = "anthropic"

    def endpoint(self, client: Any) -> Any:
        return client.messages

    def decoder(self) -> AnthropicDecoder:
        return AnthropicDecoder()

    def convert_error(self, error: Exception) -> MirastreamError | None:
        return convert_error(error)
