"""The SDK's own `GenerateContentResponse`, built from a streamed JSON object on demand.

The default clients read Gemini's server-sent events themselves and decode their JSON
directly; a chunk's `.chunk` is built from that JSON only when it is asked for, through
the same conversion and validation `google-genai` applies to each streamed object, so it
is equal to what `generate_content_stream` yields (including `parsed` for a
`response_schema`, and `sdk_http_response` with the response's headers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.genai.types import GenerateContentConfig, GenerateContentResponse


class NativeResponses:
    """Builds the SDK's objects for the chunks of one stream.

    `headers` are set once the response has arrived; `config` is the request's validated
    `GenerateContentConfig`, whose `response_schema` the SDK parses each chunk with.
    """

    __slots__ = ("_options", "_parses", "headers")

    def __init__(self, config: GenerateContentConfig | None) -> None:
        self.headers: Mapping[str, str] | None = None
        self._options: dict[str, Any] = {}
        self._parses = False
        if config is not None:
            self._options["config"] = {
                "response_schema": config.response_schema,
                "response_json_schema": config.response_json_schema,
                "include_all_fields": getattr(config, "include_all_fields", None),
            }
            self._parses = config.response_schema is not None or config.response_json_schema is not None

    def build(self, payload: dict[str, Any]) -> GenerateContentResponse:
        """The SDK's object for one streamed JSON object."""
        import pydantic
        from google.genai import models, types

        # The SDK's own steps for a streamed object of the Gemini Developer API: convert,
        # drop the fields this SDK version does not know, validate, parse with the schema.
        fields = models._GenerateContentResponse_from_mldev(payload, None, None)
        native: GenerateContentResponse | None = None
        if not self._parses:
            # Without unknown fields, dropping them changes nothing, and validating straight
            # away gives the same object at half the cost; the model refuses unknown fields.
            try:
                native = types.GenerateContentResponse.model_validate(fields)
            except pydantic.ValidationError:
                native = None
        if native is None:
            native = types.GenerateContentResponse._from_response(response=fields, kwargs=self._options)
        native.sdk_http_response = types.HttpResponse(headers=self.headers)
        return native
