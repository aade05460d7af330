"""Provider-neutral chat messages and tool calls."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Role = Literal["system", "user", "assistant", "tool"]

__all__ = ["Message", "Role", "ThinkingBlock", "ToolCall", "parse_arguments"]


def parse_arguments(raw: str) -> dict[str, Any] | None:
    """Decode a tool call's JSON arguments; `None` unless they form a JSON object.

    An empty string (what some models send for a call without arguments) decodes to `{}`.
    """
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to decode
        return None
    return value if isinstance(value, dict) else None


class ToolCall(BaseModel):
    """A finished tool call requested by the model.

    Attributes:
        id: the provider's id for the call, used to send its result back.
        name: the name of the tool.
        raw_arguments: the arguments exactly as the model wrote them (JSON text).
        arguments: `raw_arguments` decoded, or `None` when they are not a JSON object.
        signature: an opaque token the provider attached to the call and wants back with its
            result (Gemini's `thoughtSignature`); `None` for most providers.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    name: str
    raw_arguments: str = ""
    arguments: dict[str, Any] | None = None
    signature: str | None = None

    @classmethod
    def from_raw(cls, id: str, name: str, raw_arguments: str, signature: str | None = None) -> ToolCall:
        """Build a call from its raw JSON arguments, decoding them."""
        return cls(
            id=id,
            name=name,
            raw_arguments=raw_arguments,
            arguments=parse_arguments(raw_arguments),
            signature=signature,
        )


class ThinkingBlock(BaseModel):
    """A block of the model's reasoning that its provider wants back, unchanged, in the next turn.

    Anthropic signs each thinking block of a turn that calls tools (or sends it encrypted, as
    `redacted_thinking`), and with extended thinking on, the Messages API requires those
    blocks back, before the `tool_use` blocks, in the request that carries the results.
    Other providers ignore them.

    Attributes:
        provider: the provider that made the block (only that provider reads it back).
        type: `"thinking"` (readable reasoning with its `signature`) or
            `"redacted_thinking"` (encrypted reasoning, in `data`).
        thinking: the reasoning text of a `thinking` block.
        signature: the provider's signature of that text.
        data: the encrypted content of a `redacted_thinking` block.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    provider: str
    type: Literal["thinking", "redacted_thinking"] = "thinking"
    thinking: str = ""
    signature: str = ""
    data: str = ""


class Message(BaseModel):
    """One message of a conversation, in the same shape for every provider.

    Attributes:
        role: `system`, `user`, `assistant` or `tool`.
        content: the text of the message.
        tool_calls: on assistant messages, the tools the model called.
        tool_call_id: on tool messages, the call this message answers.
        name: on tool messages, the name of the tool that answered.
        thinking_blocks: on assistant messages, the reasoning blocks the provider wants back
            with the turn's tool calls (Anthropic's signed thinking); others ignore them.
        provider_blocks: on assistant messages, the turn's content blocks exactly as the
            provider sent them, when it must get them back as they were (Anthropic turns with
            server tools: a paused turn, code execution, web search); others ignore them.
        is_error: on tool messages, whether the result reports a failure (sent to the
            providers that can flag one: Anthropic's `is_error`).
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    thinking_blocks: tuple[ThinkingBlock, ...] = ()
    provider_blocks: tuple[dict[str, Any], ...] = ()
    is_error: bool = False
