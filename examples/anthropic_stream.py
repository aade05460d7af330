"""Stream a recipe recommendation from Anthropic or any server that speaks the Messages API.

    ANTHROPIC_API_KEY=sk-ant-...  python examples/anthropic_stream.py
    ANTHROPIC_BASE_URL=http://127.0.0.1:8080  python examples/anthropic_stream.py --model local
    ANTHROPIC_API_KEY=sk-ant-...  python examples/anthropic_stream.py --thinking 2048

Without a key or a base URL it explains what to set and exits.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from mirastream.anthropic import AnthropicCallParams, AnthropicPrompt


class RecipeRecommender(AnthropicPrompt):
    prompt_template = """
    SYSTEM: You are a chef who answers briefly.
    USER: Recommend recipes that use {ingredient} as an ingredient
    """
    ingredient: str
    call_params = AnthropicCallParams(model="claude-sonnet-4-6", max_tokens=1024)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ingredient", nargs="?", default="apples")
    parser.add_argument("--model", default=None, help="model name (default: claude-sonnet-4-6)")
    parser.add_argument(
        "--thinking",
        type=int,
        default=None,
        metavar="TOKENS",
        help="enable extended thinking with this budget",
    )
    args = parser.parse_args()

    if not os.environ.get("ANTHROPIC_API_KEY") and not os.environ.get("ANTHROPIC_BASE_URL"):
        print(
            "This example needs a model to talk to, and none is configured:\n"
            "  - set ANTHROPIC_API_KEY to stream from Anthropic, or\n"
            "  - set ANTHROPIC_BASE_URL to a server that speaks the Messages API (llama.cpp's\n"
            "    llama-server serves /v1/messages, e.g. http://127.0.0.1:8080) and pass --model.",
            file=sys.stderr,
        )
        return 2

    overrides: dict[str, Any] = {"model": args.model} if args.model else {}
    if args.thinking:
        overrides["thinking"] = {"type": "enabled", "budget_tokens": args.thinking}
        overrides["max_tokens"] = args.thinking + 1024
    with RecipeRecommender(ingredient=args.ingredient).stream(**overrides) as stream:
        for chunk in stream:
            if chunk.thinking:
                print(chunk.thinking, end="", file=sys.stderr, flush=True)
            print(chunk.content, end="", flush=True)
    response = stream.response
    print(f"\n\n[{response.model}] finish: {response.finish_reason}, usage: {response.usage}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
