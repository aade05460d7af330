"""Reading a recorded request back into provider-neutral messages, whatever its wire format."""

from __future__ import annotations

import json
from typing import Any

from ..messages import Message, ThinkingBlock, ToolCall
from . import _responses_requests
from ._responses_requests import text_of
from ._wire import Wire


def _get(mapping: dict[str, Any], camel: str, snake: str) -> Any:
    """A field under its JSON (camelCase) or proto (snake_case) name."""
    value = mapping.get(camel)
    return mapping.get(snake) if value is None else value


def messages(wire: Wire, body: Any) -> list[Message]:
    """The conversation a request sends, system instructions first, as `Message`s.

    Tool messages carry the name of the tool they answer (found from the call they answer
    where the format leaves it out). Arguments and results that the format sends as JSON
    objects (Anthropic's `input`, Gemini's `args` and `response`) are written back as JSON text.
    """
    if not isinstance(body, dict):
        return []
    if wire == "openai":
        return _openai(body)
    if wire == "openai-responses":
        return _responses_requests.messages(body)
    if wire == "anthropic":
        return _anthropic(body)
    return _gemini(body)


def _openai(body: dict[str, Any]) -> list[Message]:
    names: dict[str, str] = {}
    result: list[Message] = []
    for message in body.get("messages") or ():
        role = message.get("role")
        content = text_of(message.get("content"))
        if role == "developer":
            role = "system"
        if role == "tool":
            call_id = message.get("tool_call_id")
            name = message.get("name") or names.get(call_id or "")
            result.append(Message(role="tool", content=content, tool_call_id=call_id, name=name))
            continue
        calls = []
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            arguments = function.get("arguments") or ""
            calls.append(ToolCall.from_raw(call.get("id", ""), function.get("name", ""), arguments))
            names[calls[-1].id] = calls[-1].name
        if role in ("system", "user", "assistant"):
            result.append(Message(role=role, content=content, tool_calls=tuple(calls)))
    return result


def _anthropic(body: dict[str, Any]) -> list[Message]:
    result: list[Message] = []
    system = text_of(body.get("system"))
    if system:
        result.append(Message(role="system", content=system))
    names: dict[str, str] = {}
    for message in body.get("messages") or ():
        role = message.get("role")
        content = message.get("content")
        if isinstance(content, str):
            result.append(Message(role=role, content=content))
            continue
        texts: list[str] = []
        calls: list[ToolCall] = []
        thinking: list[ThinkingBlock] = []
        for block in content or ():
            kind = block.get("type")
            if kind == "text":
                texts.append(str(block.get("text", "")))
            elif kind == "thinking":
                text, signature = str(block.get("thinking", "")), str(block.get("signature", ""))
                thinking.append(ThinkingBlock(provider="anthropic", thinking=text, signature=signature))
            elif kind == "redacted_thinking":
                data = str(block.get("data", ""))
                thinking.append(ThinkingBlock(provider="anthropic", type="redacted_thinking", data=data))
            elif kind == "tool_use":
                arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
                calls.append(ToolCall.from_raw(block.get("id", ""), block.get("name", ""), arguments))
                names[calls[-1].id] = calls[-1].name
            elif kind == "tool_result":
                call_id = block.get("tool_use_id")
                output = text_of(block.get("content"))
                name = names.get(call_id or "")
                result.append(Message(role="tool", content=output, tool_call_id=call_id, name=name))
        if texts or calls:
            message = Message(
                role=role, content="".join(texts), tool_calls=tuple(calls), thinking_blocks=tuple(thinking)
            )
            result.append(message)
    return result


