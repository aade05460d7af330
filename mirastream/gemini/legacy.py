"""`GeminiLegacyPrompt`: Gemini through the deprecated `google-generativeai` package.

For code that still depends on `google-generativeai` (extra `gemini-legacy`). Google no
longer maintains that package; `GeminiPrompt` (the `google-genai` SDK) is the
recommended client and the only one that can ask for thinking, send thought signatures
back and set a seed. This client gives the same prompt classes, the same chunk contract
and the same tool loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .._provider_prompt import CallFactory, ProviderPrompt
from ..messages import Message
from ..timeouts import Timeouts
from ._legacy import GeminiLegacyCall, legacy_call, legacy_client, request_body
from .chunk import GeminiLegacyResponseChunk
from .params import GeminiCallParams

if TYPE_CHECKING:
    from google.ai.generativelanguage import GenerativeServiceClient

__all__ = ["GeminiLegacyPrompt", "GeminiLegacyResponseChunk"]


class GeminiLegacyPrompt(ProviderPrompt[GeminiCallParams, GeminiLegacyResponseChunk]):
    """A prompt class that streams from Gemini through `google-generativeai` (REST).

    The class attributes mean what they mean on `GeminiPrompt`, except `client`: your own
    `google.ai.generativelanguage.GenerativeServiceClient` (the client
    `genai.GenerativeModel` uses). The default client uses the REST transport;
    `base_url` is its `api_endpoint`.

    What the legacy package cannot do: `seed`, `thinking_config` and `http_options` are
    rejected, thought signatures cannot be sent back, and tool and response schemas are
    translated into its older `Schema` proto (JSON Schema keywords it has no field for are
    left out). With a `client` of your own, thoughts, thought-token counts, response ids
    and errors inside the stream are also lost by its parser. `stream_async()` runs the
    package's blocking REST stream in worker threads, since the package has no async
    REST transport. docs/providers/gemini.md lists the details.
    """

    call_params: ClassVar[GeminiCallParams] = GeminiCallParams(model="gemini-2.5-flash")
    api_key: ClassVar[str | None] = None
    api_key_env: ClassVar[str] = "GEMINI_API_KEY"
    base_url: ClassVar[str | None] = None
    client: ClassVar[GenerativeServiceClient | None] = None

    def _encode(self, params: GeminiCallParams, messages: Sequence[Message]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"request": request_body(params, messages)}
        if params.timeout is not None:
            kwargs["timeout"] = params.timeout
        return kwargs

    def request_kwargs(self, **call_params: Any) -> dict[str, Any]:
        """The keyword arguments `stream_generate_content` will get, the request as its JSON body.

        `call_params` override the class's `call_params` for this request only.
        """
        return super().request_kwargs(**call_params)

    def _calls(self, params: GeminiCallParams, timeouts: Timeouts) -> CallFactory[GeminiLegacyResponseChunk]:
        client = legacy_client(type(self))

        def make(messages: Sequence[Message]) -> GeminiLegacyCall:
            kwargs = self._encode(params, messages)
            return legacy_call(kwargs["request"], client=client, timeout=kwargs.get("timeout", timeouts.idle))

        return make

    def _sync_calls(
        self, params: GeminiCallParams, timeouts: Timeouts
    ) -> CallFactory[GeminiLegacyResponseChunk]:
        return self._calls(params, timeouts)

    def _async_calls(
        self, params: GeminiCallParams, timeouts: Timeouts
    ) -> CallFactory[GeminiLegacyResponseChunk]:
        return self._calls(params, timeouts)
