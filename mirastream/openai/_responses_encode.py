"""Building Responses API requests from prompts and call parameters.

- `SYSTEM:` sections are joined into `instructions` (which the API does not carry over from
  a `previous_response_id`, so every request sends them again).
- User and assistant messages are input messages with text content.
- An assistant turn that called tools becomes its text (if any), then one `function_call`
  item per call; each tool result a `function_call_output` item answering its `call_id`.
  The calls are sent without their item ids, so the request stands on its own whether or not
  the earlier response was stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import ConfigurationError
from ..messages import Message
from ..tools._specs import encode_hosted
from .responses_params import OpenAIResponsesCallParams

_PROVIDER = "openai"


def encode_tool(tool: Any) -> dict[str, Any]:
    """A tool in the Responses format (provider dicts pass through unchanged, a hosted tool
    is the Responses API's own, e.g. `code_interpreter`).

    The Responses API makes function tools strict by default, which asks for schemas that
    list every property as required and forbid others; mirastream's tools are sent with
    `strict: false` unless their `provider_options("openai")` say otherwise.
    """
    if isinstance(tool, dict):
        return tool
    hosted = encode_hosted(tool, "openai_responses")
    if hosted is not None:
        return hosted
    encoded = {
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "parameters": tool.parameters,
        "strict": False,
    }
    encoded.update(tool.provider_options("openai"))
    return encoded


def _function_call(message: Message) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if message.content:
        items.append({"role": "assistant", "content": message.content})
    for call in message.tool_calls:
        items.append(
            {
                "type": "function_call",
                "call_id": call.id,
                "name": call.name,
                "arguments": call.raw_arguments or "{}",
            }
        )
    return items


def _function_call_output(message: Message) -> dict[str, Any]:
    if not message.tool_call_id:
        raise ConfigurationError(
            "a tool message needs the tool_call_id of the call it answers", provider=_PROVIDER
        )
    return {"type": "function_call_output", "call_id": message.tool_call_id, "output": message.content}


def encode_input(messages: Iterable[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """The `instructions` text and the `input` items of a Responses request."""
    instructions: list[str] = []
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            instructions.append(message.content)
        elif message.role == "tool":
            items.append(_function_call_output(message))
        elif message.role == "assistant" and message.tool_calls:
            items.extend(_function_call(message))
        else:
            items.append({"role": message.role, "content": message.content})
    return ("\n\n".join(instructions) if instructions else None), items


def request_kwargs(params: OpenAIResponsesCallParams, messages: Iterable[Message]) -> dict[str, Any]:
    """The keyword arguments of `responses.create` for a streamed request."""
    kwargs = params.model_dump(exclude_none=True, exclude={"tools"})
    if params.tools:
        kwargs["tools"] = [encode_tool(tool) for tool in params.tools]
    instructions, kwargs["input"] = encode_input(messages)
    if instructions is not None:
        kwargs["instructions"] = instructions
    kwargs["stream"] = True
    return kwargs
