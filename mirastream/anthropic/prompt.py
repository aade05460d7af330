"""`AnthropicPrompt`: prompt classes that stream from Anthropic's Messages API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..events import Event
from ..prompts import BasePrompt
from ..retries import RetryPolicy
from ..streams import AsyncStream, Stream
from ..timeouts import Timeouts
from ._call import AnthropicCall
from ._client import CLIENTS
from ._encode import request_kwargs
from .chunk import AnthropicResponseChunk
from .params import AnthropicCallParams

if TYPE_CHECKING:
    from anthropic import Anthropic, AsyncAnthropic

__all__ = ["AnthropicPrompt"]


class AnthropicPrompt(BasePrompt):
    """A prompt class that streams from the Messages API.

    `SYSTEM:` sections become the request's `system` parameter; the other messages its
    `messages`.

    Class attributes (all optional):

    - `call_params`: an `AnthropicCallParams` (default model `claude-sonnet-4-6`,
      `max_tokens` 1024).
    - `api_key`: the key itself; by default it is read from the environment variable
      named by `api_key_env` (`ANTHROPIC_API_KEY`).
    - `base_url`: another server that speaks the Messages API (llama.cpp's server, a
      proxy, ...); default `ANTHROPIC_BASE_URL` or Anthropic itself. A class that sets
      `base_url` to another host never sends `ANTHROPIC_API_KEY` there: give it `api_key`
      or `api_key_env`. A loopback server needs no key.
    - `client` / `async_client`: your own configured `anthropic.Anthropic` /
      `anthropic.AsyncAnthropic`, used instead of the shared default clients.
    """

    call_params: ClassVar[AnthropicCallParams] = AnthropicCallParams(model="claude-sonnet-4-6")
    api_key: ClassVar[str | None] = None
    api_key_env: ClassVar[str] = "ANTHROPIC_API_KEY"
    base_url: ClassVar[str | None] = None
    client: ClassVar[Anthropic | None] = None
    async_client: ClassVar[AsyncAnthropic | None] = None

    def _params(self, overrides: dict[str, Any]) -> AnthropicCallParams:
        params = self.call_params.with_overrides(**overrides)
        assert isinstance(params, AnthropicCallParams)
        return params

    def request_kwargs(self, **call_params: Any) -> dict[str, Any]:
        """The exact keyword arguments sent to `messages.create` (first turn).

        `call_params` override the class's `call_params` for this request only.
        """
        return request_kwargs(self._params(call_params), self.messages())

    def stream(
        self, *, retries: RetryPolicy | None = None, timeouts: Timeouts | None = None, **call_params: Any
    ) -> Stream[AnthropicResponseChunk | Event]:
        """Stream the answer; the request is sent when iteration starts.

        `call_params` override the class's `call_params` for this request only. Invalid
        parameters, template values or a missing API key raise here, before any request.
        With tools to run (functions, models, a `CodeInterpreter`), the stream runs the tool
        loop and also yields its `Event`s.
        """
        params = self._params(call_params)
        client = CLIENTS.sync_client(type(self))
        limits = timeouts or self.timeouts
        return self._open_stream(
            Stream,
            params,
            lambda messages: AnthropicCall(request_kwargs(params, messages), client=client, timeouts=limits),
            retries=retries,
            timeouts=limits,
        )

    def stream_async(
        self, *, retries: RetryPolicy | None = None, timeouts: Timeouts | None = None, **call_params: Any
    ) -> AsyncStream[AnthropicResponseChunk | Event]:
        """The async twin of `stream`: `async with prompt.stream_async() as stream`."""
        params = self._params(call_params)
        factory = CLIENTS.async_client_factory(type(self))
        limits = timeouts or self.timeouts
        return self._open_stream(
            AsyncStream,
            params,
            lambda messages: AnthropicCall(
                request_kwargs(params, messages), async_client=factory, timeouts=limits
            ),
            retries=retries,
            timeouts=limits,
        )
