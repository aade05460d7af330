"""Building Gemini requests from prompts and call parameters.

Messages become `contents` in the SDK's dict form (snake_case keys), which both the
`google-genai` SDK and, through protobuf's JSON parser, the legacy client accept.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Any

from ..errors import ConfigurationError
from ..messages import Message, ToolCall
from ..tools._specs import encode_hosted
from .params import GeminiCallParams

_PROVIDER = "gemini"

# Parameters that configure the request itself rather than `GenerateContentConfig` fields.
_NOT_CONFIG = {"model", "extra_config", "http_options", "timeout", "tools"}


def encode_tools(tools: Iterable[Any]) -> list[dict[str, Any]]:
    """Tools in the Gemini format: provider dicts unchanged, hosted tools as Gemini's own
    (`{"code_execution": {}}`), mirastream's tools as one set of function declarations (their
    parameters as JSON schema)."""
    encoded: list[dict[str, Any]] = []
    declarations: list[dict[str, Any]] = []
    for tool in tools:
        hosted = encode_hosted(tool, "gemini")
        if isinstance(tool, dict):
            encoded.append(tool)
        elif hosted is not None:
            encoded.append(hosted)
        else:
            declarations.append(
                {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters_json_schema": tool.parameters,
                    **tool.provider_options("gemini"),
                }
            )
    if declarations:
        encoded.append({"function_declarations": declarations})
    return encoded


def _signature_bytes(call: ToolCall) -> bytes | None:
    if call.signature is None:
        return None
    try:
        return base64.b64decode(call.signature, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            f"the signature of tool call {call.id!r} is not base64, so it cannot be the thoughtSignature "
            "Gemini sent; pass it back unchanged",
            provider=_PROVIDER,
        ) from None


def _function_call_part(call: ToolCall, *, with_signature: bool) -> dict[str, Any]:
    arguments = call.arguments
    if arguments is None:
        if call.raw_arguments.strip():
            raise ConfigurationError(
                f"tool call {call.id!r} has arguments that are not a JSON object "
                f"({call.raw_arguments[:80]!r}); Gemini takes function arguments as an object",
                provider=_PROVIDER,
            )
        arguments = {}
    part: dict[str, Any] = {"function_call": {"name": call.name, "args": arguments, "id": call.id}}
    signature = _signature_bytes(call) if with_signature else None
    if signature is not None:
        part["thought_signature"] = signature
    return part


def _function_response(content: str) -> dict[str, Any]:
    """A tool's result as the JSON object Gemini wants: the object itself, or `{"output": ...}`."""
    try:
        value = json.loads(content)
    except ValueError:
        return {"output": content}
    return value if isinstance(value, dict) else {"output": value}


def encode_messages(
    messages: Iterable[Message], *, with_signatures: bool = True
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The system instruction and the `contents` of a request.

    System messages, wherever they stand, make up the system instruction. Assistant
    messages become `model` turns whose tool calls are `function_call` parts (with the
    call's signature as `thought_signature`); consecutive tool messages become one `user`
    turn of `function_response` parts. `with_signatures=False` leaves the signatures out
    (the legacy client's protos have no field for them).
    """
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    open_results: list[dict[str, Any]] | None = None
    for message in messages:
        if message.role == "system":
            system.append({"text": message.content})
            continue
        if message.role == "tool":
            name = message.name or call_names.get(message.tool_call_id or "")
            if not name:
                raise ConfigurationError(
                    f"a tool message (tool_call_id={message.tool_call_id!r}) needs the tool's `name`, "
                    "or must answer a call of an earlier assistant message: Gemini matches results by name",
                    provider=_PROVIDER,
                )
            result: dict[str, Any] = {"name": name, "response": _function_response(message.content)}
            if message.tool_call_id:
                result["id"] = message.tool_call_id
            if open_results is None:
                open_results = []
                contents.append({"role": "user", "parts": open_results})
            open_results.append({"function_response": result})
            continue
        open_results = None
        if message.role == "assistant":
            parts: list[dict[str, Any]] = [{"text": message.content}] if message.content else []
            for call in message.tool_calls:
                call_names[call.id] = call.name
                parts.append(_function_call_part(call, with_signature=with_signatures))
            contents.append({"role": "model", "parts": parts or [{"text": ""}]})
        else:
            contents.append({"role": "user", "parts": [{"text": message.content}]})
    return ({"parts": system} if system else None), contents


def generation_settings(params: GeminiCallParams) -> dict[str, Any]:
    """The parameters that go into the SDK's `GenerateContentConfig`, as set."""
    config = params.model_dump(exclude_none=True, exclude=_NOT_CONFIG)
    if params.tools:
        config["tools"] = encode_tools(params.tools)
    if params.response_schema is not None:
        config["response_schema"] = params.response_schema  # a model class stays a class
    return config


def request_kwargs(params: GeminiCallParams, messages: Iterable[Message]) -> dict[str, Any]:
    """The keyword arguments of `client.models.generate_content_stream`, as plain data."""
    system, contents = encode_messages(messages)
    config = generation_settings(params)
    if system is not None:
        config["system_instruction"] = system
    if params.extra_config:
        config.update(params.extra_config)
    http_options = dict(params.http_options or {})
    if params.timeout is not None:
        http_options["timeout"] = round(params.timeout * 1000)  # the SDK counts milliseconds
    if http_options:
        config["http_options"] = http_options
    # mirastream hands tool calls to you; the SDK must never run Python functions by itself.
    config["automatic_function_calling"] = {"disable": True}
    return {"model": params.model, "contents": contents, "config": config}
