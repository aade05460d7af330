"""Call parameters of the Gemini API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from ..params import BaseCallParams

__all__ = ["GeminiCallParams"]

# Config keys mirastream fills in itself; `extra_config` may not set them.
_OWN_CONFIG_KEYS = frozenset({"system_instruction", "automatic_function_calling", "http_options"})


class GeminiCallParams(BaseCallParams):
    """Parameters of a Gemini `generateContent` request.

    Only the parameters you set are sent. The nested settings (`safety_settings`, `tools`,
    `tool_config`, `thinking_config`, `response_schema`) take the shapes of the
    `google-genai` SDK, as dicts with snake_case keys, and are checked by the SDK before
    anything is sent. Anything else the SDK's `GenerateContentConfig` takes goes through
    `extra_config`.

    Attributes:
        model: the model to call, e.g. `"gemini-2.5-flash"`.
        temperature: sampling temperature, 0 to 2.
        top_p: nucleus sampling, 0 to 1.
        top_k: sample from the `top_k` most likely tokens.
        max_output_tokens: the most tokens to generate (thinking tokens count too on
            thinking models).
        stop_sequences: up to 5 strings that end the answer.
        candidate_count: how many answers to generate (1 to 8); each is a choice.
        seed: a seed for reproducible sampling.
        presence_penalty: penalise tokens that already appeared, -2 to 2.
        frequency_penalty: penalise tokens by how often they appeared, -2 to 2.
        safety_settings: e.g. `[{"category": "HARM_CATEGORY_HARASSMENT",
            "threshold": "BLOCK_ONLY_HIGH"}]`.
        tools: e.g. `[{"function_declarations": [{"name": ..., "parameters": ...}]}]`.
        tool_config: e.g. `{"function_calling_config": {"mode": "ANY"}}`.
        thinking_config: e.g. `{"thinking_budget": 1024, "include_thoughts": True}`;
            with `include_thoughts` the model's thought summaries arrive as `thinking`.
        response_mime_type: e.g. `"application/json"` for JSON output.
        response_schema: the schema of a JSON answer, as a dict or a pydantic model class.
        extra_config: more `GenerateContentConfig` fields, merged into the config as they
            are (e.g. `{"response_modalities": ["TEXT"]}`); it may not repeat a field set
            above.
        http_options: per-request `HttpOptions` of the SDK (`headers`, `api_version`,
            `extra_body`, ...); not `retry_options`: retries are the prompt's `retries`.
        timeout: seconds to wait for the whole request.
    """

    model: str = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=1)
    max_output_tokens: int | None = Field(default=None, ge=1)
    stop_sequences: list[str] | None = Field(default=None, max_length=5)
    candidate_count: int | None = Field(default=None, ge=1, le=8)
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    safety_settings: list[dict[str, Any]] | None = None
    tools: list[Any] | None = None
    tool_config: dict[str, Any] | None = None
    thinking_config: dict[str, Any] | None = None
    response_mime_type: str | None = None
    response_schema: dict[str, Any] | type[BaseModel] | None = None
    extra_config: dict[str, Any] | None = None
    http_options: dict[str, Any] | None = None
    timeout: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check_extra_config(self) -> GeminiCallParams:
        if self.extra_config:
            clashes = sorted(
                key for key in self.extra_config if key in _OWN_CONFIG_KEYS or key in type(self).model_fields
            )
            if clashes:
                raise ValueError(
                    f"extra_config sets {', '.join(clashes)}, which mirastream sets itself or which has "
                    "its own parameter; set the parameter directly"
                )
        if self.http_options and "timeout" in self.http_options and self.timeout is not None:
            raise ValueError("set timeout or http_options['timeout'], not both")
        if self.http_options and "retry_options" in self.http_options:
            raise ValueError(
                "http_options['retry_options'] would never apply: mirastream sends the request; "
                "set the prompt's `retries` instead"
            )
        return self
