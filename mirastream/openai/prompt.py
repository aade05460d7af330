"""`OpenAIPrompt`: prompt classes that stream from OpenAI or any compatible server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..events import Event
from ..prompts import BasePrompt
from ..retries import RetryPolicy
from ..streams import AsyncStream, Stream
from ..timeouts import Timeouts
from ._call import OpenAICall
from ._client import CLIENTS
from ._encode import request_kwargs
from .chunk import OpenAIResponseChunk
from .params import OpenAICallParams

if TYPE_CHECKING:
    from openai import AsyncOpenAI, OpenAI

__all__ = ["OpenAIPrompt"]


class OpenAIPrompt(BasePrompt):
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

    def _params(self, overrides: dict[str, Any]) -> OpenAICallParams:
        params = self.call_params.with_overrides(**overrides)
        assert isinstance(params, OpenAICallParams)
        return params

    def request_kwargs(self, **call_params: Any) -> dict[str, Any]:
        """The exact keyword arguments sent to `chat.completions.create` (first turn).

        `call_params` override the class's `call_params` for this request only.
        """
        return request_kwargs(self._params(call_params), self.messages())

    def stream(
        self, *, retries: RetryPolicy | None = None, timeouts: Timeouts | None = None, **call_params: Any
    ) -> Stream[OpenAIResponseChunk | Event]:
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
            lambda messages: OpenAICall(request_kwargs(params, messages), client=client, timeouts=limits),
            retries=retries,
            timeouts=limits,
        )

    def stream_async(
        self, *, retries: RetryPolicy | None = None, timeouts: Timeouts | None = None, **call_params: Any
    ) -> AsyncStream[OpenAIResponseChunk | Event]:
        """The async twin of `stream`: `async with prompt.stream_async() as stream`."""
        params = self._params(call_params)
        factory = CLIENTS.async_client_factory(type(self))
        limits = timeouts or self.timeouts
        return self._open_stream(
            AsyncStream,
            params,
            lambda messages: OpenAICall(
                request_kwargs(params, messages), async_client=factory, timeouts=limits
            ),
            retries=retries,
            timeouts=limits,
        )
