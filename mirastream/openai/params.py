"""Call parameters of the OpenAI Chat Completions API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ..params import BaseCallParams

__all__ = ["OpenAICallParams"]


class OpenAICallParams(BaseCallParams):
    """Parameters of a Chat Completions request (OpenAI and OpenAI-compatible servers).

    Only the parameters you set are sent. Anything the API takes that is not listed here
    goes through `extra_body`; `extra_headers` and `extra_query` reach the HTTP request.

    Attributes:
        model: the model to call, e.g. `"gpt-4o-mini"`.
        include_usage: ask for token usage at the end of every stream
            (`stream_options.include_usage`); turn off for servers that reject it.
        timeout: seconds to wait for the whole request, passed to the SDK.
    """

    model: str = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, int] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    response_format: dict[str, Any] | None = None
    tools: list[Any] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    user: str | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    include_usage: bool = True
    extra_body: dict[str, Any] | None = None
    extra_headers: dict[str, str] | None = None
    extra_query: dict[str, Any] | None = None
    timeout: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check_combinations(self) -> OpenAICallParams:
        if self.max_tokens is not None and self.max_completion_tokens is not None:
            raise ValueError("set max_tokens or max_completion_tokens, not both")
        if isinstance(self.stop, list) and len(self.stop) > 4:
            raise ValueError("stop takes at most 4 sequences")
        if self.logit_bias is not None:
            for token, bias in self.logit_bias.items():
                if not -100 <= bias <= 100:
                    raise ValueError(f"logit_bias[{token!r}] = {bias} is outside -100..100")
        if self.top_logprobs is not None and not self.logprobs:
            raise ValueError("top_logprobs needs logprobs=True")
        return self
