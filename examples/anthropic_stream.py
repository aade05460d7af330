"""Stream a recipe recommendation from Anthropic, a server that speaks its Messages API, or the local model.

ANTHROPIC_API_KEY=sk-ant-...  python examples/anthropic_stream.py
ANTHROPIC_API_KEY=sk-ant-...  python examples/anthropic_stream.py --thinking 2048
ANTHROPIC_BASE_URL=http://127.0.0.1:8080  python examples/anthropic_stream.py --model local
python examples/anthropic_stream.py pears    # no key: the local model, through the Messages API
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from _setup import prompt_class

from mirastream.anthropic import AnthropicCallParams

Prompt = prompt_class("anthropic")  # AnthropicPrompt, or LocalAnthropicPrompt without a key


class RecipeRecommender(Prompt):
    prompt_template = """
    SYSTEM: You are a chef who answers briefly.
    USER: Recommend recipes that use {ingredient} as an ingredient
    """
    ingredient: str
    call_params = AnthropicCallParams(model="claude-sonnet-4-6", max_tokens=1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ingredient", nargs="?", default="apples")
    parser.add_argument("--model", help="model name (default: claude-sonnet-4-6)")
    parser.add_argument("--thinking", type=int, metavar="TOKENS", help="extended thinking with this budget")
    args = parser.parse_args()

    overrides: dict[str, Any] = {"model": args.model} if args.model else {}
    if args.thinking:
        overrides["thinking"] = {"type": "enabled", "budget_tokens": args.thinking}
        overrides["max_tokens"] = args.thinking + 1024
    with RecipeRecommender(ingredient=args.ingredient).stream(**overrides) as stream:
        for chunk in stream:
            if chunk.thinking:  # the model's reasoning, kept apart from its answer
                print(chunk.thinking, end="", file=sys.stderr, flush=True)
            print(chunk.content, end="", flush=True)
    response = stream.response
    print(f"\n\n[{response.model}] finish: {response.finish_reason}, usage: {response.usage}")


if __name__ == "__main__":
    main()
