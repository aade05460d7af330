"""The base of every provider's call parameters."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["BaseCallParams"]


class BaseCallParams(BaseModel):
    """Call parameters: validated when created, immutable, unknown names rejected.

    Each provider subclasses it with the parameters its API takes. A misspelt or
    out-of-range parameter raises pydantic's `ValidationError` at once, long before any
    request is sent.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, defer_build=True)

    @field_validator("tools", mode="after", check_fields=False)
    @classmethod
    def _tools(cls, value: list[Any] | None) -> list[Any] | None:
        """Provider dicts stay as they are; functions and pydantic models become `FunctionTool`s."""
        if value is None:
            return None
        from .tools._specs import normalise_tools

        return normalise_tools(value)

    def with_overrides(self, **overrides: Any) -> BaseCallParams:
        """A copy with `overrides` applied, validated like a new instance."""
        if not overrides:
            return self
        values = {name: getattr(self, name) for name in self.model_fields_set}
        values.update(overrides)
        return type(self).model_validate(values)
