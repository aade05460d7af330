"""The `tools` call parameter: plain provider dicts, or tools mirastream runs itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class HostedTool:
    """A tool the provider runs on its own servers (`HostedCodeInterpreter`, ...).

    mirastream never runs it: each encoder sends `definition(api)`, the provider's own tool
    definition, as it would send a provider dict. Unlike a provider dict, mirastream knows
    what it is, and turns what the provider streams about it into the stream's events.
    """

    name: str = ""
    runs_code: bool = False  # its executions stream as code and console events

    def definition(self, api: str) -> dict[str, Any]:
        """The tool's definition for `api` (`openai` for Chat Completions, `openai_responses`,
        `anthropic`, `gemini`); raises `ConfigurationError` where the API has none."""
        raise NotImplementedError


def normalise_tools(items: Sequence[Any]) -> list[Any]:
    """Keep provider dicts, hosted tools and `Tool`s; functions and pydantic models become
    `FunctionTool`s."""
    from ._protocol import Tool
    from .function import as_tool

    tools: list[Any] = []
    for item in items:
        if isinstance(item, (dict, Tool, HostedTool)) and not isinstance(item, type):
            tools.append(item)
        else:
            tools.append(as_tool(item))
    names = [tool.name for tool in tools if not isinstance(tool, (dict, HostedTool))]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"two tools are named {', '.join(duplicates)}; tool names must be unique")
    return tools


def executable_tools(tools: Sequence[Any] | None) -> list[Any]:
    """The tools mirastream runs itself (everything but provider dicts and hosted tools)."""
    return [tool for tool in tools or () if not isinstance(tool, (dict, HostedTool))]


def watches_hosted_code(tools: Sequence[Any] | None) -> bool:
    """Whether `tools` hold a hosted tool whose executions stream as code and console events."""
    return any(isinstance(tool, HostedTool) and tool.runs_code for tool in tools or ())


def encode_hosted(tool: Any, api: str) -> dict[str, Any] | None:
    """A hosted tool's definition for `api`, or `None` when `tool` is no hosted tool."""
    return tool.definition(api) if isinstance(tool, HostedTool) else None


def declared_names(tools: Sequence[Any] | None) -> list[str]:
    """The names of the tools given as plain provider dicts (any provider's format)."""
    names: list[str] = []
    for tool in tools or ():
        if not isinstance(tool, dict):
            continue
        for entry in (tool, tool.get("function") or {}, *(tool.get("function_declarations") or ())):
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                names.append(entry["name"])
    return names
