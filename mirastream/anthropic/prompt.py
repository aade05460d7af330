"""`AnthropicPrompt`: prompt classes that stream from Anthropic's Messages API."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .._provider_prompt import CallFactory, ProviderPrompt
from ..messages import Message
from ..timeouts import Timeouts
from ._call import AnthropicCall
from ._client import CLIENTS
from ._encode import request_kwargs
from .chunk import AnthropicResponseChunk
from .params import AnthropicCallParams

if TYPE_CHECKING:
    from anthropic import Anthropic, AsyncAnthropic

__all__ = ["AnthropicPrompt"]


class AnthropicPrompt(ProviderPrompt[AnthropicCallParams, AnthropicResponseChunk]):
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

    def _encode(self, params: AnthropicCallParams, messages: Sequence[Message]) -> dict[str, Any]:
        return request_kwargs(params, messages)

    def _sync_calls(
        self, params: AnthropicCallParams, timeouts: Timeouts
    ) -> CallFactory[AnthropicResponseChunk]:
        return _call_factory(params, timeouts, self.max_event_bytes, client=CLIENTS.sync_client(type(self)))

    def _async_calls(
        self, params: AnthropicCallParams, timeouts: Timeouts
    ) -> CallFactory[AnthropicResponseChunk]:
        return _call_factory(
            params, timeouts, self.max_event_bytes, async_client=CLIENTS.async_client_factory(type(self))
        )


def _call_factory(
    params: AnthropicCallParams,
    timeouts: Timeouts,
    max_event_bytes: int,
    *,
    client: Anthropic | None = None,
    async_client: Callable[[], AsyncAnthropic] | None = None,
) -> CallFactory[AnthropicResponseChunk]:
    """Makes the calls of one stream: each sends `params` with the messages of its turn."""
    return lambda messages: AnthropicCall(
        request_kwargs(params, messages),
        client=client,
        async_client=async_client,
        timeouts=timeouts,
        max_event_bytes=max_event_bytes,
    )