def rejection(wire: Wire, body: Any) -> str | None:
    """Why the real API would reject this request with HTTP 400, or `None` when it would not.

    Checked on the Responses API: the tool calls and their outputs in the input agree (see
    `_responses_requests.rejection`). Checked on the Messages API: with extended thinking on,
    it wants the assistant turn whose tool calls the request answers to start with its
    thinking blocks, each whole (a `thinking` block with its `signature`, or a
    `redacted_thinking` block with its `data`).
    """
    if not isinstance(body, dict):
        return None
    if wire == "openai-responses":
        return _responses_requests.rejection(body)
    if wire != "anthropic":
        return None
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "adaptive"):
        return None
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    for position, message in enumerate(messages):
        problem = _thinking_problem(position, message)
        if problem is not None:
            return problem
    last_turn = _last_tool_use_turn(messages)
    if last_turn is None:
        return None
    position, content = last_turn
    first = content[0] if content and isinstance(content[0], dict) else {}
    if first.get("type") not in ("thinking", "redacted_thinking"):
        found = first.get("type", "nothing")
        return (
            f"messages.{position}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
            f"`{found}`. When `thinking` is enabled, a final `assistant` message must start with a "
            "thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We "
            "recommend you include thinking blocks from previous turns. To avoid this requirement, "
            "disable `thinking`."
        )
    return None


def _thinking_problem(position: int, message: Any) -> str | None:
    """A thinking block of an assistant message that lacks its signature (or its data)."""
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list) or message.get("role") != "assistant":
        return None
    for number, block in enumerate(content):
        if not isinstance(block, dict):
            continue
        if block.get("type") == "thinking" and not (
            isinstance(block.get("signature"), str) and block["signature"]
        ):
            return f"messages.{position}.content.{number}.thinking.signature: Field required"
        if block.get("type") == "redacted_thinking" and not (
            isinstance(block.get("data"), str) and block["data"]
        ):
            return f"messages.{position}.content.{number}.redacted_thinking.data: Field required"
    return None


def _last_tool_use_turn(messages: list[Any]) -> tuple[int, list[Any]] | None:
    """The assistant turn with `tool_use` blocks that the request's last message answers."""
    if len(messages) < 2:
        return None
    last, previous = messages[-1], messages[-2]
    if not (isinstance(last, dict) and isinstance(previous, dict)):
        return None
    results = last.get("content")
    if last.get("role") != "user" or not isinstance(results, list):
        return None
    if not any(isinstance(block, dict) and block.get("type") == "tool_result" for block in results):
        return None
    content = previous.get("content")
    if previous.get("role") != "assistant" or not isinstance(content, list):
        return None
    if not any(isinstance(block, dict) and block.get("type") == "tool_use" for block in content):
        return None
    return len(messages) - 2, content


def _responsetext_of(response: Any) -> str:
    if isinstance(response, dict) and set(response) == {"output"}:
        output = response["output"]
        return output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
    return json.dumps(response, ensure_ascii=False)


def _gemini(body: dict[str, Any]) -> list[Message]:
    result: list[Message] = []
    system = _get(body, "systemInstruction", "system_instruction")
    if isinstance(system, dict):
        result.append(Message(role="system", content=text_of(system.get("parts"))))
    for content in body.get("contents") or ():
        texts: list[str] = []
        calls: list[ToolCall] = []
        for part in content.get("parts") or ():
            call = _get(part, "functionCall", "function_call")
            response = _get(part, "functionResponse", "function_response")
            if isinstance(call, dict):
                arguments = json.dumps(call.get("args") or {}, ensure_ascii=False)
                call_id = call.get("id") or f"call_{len(calls)}"
                calls.append(ToolCall.from_raw(call_id, call.get("name", ""), arguments))
            elif isinstance(response, dict):
                output = _responsetext_of(response.get("response"))
                call_id = response.get("id")
                name = response.get("name")
                result.append(Message(role="tool", content=output, tool_call_id=call_id, name=name))
            elif part.get("text") and not part.get("thought"):
                texts.append(str(part["text"]))
        role = "assistant" if content.get("role") == "model" else "user"
        if texts or calls:
            result.append(Message(role=role, content="".join(texts), tool_calls=tuple(calls)))
    return result


def tool_names(wire: Wire, body: Any) -> list[str]:
    """The names of the function tools a request declares, in order."""
    if not isinstance(body, dict):
        return []
    if wire == "openai-responses":
        return _responses_requests.tool_names(body)
    names: list[str] = []
    for tool in body.get("tools") or ():
        if wire == "openai":
            function = tool.get("function")
            if isinstance(function, dict):
                names.append(str(function.get("name")))
        elif wire == "anthropic":
            if "name" in tool:
                names.append(str(tool["name"]))
        else:
            for declaration in _get(tool, "functionDeclarations", "function_declarations") or ():
                names.append(str(declaration.get("name")))
    return names
