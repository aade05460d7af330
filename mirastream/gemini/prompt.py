"""`GeminiPrompt`: prompt classes that stream from Gemini through the `google-genai` SDK."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..events import Event
from ..prompts import BasePrompt
from ..retries import RetryPolicy
from ..streams import AsyncStream, Stream
from ..timeouts import Timeouts
from ._call import GeminiCall
from ._client import async_client_factory, sync_client
from ._encode import request_kwargs
from .chunk import GeminiResponseChunk
from .params import GeminiCallParams

if TYPE_CHECKING:
    from google.genai import Client

__all__ = ["GeminiPrompt"]


class GeminiPrompt(BasePrompt):
    """A prompt class that streams from the Gemini API (`google-genai` SDK).

    Class attributes (all optional):

    - `call_params`: a `GeminiCallParams` (default model `gemini-2.5-flash`).
    - `api_key`: the key itself; by default it is read from the environment variable
      named by `api_key_env` (`GEMINI_API_KEY`, or `GOOGLE_API_KEY` when that one is unset).
    - `base_url`: another server speaking the Gemini API (a proxy or gateway); default
      `GOOGLE_GEMINI_BASE_URL` or Google itself. A class that sets `base_url` to another
      host never sends `GEMINI_API_KEY`/`GOOGLE_API_KEY` there: give it `api_key` or
      `api_key_env`. A loopback server needs no key.
    - `client`: your own configured `google.genai.Client`, used for `stream()` and, through
      its `.aio`, for `stream_async()`.

    A `SYSTEM:` section becomes the request's `system_instruction`; `ASSISTANT:` turns
    are sent with the `model` role.
    """

    call_params: ClassVar[GeminiCallParams] = GeminiCallParams(model="gemini-2.5-flash")
    api_key: ClassVar[str | None] = None
    api_key_env: ClassVar[str] = "GEMINI_API_KEY"
    base_url: ClassVar[str | None] = None
    client: ClassVar[Client | None] = None

    def _params(self, overrides: dict[str, Any]) -> GeminiCallParams:
        params = self.call_params.with_overrides(**overrides)
        assert isinstance(params, GeminiCallParams)
        return params

    def request_kwargs(self, **call_params: Any) -> dict[str, Any]:
        """The keyword arguments `client.models.generate_content_stream` will get, as plain data.

        `call_params` override the class's `call_params` for this request only. The
        `config` dict is what the SDK turns into its `GenerateContentConfig`.
        """
        return request_kwargs(self._params(call_params), self.messages())

    @staticmethod
    def _validated(kwargs: dict[str, Any], timeouts: Timeouts) -> dict[str, Any]:
        """`kwargs` with the config checked by the SDK, so a mistake fails before anything is sent.

        Unless the `timeout` call parameter is set, the stream's idle limit bounds every read.
        """
        from google.genai import types

        config = kwargs["config"]
        http_options = config.get("http_options") or {}
        if http_options.get("timeout") is None and timeouts.idle is not None:
            config = {**config, "http_options": {**http_options, "timeout": round(timeouts.idle * 1000)}}
        return {**kwargs, "config": types.GenerateContentConfig.model_validate(config)}

    def stream(
        self, *, retries: RetryPolicy | None = None, timeouts: Timeouts | None = None, **call_params: Any
    ) -> Stream[GeminiResponseChunk | Event]:
        """Stream the answer; the request is sent when iteration starts.

        `call_params` override the class's `call_params` for this request only; `retries`
        and `timeouts` override the class's policies. Invalid parameters, template values or
        a missing API key raise here, before any request. With tools to run (functions,
        models, a `CodeInterpreter`), the stream runs the tool loop and also yields its
        `Event`s.
        """
        params = self._params(call_params)
        client = sync_client(type(self))
        limits = timeouts or self.timeouts
        return self._open_stream(
            Stream,
            params,
            lambda messages: GeminiCall(
                self._validated(request_kwargs(params, messages), limits), client=client
            ),
            retries=retries,
            timeouts=limits,
        )

    def stream_async(
        self, *, retries: RetryPolicy | None = None, timeouts: Timeouts | None = None, **call_params: Any
    ) -> AsyncStream[GeminiResponseChunk | Event]:
        """The async twin of `stream`: `async with prompt.stream_async() as stream`."""
        params = self._params(call_params)
        factory = async_client_factory(type(self))
        limits = timeouts or self.timeouts
        return self._open_stream(
            AsyncStream,
            params,
            lambda messages: GeminiCall(
                self._validated(request_kwargs(params, messages), limits), async_client=factory
            ),
            retries=retries,
            timeouts=limits,
        )
