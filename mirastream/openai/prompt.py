"""`OpenAIPrompt`: prompt classes that stream from OpenAI or any compatible server."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .._provider_prompt import CallFactory, ProviderPrompt
from ..messages import Message
from ..timeouts import Timeouts
from ._call import OpenAICall
from ._client import CLIENTS
from ._encode import request_kwargs
from .chunk import OpenAIResponseChunk
from .params import OpenAICallParams

if TYPE_CHECKING:
    from openai import AsyncOpenAI, OpenAI

__all__ = ["OpenAIPrompt"]


class OpenAIPrompt(ProviderPrompt[OpenAICallParams, OpenAIResponseChunk]):
    """A prompt class that streams from the Chat Completions API.

    Class attributes (all optional):

    - `call_params`: an `OpenAICallParams` (default model `gpt-4o-mini`).
    - `api_key`: the key itself; by default it is read from the environment variable
      named by `api_key_env` (`OPENAI_API_KEY`).
    - `base_url`: another OpenAI-compatible server (vLLM, llama.cpp, Ollama, DashScope, ...);
      default `OPENAI_BASE_URL` or OpenAI itself. A class that sets `base_url` to another
      host never sends `OPENAI_API_KEY` there: give it `api_key` or `api_key_env`
      (e.g. `"DASHSCOPE_API_KEY"`). A loopback server needs no key.
    - `client` / `async_client`: your own configured `openai.OpenAI` /
      `openai.AsyncOpenAI`, used instead of the shared default clients.
    """

    call_params: ClassVar[OpenAICallParams] = OpenAICallParams(model="gpt-4o-mini")
    api_key: ClassVar[str | None] = None
    api_key_env: ClassVar[str] = "OPENAI_API_KEY"
    base_url: ClassVar[str | None] = None
    client: ClassVar[OpenAI | None] = None
    async_client: ClassVar[AsyncOpenAI | None] = None

    def _encode(self, params: OpenAICallParams, messages: Sequence[Message]) -> dict[str, Any]:
        return request_kwargs(params, messages)

    def _sync_calls(self, params: OpenAICallParams, timeouts: Timeouts) -> CallFactory[OpenAIResponseChunk]:
        return self._calls(params, timeouts, client=CLIENTS.sync_client(type(self)))

    def _async_calls(self, params: OpenAICallParams, timeouts: Timeouts) -> CallFactory[OpenAIResponseChunk]:
        return self._calls(params, timeouts, async_client=CLIENTS.async_client_factory(type(self)))

    def _calls(
        self, params: OpenAICallParams, timeouts: Timeouts, **clients: Any
    ) -> CallFactory[OpenAIResponseChunk]:
        """Makes the calls of one stream: each sends `params` with the messages of its turn."""
        limit = self.max_event_bytes
        return lambda messages: OpenAICall(
            request_kwargs(params, messages), timeouts=timeouts, max_event_bytes=limit, **clients
        )
