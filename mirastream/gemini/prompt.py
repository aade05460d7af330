"""`GeminiPrompt`: prompt classes that stream from Gemini through the `google-genai` SDK."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .._provider_prompt import CallFactory, ProviderPrompt
from ..messages import Message
from ..timeouts import Timeouts
from ._call import GeminiCall
from ._client import async_client_factory, sync_client
from ._encode import request_kwargs
from .chunk import GeminiResponseChunk
from .params import GeminiCallParams

if TYPE_CHECKING:
    from google.genai import Client

__all__ = ["GeminiPrompt"]


class GeminiPrompt(ProviderPrompt[GeminiResponseChunk]):
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

    def _encode(self, params: Any, messages: Sequence[Message]) -> dict[str, Any]:
        return request_kwargs(params, messages)

    def request_kwargs(self, **call_params: Any) -> dict[str, Any]:
        """The keyword arguments `client.models.generate_content_stream` will get, as plain data.

        `call_params` override the class's `call_params` for this request only. The
        `config` dict is what the SDK turns into its `GenerateContentConfig`.
        """
        return super().request_kwargs(**call_params)

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

    def _sync_calls(self, params: Any, timeouts: Timeouts) -> CallFactory:
        client = sync_client(type(self))
        return lambda messages: GeminiCall(
            self._validated(request_kwargs(params, messages), timeouts), client=client
        )

    def _async_calls(self, params: Any, timeouts: Timeouts) -> CallFactory:
        factory = async_client_factory(type(self))
        return lambda messages: GeminiCall(
            self._validated(request_kwargs(params, messages), timeouts), async_client=factory
        )
