"""Reading the JSON objects of a stream defensively, shared by the providers' decoders.

A decoder reads fields of a server's JSON; a field of the wrong type (a list where an
object belongs, a number where text belongs, `NaN`) must become a `MalformedStreamError`
naming the field, never an `AttributeError` or `TypeError` later on, and never a value that
breaks the `Response` built at the end. These helpers check a field's type as it is read.
"""

from __future__ import annotations

import json
from typing import Any

from ._sse import json_object
from .errors import MalformedStreamError

__all__ = ["Fields", "parse_object", "to_json"]


def parse_object(data: bytes, provider: str) -> dict[str, Any]:
    """An event's data as a JSON object (`json_object`), also when it is nested too deep.

    Raises:
        MalformedStreamError: the data is not JSON, not an object, or nested too deep to read.
    """
    try:
        return json_object(data, provider)
    except RecursionError:
        raise MalformedStreamError(
            f"{provider} sent an event nested too deep to read: {data[:200]!r}", provider=provider
        ) from None


def to_json(value: Any, provider: str) -> str:
    """`value` as JSON text, as `json.dumps` writes it.

    Raises:
        MalformedStreamError: the value is nested too deep to write.
    """
    try:
        return json.dumps(value)
    except (RecursionError, ValueError, TypeError) as error:
        raise MalformedStreamError(
            f"{provider} sent a value mirastream cannot write back as JSON ({error})", provider=provider
        ) from None


class Fields:
    """Typed reads of one provider's JSON fields, each raising `MalformedStreamError` on a wrong type."""

    __slots__ = ("provider",)

    def __init__(self, provider: str) -> None:
        self.provider = provider

    def error(self, what: str, value: Any) -> MalformedStreamError:
        """The error for field `what` holding `value`, of the wrong type."""
        shown = repr(value)
        if len(shown) > 120:
            shown = shown[:117] + "..."
        return MalformedStreamError(
            f"{self.provider} sent a malformed event: {what} is {type(value).__name__} {shown}",
            provider=self.provider,
        )

    def object(self, value: Any, what: str) -> dict[str, Any]:
        """`value` when it is a JSON object (`None` reads as `{}`)."""
        if isinstance(value, dict):
            return value
        if value is None:
            return {}
        raise self.error(what, value)

    def array(self, value: Any, what: str) -> list[Any]:
        """`value` when it is a JSON array (`None` reads as `[]`)."""
        if isinstance(value, list):
            return value
        if value is None:
            return []
        raise self.error(what, value)

    def text(self, value: Any, what: str) -> str:
        """`value` when it is a string (`None` reads as `""`)."""
        if isinstance(value, str):
            return value
        if value is None:
            return ""
        raise self.error(what, value)

    def optional_text(self, value: Any, what: str) -> str | None:
        """`value` when it is a non-empty string, `None` when it is absent or empty."""
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return value
        raise self.error(what, value)

    def count(self, value: Any, what: str) -> int | None:
        """`value` when it is a whole number of at least 0 (`None` when absent)."""
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        raise self.error(what, value)
