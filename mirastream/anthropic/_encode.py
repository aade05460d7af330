"""Building Messages API requests from prompts and call parameters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import ConfigurationError
from ..messages import Message, ThinkingBlock
from ..tools._specs import encode_hosted
from .params import AnthropicCallParams

# The SDK no longer takes the sampling parameters as arguments (some newer models reject
# them), but the API still reads them from the body.
_BODY_ONLY = ("temperature", "top_p", "top_k")


def encode_tool(tool: Any) -> dict[str, Any]:
    """A tool in the Messages API format (provider dicts pass through unchanged).

    A tool's `provider_options("anthropic")` adds its own keys: the code interpreter asks for
    fine-grained tool streaming (`eager_input_streaming`), so its code arrives as the model
    writes it instead of in one piece.
    """
    if isinstance(tool, dict):
        return tool
    hosted = encode_hosted(tool, "anthropic")  # the Messages API's own tool (code execution)
    if hosted is not None:
        return hosted
    encoded = {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}
    encoded.update(tool.provider_options("anthropic"))
    return encoded


def _thinking(block: ThinkingBlock) -> dict[str, Any]:
    """A kept thinking block, as the Messages API wants it back."""
    if block.type == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.data}
    return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}


def _tool_use(message: Message) -> list[dict[str, Any]]:
    """The content blocks of an assistant turn that called tools.

    Its thinking blocks come first, unchanged (with extended thinking on, the API rejects a
    tool-use turn without them), then its text, then one `tool_use` block per call.
    """
    if message.provider_blocks:
        # A turn with server tools goes back exactly as it came, but for calls left unanswered.
        answered = {call.id for call in message.tool_calls}
        return [
            dict(block)
            for block in message.provider_blocks
            if block.get("type") != "tool_use" or block.get("id") in answered
        ]
    blocks = [_thinking(block) for block in message.thinking_blocks if block.provider == "anthropic"]
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        if call.arguments is None:
            raise ConfigurationError(
                f"tool call {call.id!r} ({call.name}) has arguments that are not a JSON object "
                f"({call.raw_arguments!r}); the Messages API needs an object as a tool_use input",
                provider="anthropic",
            )
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments})
    return blocks


def _tool_result(message: Message) -> dict[str, Any]:
    if not message.tool_call_id:
        raise ConfigurationError(
            "a tool message needs the tool_call_id of the call it answers", provider="anthropic"
        )
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
    result["content"] = message.content
    if message.is_error:
        result["is_error"] = True
    return result


def encode_messages(messages: Iterable[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """The `system` text and the `messages` list of a Messages API request.

    System messages are joined into `system`. Tool results become `tool_result` blocks, and
    consecutive ones share one user message, as the API requires.
    """
    system: list[str] = []
    encoded: list[dict[str, Any]] = []
    pending_results: list[dict[str, Any]] | None = None
    for message in messages:
        if message.role == "system":
            system.append(message.content)
            continue
        if message.role == "tool":
            if pending_results is None:
                pending_results = []
                encoded.append({"role": "user", "content": pending_results})
            pending_results.append(_tool_result(message))
            continue
        pending_results = None
        if message.role == "assistant" and (message.tool_calls or message.provider_blocks):
            encoded.append({"role": "assistant", "content": _tool_use(message)})
        else:
            encoded.append({"role": message.role, "content": message.content})
    return ("\n\n".join(system) if system else None), encoded


def request_kwargs(params: AnthropicCallParams, messages: Iterable[Message]) -> dict[str, Any]:
    """The keyword arguments of `messages.create` for a streamed request."""
    kwargs = params.model_dump(exclude_none=True, exclude={*_BODY_ONLY, "tools"})
    if params.tools:
        kwargs["tools"] = [encode_tool(tool) for tool in params.tools]
    sampling = {name: getattr(params, name) for name in _BODY_ONLY if getattr(params, name) is not None}
    if sampling:
        kwargs["extra_body"] = {**sampling, **kwargs.get("extra_body", {})}
    if isinstance(params.tool_choice, str):
        kwargs["tool_choice"] = {"type": params.tool_choice}
    system, kwargs["messages"] = encode_messages(messages)
    if system is not None:
        kwargs["system"] = system
    kwargs["stream"] = True
    return kwargs
