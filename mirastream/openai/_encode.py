"""Building Chat Completions requests from prompts and call parameters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..messages import Message
from ..tools._specs import encode_hosted
from .params import OpenAICallParams

# Parameters that configure mirastream or the SDK call rather than the request body.
_NOT_IN_BODY = {"include_usage", "tools"}


def encode_tool(tool: Any) -> dict[str, Any]:
    """A tool in the Chat Completions format (provider dicts pass through unchanged; a hosted
    tool raises `ConfigurationError`: Chat Completions has no hosted tools)."""
    if isinstance(tool, dict):
        return tool
    encode_hosted(tool, "openai")  # a hosted tool: Chat Completions has none, this raises
    function = {"name": tool.name, "description": tool.description, "parameters": tool.parameters}
    function.update(tool.provider_options("openai"))
    return {"type": "function", "function": function}


def encode_message(message: Message) -> dict[str, Any]:
    """One message in the Chat Completions format."""
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.raw_arguments or "{}"},
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def request_kwargs(params: OpenAICallParams, messages: Iterable[Message]) -> dict[str, Any]:
    """The keyword arguments of `chat.completions.create` for a streamed request."""
    kwargs = params.model_dump(exclude_none=True, exclude=_NOT_IN_BODY)
    if params.tools:
        kwargs["tools"] = [encode_tool(tool) for tool in params.tools]
    kwargs["messages"] = [encode_message(message) for message in messages]
    kwargs["stream"] = True
    if params.include_usage:
        kwargs["stream_options"] = {"include_usage": True}
    return kwargs
