"""Reading a Responses API request (`POST /v1/responses`): its messages, tools and faults.

The server answers a request the real API would refuse with the API's HTTP 400 message, so
a test sees a client that sends a broken tool loop fail as it would against OpenAI.
"""

from __future__ import annotations

from typing import Any

from ..messages import Message, ToolCall


def text_of(content: Any) -> str:
    """The text of a string content or of a list of text parts, blocks or `input_text` items."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}


def _items(body: dict[str, Any]) -> list[Any]:
    items = body.get("input")
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    return items if isinstance(items, list) else []


def messages(body: dict[str, Any]) -> list[Message]:
    """The conversation of a Responses request as `Message`s: `instructions` first.

    An assistant message followed by `function_call` items reads as one assistant message
    with those calls, as the other wire formats read; each `function_call_output` is a
    tool message named after the call it answers.
    """
    result: list[Message] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        result.append(Message(role="system", content=instructions))
    names: dict[str, str] = {}
    open_turn = False  # the last message is an assistant turn that calls may join
    for item in _items(body):
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "function_call":
            call = ToolCall.from_raw(
                str(item.get("call_id", "")), str(item.get("name", "")), str(item.get("arguments", ""))
            )
            names[call.id] = call.name
            if open_turn:
                last = result[-1]
                result[-1] = last.model_copy(update={"tool_calls": (*last.tool_calls, call)})
            else:
                result.append(Message(role="assistant", tool_calls=(call,)))
            open_turn = True
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            output = text_of(item.get("output"))
            name = names.get(call_id) if isinstance(call_id, str) else None
            result.append(Message(role="tool", content=output, tool_call_id=call_id, name=name))
            open_turn = False
        elif kind == "message":
            role = _ROLES.get(str(item.get("role")))
            if role is not None:
                result.append(Message(role=role, content=text_of(item.get("content"))))
            open_turn = role == "assistant"
    return result


def tool_names(body: dict[str, Any]) -> list[str]:
    """The names of the function tools the request declares, in order."""
    return [
        str(tool.get("name"))
        for tool in body.get("tools") or ()
        if isinstance(tool, dict) and tool.get("type") == "function"
    ]


def rejection(body: dict[str, Any]) -> str | None:
    """Why the Responses API would answer this request with HTTP 400, or `None`.

    Checked, with the API's own messages: every `function_call` item has its `call_id`,
    `name` and `arguments` as strings; every `function_call_output` answers the `call_id`
    of a `function_call` before it (unless the request continues a stored response with
    `previous_response_id`, whose calls the server cannot see); and every `function_call`
    in the input has its output.
    """
    calls: dict[str, int] = {}
    answered: set[str] = set()
    continues = isinstance(body.get("previous_response_id"), str)
    for position, item in enumerate(_items(body)):
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "function_call":
            for field in ("call_id", "name", "arguments"):
                if not isinstance(item.get(field), str):
                    return f"Missing required parameter: 'input[{position}].{field}'."
            calls[item["call_id"]] = position
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            if not isinstance(call_id, str):
                return f"Missing required parameter: 'input[{position}].call_id'."
            if not isinstance(item.get("output"), (str, list)):
                return f"Missing required parameter: 'input[{position}].output'."
            if call_id not in calls and not continues:
                return f"No tool call found for function call output with call_id {call_id}."
            answered.add(call_id)
    for call_id in calls:
        if call_id not in answered:
            return f"No tool output found for function call {call_id}."
    return None
