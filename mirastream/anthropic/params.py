"""Call parameters of the Anthropic Messages API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ..params import BaseCallParams

__all__ = ["AnthropicCallParams"]


class AnthropicCallParams(BaseCallParams):
    """Parameters of a Messages API request (Anthropic and Anthropic-compatible servers).

    Only the parameters you set are sent, plus `max_tokens`, which the API requires.
    Anything the API takes that is not listed here goes through `extra_body`;
    `extra_headers` and `extra_query` reach the HTTP request.

    Attributes:
        model: the model to call, e.g. `"claude-sonnet-4-6"`.
        max_tokens: the most tokens the model may generate (required by the API; default 1024).
        temperature: sampling temperature, 0 to 1. Some newer models reject it.
        top_p: nucleus sampling, 0 to 1.
        top_k: sample only from the `top_k` most likely tokens.
        stop_sequences: texts that end the answer when generated (`stop_reason` `stop_sequence`).
        tools: tool definitions in the Messages API format (`name`, `description`,
            `input_schema`, optionally `eager_input_streaming`).
        tool_choice: `"auto"`, `"any"`, `"none"`, or the full dict, e.g.
            `{"type": "tool", "name": "get_weather"}`.
        thinking: extended thinking, e.g. `{"type": "enabled", "budget_tokens": 2048}` or
            `{"type": "adaptive"}`.
        metadata: request metadata, e.g. `{"user_id": "..."}`.
        service_tier: `"auto"` or `"standard_only"`.
        timeout: seconds to wait for the whole request, passed to the SDK.
    """

    model: str = Field(min_length=1)
    max_tokens: int = Field(default=1024, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=1)
    stop_sequences: list[str] | None = None
    tools: list[Any] | None = None
    tool_choice: Literal["auto", "any", "none"] | dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    service_tier: Literal["auto", "standard_only"] | None = None
    extra_body: dict[str, Any] | None = None
    extra_headers: dict[str, str] | None = None
    extra_query: dict[str, Any] | None = None
    timeout: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check_thinking_budget(self) -> AnthropicCallParams:
        thinking = self.thinking
        if thinking is None or thinking.get("type") != "enabled":
            return self
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool):
            raise ValueError('thinking {"type": "enabled"} needs an integer "budget_tokens"')
        if budget < 1024:
            raise ValueError(f"thinking budget_tokens must be at least 1024, not {budget}")
        if budget >= self.max_tokens:
            raise ValueError(
                f"thinking budget_tokens ({budget}) must be less than max_tokens ({self.max_tokens})"
            )
        return self
