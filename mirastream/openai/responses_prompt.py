"""`OpenAIResponsesPrompt`: prompt classes that stream from OpenAI's Responses API."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .._provider_prompt import CallFactory, ProviderPrompt
from ..messages import Message
from ..timeouts import Timeouts
from ._client import CLIENTS
from ._responses_call import OpenAIResponsesCall
from ._responses_encode import request_kwargs
from .responses_chunk import OpenAIResponsesChunk
from .responses_params import OpenAIResponsesCallParams

if TYPE_CHECKING:
    from openai import AsyncOpenAI, OpenAI

__all__ = ["OpenAIResponsesPrompt"]


class OpenAIResponsesPrompt(ProviderPrompt[OpenAIResponsesCallParams, OpenAIResponsesChunk]):
    """A prompt class that streams from the Responses API (`client.responses.create`).

    `SYSTEM:` sections become the request's `instructions`; the other messages its `input`
    (a tool loop's calls and results as `function_call` and `function_call_output` items).

    Class attributes (all optional), as on `OpenAIPrompt`:

    - `call_params`: an `OpenAIResponsesCallParams` (default model `gpt-5-mini`).
    - `api_key`: the key itself; by default it is read from the environment variable
      named by `api_key_env` (`OPENAI_API_KEY`).
    - `base_url`: another server that speaks the Responses API (llama.cpp's server, vLLM,
      DashScope, ...); default `OPENAI_BASE_URL` or OpenAI itself. A class that sets
      `base_url` to another host never sends `OPENAI_API_KEY` there: give it `api_key` or
      `api_key_env`. A loopback server needs no key.
    - `client` / `async_client`: your own configured `openai.OpenAI` /
      `openai.AsyncOpenAI`, used instead of the shared default clients.
    """

    call_params: ClassVar[OpenAIResponsesCallParams] = OpenAIResponsesCallParams(model="gpt-5-mini")
    api_key: ClassVar[str | None] = None
    api_key_env: ClassVar[str] = "OPENAI_API_KEY"
    base_url: ClassVar[str | None] = None
    client: ClassVar[OpenAI | None] = None
    async_client: ClassVar[AsyncOpenAI | None] = None

    def _encode(self, params: OpenAIResponsesCallParams, messages: Sequence[Message]) -> dict[str, Any]:
        return request_kwargs(params, messages)

    def _sync_calls(
        self, params: OpenAIResponsesCallParams, timeouts: Timeouts
    ) -> CallFactory[OpenAIResponsesChunk]:
        return _call_factory(params, timeouts, self.max_event_bytes, client=CLIENTS.sync_client(type(self)))

    def _async_calls(
        self, params: OpenAIResponsesCallParams, timeouts: Timeouts
    ) -> CallFactory[OpenAIResponsesChunk]:
        return _call_factory(
            params, timeouts, self.max_event_bytes, async_client=CLIENTS.async_client_factory(type(self))
        )


def _call_factory(
    params: OpenAIResponsesCallParams,
    timeouts: Timeouts,
    max_event_bytes: int,
    *,
    client: OpenAI | None = None,
    async_client: Callable[[], AsyncOpenAI] | None = None,
) -> CallFactory[OpenAIResponsesChunk]:
    """Makes the calls of one stream: each sends `params` with the messages of its turn."""
    return lambda messages: OpenAIResponsesCall(
        request_kwargs(params, messages),
        client=client,
        async_client=async_client,
        timeouts=timeouts,
        max_event_bytes=max_event_bytes,
    )
