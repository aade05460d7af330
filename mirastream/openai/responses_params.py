"""Call parameters of the OpenAI Responses API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ..params import BaseCallParams

__all__ = ["OpenAIResponsesCallParams"]


class OpenAIResponsesCallParams(BaseCallParams):
    """Parameters of a Responses API request (`client.responses.create`).

    Only the parameters you set are sent. Anything the API takes that is not listed here
    goes through `extra_body`; `extra_headers` and `extra_query` reach the HTTP request.
    The prompt's `SYSTEM:` sections are sent as `instructions`, so there is no
    `instructions` parameter here.

    Attributes:
        model: the model to call, e.g. `"gpt-5-mini"`.
        max_output_tokens: the most tokens the answer may take, reasoning included; an
            answer cut there ends with `finish_reason == "length"`.
        reasoning: the reasoning configuration, e.g. `{"effort": "low", "summary": "auto"}`;
            with a `summary`, the reasoning summary streams as `chunk.thinking`.
        text: the text output configuration, e.g. `{"format": {"type": "json_schema", ...}}`
            or `{"verbosity": "low"}`.
        previous_response_id: continue from a stored response (`stream.response.id` of an
            earlier stream); the request then carries only the new messages. Every request
            of a tool loop continues from it, resending the loop's own turns.
        store: whether OpenAI keeps the response, so a later request can continue from it
            (the API's default is to keep it).
        include: extra output to include, e.g. `["reasoning.encrypted_content"]`.
        timeout: seconds to wait for the whole request, passed to the SDK.
    """

    model: str = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_output_tokens: int | None = Field(default=None, ge=16)
    max_tool_calls: int | None = Field(default=None, ge=1)
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    reasoning: dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    tools: list[Any] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    previous_response_id: str | None = Field(default=None, min_length=1)
    conversation: str | dict[str, Any] | None = None
    store: bool | None = None
    include: list[str] | None = None
    truncation: Literal["auto", "disabled"] | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = None
    extra_body: dict[str, Any] | None = None
    extra_headers: dict[str, str] | None = None
    extra_query: dict[str, Any] | None = None
    timeout: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check_combinations(self) -> OpenAIResponsesCallParams:
        if self.previous_response_id is not None and self.conversation is not None:
            raise ValueError("set previous_response_id or conversation, not both")
        if self.metadata is not None and len(self.metadata) > 16:
            raise ValueError("metadata takes at most 16 keys")
        return self
