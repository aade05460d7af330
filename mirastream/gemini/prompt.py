"""`GeminiPrompt`: prompt classes that stream from Gemini through the `google-genai` SDK."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .._provider_prompt import CallFactory, ProviderPrompt
from ..messages import Message
from ..timeouts import Timeouts
from ._call import GeminiCall, GeminiClientCall
from ._client import async_clients_factory, sync_clients
from ._encode import request_kwargs
from .chunk import GeminiResponseChunk
from .params import GeminiCallParams

if TYPE_CHECKING:
    from google.genai import Client

__all__ = ["GeminiPrompt"]


class GeminiPrompt(ProviderPrompt[GeminiCallParams, GeminiResponseChunk]):
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

    def _encode(self, params: GeminiCallParams, messages: Sequence[Message]) -> dict[str, Any]:
        return request_kwargs(params, messages)

    def request_kwargs(self, **call_params: Any) -> dict[str, Any]:
        """The keyword arguments `client.models.generate_content_stream` will get, as plain data.

        `call_params` override the class's `call_params` for this request only. The
        `config` dict is what the SDK turns into its `GenerateContentConfig`.
        """
        return super().request_kwargs(**call_params)

    @staticmethod
    def _validated(kwargs: dict[str, Any], timeouts: Timeouts | None) -> dict[str, Any]:
        """`kwargs` with the config checked by the SDK, so a mistake fails before anything is sent.

        With `timeouts` (a client of your own, which sends the request itself), the stream's
        idle limit bounds every read unless the `timeout` call parameter is set. Without
        (the default clients, through which the SDK only prepares the request), the SDK's
        automatic function calling has nothing to do and is left out, and an empty config
        is no config: the SDK's conversion of a config costs about a millisecond.
        """
        from google.genai import types

        config = dict(kwargs["config"])
        if timeouts is None:
            del config["automatic_function_calling"]
            if not config:
                return {**kwargs, "config": None}
        else:
            http_options = config.get("http_options") or {}
            if http_options.get("timeout") is None and timeouts.idle is not None:
                config["http_options"] = {**http_options, "timeout": round(timeouts.idle * 1000)}
        return {**kwargs, "config": types.GenerateContentConfig.model_validate(config)}

    def _sync_calls(self, params: GeminiCallParams, timeouts: Timeouts) -> CallFactory[GeminiResponseChunk]:
        clients = sync_clients(type(self))
        if clients.http is None:
            return lambda messages: GeminiClientCall(
                self._validated(request_kwargs(params, messages), timeouts), clients=clients
            )
        return lambda messages: GeminiCall(
            self._validated(request_kwargs(params, messages), None),
            clients=clients,
            timeouts=timeouts,
            max_event_bytes=self.max_event_bytes,
        )

    def _async_calls(self, params: GeminiCallParams, timeouts: Timeouts) -> CallFactory[GeminiResponseChunk]:
        factory = async_clients_factory(type(self))
        if type(self).client is not None:
            return lambda messages: GeminiClientCall(
                self._validated(request_kwargs(params, messages), timeouts), async_clients=factory
            )
        return lambda messages: GeminiCall(
            self._validated(request_kwargs(params, messages), None),
            async_clients=factory,
            timeouts=timeouts,
            max_event_bytes=self.max_event_bytes,
        )
