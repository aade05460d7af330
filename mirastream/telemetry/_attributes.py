"""The OpenTelemetry GenAI attributes of a request, a response and message content."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from ..messages import Message
    from ..params import BaseCallParams
    from ..responses import Response, Usage

Attributes = dict[str, Any]

# mirastream's provider -> (gen_ai.provider.name, gen_ai.operation.name, base URL variable, default URL)
_PROVIDERS: dict[str, tuple[str, str, str, str]] = {
    "openai": ("openai", "chat", "OPENAI_BASE_URL", "https://api.openai.com/v1"),
    "anthropic": ("anthropic", "chat", "ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
    "gemini": (
        "gcp.gemini",
        "generate_content",
        "GOOGLE_GEMINI_BASE_URL",
        "https://generativelanguage.googleapis.com",
    ),
}

# Call parameter -> attribute, for the parameters of every provider that the conventions name.
_PARAMETERS: tuple[tuple[str, str], ...] = (
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
    ("top_k", "gen_ai.request.top_k"),
    ("max_tokens", "gen_ai.request.max_tokens"),
    ("max_completion_tokens", "gen_ai.request.max_tokens"),
    ("max_output_tokens", "gen_ai.request.max_tokens"),
    ("seed", "gen_ai.request.seed"),
    ("presence_penalty", "gen_ai.request.presence_penalty"),
    ("frequency_penalty", "gen_ai.request.frequency_penalty"),
    ("reasoning_effort", "gen_ai.request.reasoning.level"),
)


def provider_names(provider: str) -> tuple[str, str]:
    """`gen_ai.provider.name` and `gen_ai.operation.name` for mirastream's `provider`."""
    name, operation, _, _ = _PROVIDERS.get(provider, (provider, "chat", "", ""))
    return name, operation


def server_attributes(provider: str, prompt_class: type[Any]) -> Attributes:
    """`server.address` and `server.port` of the server the prompt class streams from."""
    _, _, variable, default = _PROVIDERS.get(provider, ("", "", "", ""))
    url: str | None = None
    client = getattr(prompt_class, "client", None) or getattr(prompt_class, "async_client", None)
    if client is not None:
        base = getattr(client, "base_url", None)
        url = str(base) if base else None
    if url is None:
        url = getattr(prompt_class, "base_url", None) or (os.environ.get(variable) if variable else None)
    url = url or default
    if not url:
        return {}
    parts = urlsplit(url)
    if not parts.hostname:
        return {}
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {"server.address": parts.hostname, "server.port": port}


def request_attributes(params: BaseCallParams) -> Attributes:
    """The request parameters the conventions name, as set on `params`."""
    attributes: Attributes = {"gen_ai.request.stream": True}
    for field, key in _PARAMETERS:
        value = getattr(params, field, None)
        if value is not None:
            attributes[key] = value
    stop = getattr(params, "stop", None) or getattr(params, "stop_sequences", None)
    if stop:
        attributes["gen_ai.request.stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    choices = getattr(params, "n", None) or getattr(params, "candidate_count", None)
    if choices is not None and choices != 1:
        attributes["gen_ai.request.choice.count"] = choices
    response_format = getattr(params, "response_format", None)
    mime = getattr(params, "response_mime_type", None)
    if (isinstance(response_format, dict) and str(response_format.get("type", "")).startswith("json")) or (
        mime == "application/json"
    ):
        attributes["gen_ai.output.type"] = "json"
    return attributes


def response_attributes(response: Response, *, ended: bool) -> Attributes:
    """A turn's response: id, model, finish reasons (`error` for a choice that got none), usage."""
    attributes: Attributes = {}
    if response.id:
        attributes["gen_ai.response.id"] = response.id
    if response.model:
        attributes["gen_ai.response.model"] = response.model
    reasons = [choice.finish_reason or choice.raw_finish_reason or "error" for choice in response.choices]
    if reasons or not ended:
        attributes["gen_ai.response.finish_reasons"] = reasons or ["error"]
    if response.usage is not None:
        attributes.update(usage_attributes(response.usage))
    return attributes


def usage_attributes(usage: Usage) -> Attributes:
    """The `gen_ai.usage.*` attributes of `usage`."""
    attributes: Attributes = {
        "gen_ai.usage.input_tokens": usage.input_tokens,
        "gen_ai.usage.output_tokens": usage.output_tokens,
    }
    if usage.cached_input_tokens is not None:
        attributes["gen_ai.usage.cache_read.input_tokens"] = usage.cached_input_tokens
    if usage.reasoning_tokens is not None:
        attributes["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
    return attributes


def error_type(error: BaseException) -> str:
    """`error.type`: the class name of the error (mirastream's typed errors are low-cardinality)."""
    return type(error).__qualname__


# Content (recorded only when opted in) ------------------------------------------------------


def input_messages(messages: Sequence[Message]) -> tuple[str | None, str]:
    """`gen_ai.system_instructions` (or `None`) and `gen_ai.input.messages`, as JSON strings."""
    system = [
        {"type": "text", "content": message.content} for message in messages if message.role == "system"
    ]
    chat = [_message(message) for message in messages if message.role != "system"]
    return (_json(system) if system else None), _json(chat)


def output_messages(response: Response) -> str:
    """`gen_ai.output.messages`: one message per choice, as a JSON string."""
    messages = []
    for choice in response.choices:
        parts: list[dict[str, Any]] = []
        if choice.thinking:
            parts.append({"type": "reasoning", "content": choice.thinking})
        if choice.text:
            parts.append({"type": "text", "content": choice.text})
        parts.extend(_tool_call(call) for call in choice.tool_calls)
        messages.append(
            {"role": "assistant", "parts": parts, "finish_reason": choice.finish_reason or "error"}
        )
    return _json(messages)


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        part = {"type": "tool_call_response", "id": message.tool_call_id, "result": message.content}
        return {"role": "tool", "parts": [part]}
    parts: list[dict[str, Any]] = []
    if message.content:
        parts.append({"type": "text", "content": message.content})
    parts.extend(_tool_call(call) for call in message.tool_calls)
    return {"role": message.role, "parts": parts}


def _tool_call(call: Any) -> dict[str, Any]:
    arguments = call.arguments if call.arguments is not None else call.raw_arguments
    return {"type": "tool_call", "id": call.id, "name": call.name, "arguments": arguments}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
