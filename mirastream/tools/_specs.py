"""The `tools` call parameter: plain provider dicts, or tools mirastream runs itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def normalise_tools(items: Sequence[Any]) -> list[Any]:
    """Keep provider dicts and `Tool`s; turn functions and pydantic models into `FunctionTool`s."""
    from ._protocol import Tool
    from .function import as_tool

    tools: list[Any] = []
    for item in items:
        if isinstance(item, (dict, Tool)) and not isinstance(item, type):
            tools.append(item)
        else:
            tools.append(as_tool(item))
    names = [tool.name for tool in tools if not isinstance(tool, dict)]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"two tools are named {', '.join(duplicates)}; tool names must be unique")
    return tools


def executable_tools(tools: Sequence[Any] | None) -> list[Any]:
    """The tools mirastream runs itself (everything but plain provider dicts)."""
    return [tool for tool in tools or () if not isinstance(tool, dict)]


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
