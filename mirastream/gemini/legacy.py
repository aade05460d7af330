"""`GeminiLegacyPrompt`: Gemini through the deprecated `google-generativeai` package.

For code that still depends on `google-generativeai` (extra `gemini-legacy`). Google no
longer maintains that package; `GeminiPrompt` (the `google-genai` SDK) is the
recommended client and the only one that knows thinking, thought signatures, seeds and
response ids. This client gives the same prompt classes and the same chunk contract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..prompts import BasePrompt
from ..retries import RetryPolicy
from ..streams import AsyncStream, Stream
from ..timeouts import Timeouts
from ._legacy import GeminiLegacyCall, legacy_client, request_body, request_proto
from .chunk import GeminiLegacyResponseChunk
from .params import GeminiCallParams

if TYPE_CHECKING:
    from google.ai.generativelanguage import GenerativeServiceClient

__all__ = ["GeminiLegacyPrompt", "GeminiLegacyResponseChunk"]


class GeminiLegacyPrompt(BasePrompt):
    """A prompt class that streams from Gemini through `google-generativeai` (REST).

    The class attributes mean what they mean on `GeminiPrompt`, except `client`: your own
    `google.ai.generativelanguage.GenerativeServiceClient` (the client
    `genai.GenerativeModel` uses). The default client uses the REST transport;
    `base_url` is its `api_endpoint`.

    What the legacy package cannot do: `seed`, `thinking_config` and `http_options` are
    rejected, thought signatures are neither received nor sent back, thought-token counts
    and response ids are missing, and an error sent inside the stream is lost (the
    stream then ends as interrupted). `stream_async()` runs the package's blocking REST
    stream in worker threads, since the package has no async REST transport.
    """

    call_params: ClassVar[GeminiCallParams] = GeminiCallParams(model="gemini-2.5-flash")
    api_key: ClassVar[str | None] = None
    api_key_env: ClassVar[str] = "GEMINI_API_KEY"
    base_url: ClassVar[str | None] = None
    client: ClassVar[GenerativeServiceClient | None] = None

    def request_kwargs(self, **call_params: Any) -> dict[str, Any]:
        """The keyword arguments `stream_generate_content` will get, the request as its JSON body.

        `call_params` override the class's `call_params` for this request only.
        """
        params = self.call_params.with_overrides(**call_params)
        assert isinstance(params, GeminiCallParams)
        kwargs: dict[str, Any] = {"request": request_body(params, self.messages())}
        if params.timeout is not None:
            kwargs["timeout"] = params.timeout
        return kwargs

    def _call(self, call_params: dict[str, Any], timeouts: Timeouts) -> GeminiLegacyCall:
        kwargs = self.request_kwargs(**call_params)
        client = legacy_client(type(self))
        return GeminiLegacyCall(
            request_proto(kwargs["request"]), client=client, timeout=kwargs.get("timeout", timeouts.idle)
        )

    def stream(
        self, *, retries: RetryPolicy | None = None, timeouts: Timeouts | None = None, **call_params: Any
    ) -> Stream[GeminiLegacyResponseChunk]:
        """Stream the answer; the request is sent when iteration starts.

        Invalid or unsupported parameters, template values or a missing API key raise here,
        before any request.
        """
        limits = timeouts or self.timeouts
        policy = self.retries if retries is None else retries
        return Stream(self._call(call_params, limits), retries=policy, timeouts=limits)

    def stream_async(
        self, *, retries: RetryPolicy | None = None, timeouts: Timeouts | None = None, **call_params: Any
    ) -> AsyncStream[GeminiLegacyResponseChunk]:
        """The async twin of `stream`; the blocking REST stream is read in worker threads."""
        limits = timeouts or self.timeouts
        policy = self.retries if retries is None else retries
        return AsyncStream(self._call(call_params, limits), retries=policy, timeouts=limits)
