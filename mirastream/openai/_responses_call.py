"""A prepared Responses API request, sent by the stream drivers."""

from __future__ import annotations

from typing import Any

from .._streaming_response import StreamingResponseCall
from ..errors import MirastreamError
from ._errors import convert_error
from ._responses_decode import OpenAIResponsesDecoder


class OpenAIResponsesCall(StreamingResponseCall):
    """Sends one streamed `responses.create` request through the official SDK.

    The SDK builds and sends the request; the body is read as raw server-sent events and
    decoded by `OpenAIResponsesDecoder`.
    """

    provider = "openai"

    def endpoint(self, client: Any) -> Any:
        return client.responses

    def decoder(self) -> OpenAIResponsesDecoder:
        return OpenAIResponsesDecoder()

    def convert_error(self, error: Exception) -> MirastreamError | None:
        return convert_error(error)
