"""Prompt classes for every wire format, and a consumer that reads a whole stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mirastream import Response
from mirastream.errors import MirastreamError

WIRES = ["openai", "anthropic", "gemini", "gemini-legacy"]
MODES = ["sync", "async"]
TEMPLATE = """
SYSTEM: You are a chef who answers briefly.
USER: Recommend recipes that use {ingredient} as an ingredient
"""
T = TypeVar("T")


def prompt_class(wire: str, tools: list[Any] | None = None) -> type[Any]:
    """A prompt class that streams through `wire`'s SDK, with `tools` if given."""
    if wire == "openai":
        from mirastream.openai import OpenAICallParams, OpenAIPrompt

        class OpenAIRecipes(OpenAIPrompt):
            prompt_template = TEMPLATE
            ingredient: str
            call_params = OpenAICallParams(model="gpt-4o-mini", tools=tools)

        return OpenAIRecipes
    if wire == "anthropic":
        from mirastream.anthropic import AnthropicCallParams, AnthropicPrompt

        class AnthropicRecipes(AnthropicPrompt):
            prompt_template = TEMPLATE
            ingredient: str
            call_params = AnthropicCallParams(model="claude-sonnet-4-6", max_tokens=256, tools=tools)

        return AnthropicRecipes
    from mirastream.gemini import GeminiCallParams, GeminiLegacyPrompt, GeminiPrompt

    base: Any = GeminiLegacyPrompt if wire == "gemini-legacy" else GeminiPrompt

    class GeminiRecipes(base):  # type: ignore[misc]
        prompt_template = TEMPLATE
        ingredient: str
        call_params = GeminiCallParams(model="gemini-2.5-flash", tools=tools)

    return GeminiRecipes


@dataclass
class Outcome:
    """A stream read to its end (or to its error)."""

    chunks: list[Any]
    response: Response
    error: MirastreamError | None


def read(prompt: Any, **options: Any) -> Outcome:
    """Read `prompt.stream(**options)` to the end."""
    chunks: list[Any] = []
    stream = prompt.stream(**options)
    try:
        chunks.extend(stream)
    except MirastreamError as error:
        return Outcome(chunks, stream.response, error)
    return Outcome(chunks, stream.response, None)


async def read_async(prompt: Any, **options: Any) -> Outcome:
    """Read `prompt.stream_async(**options)` to the end."""
    chunks: list[Any] = []
    async with prompt.stream_async(**options) as stream:
        try:
            async for chunk in stream:
                chunks.append(chunk)
        except MirastreamError as error:
            return Outcome(chunks, stream.response, error)
    return Outcome(chunks, stream.response, None)


def in_mode(mode: str, make: Callable[[], list[Any]], **options: Any) -> list[Outcome]:
    """Read each prompt `make()` returns, in order, sync or async (one event loop for all)."""
    if mode == "sync":
        return [read(prompt, **options) for prompt in make()]

    async def main() -> list[Outcome]:
        return [await read_async(prompt, **options) for prompt in make()]

    return asyncio.run(main())


def run_async(main: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(main())  # type: ignore[arg-type]
