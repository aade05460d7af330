"""Stream a recipe recommendation from Gemini, thoughts included.

GEMINI_API_KEY=...  python examples/gemini_stream.py
GOOGLE_API_KEY=...  python examples/gemini_stream.py pears --model gemini-2.5-pro --thoughts
GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:8080  python examples/gemini_stream.py

The local model does not speak Gemini's API: without a key or a base URL, this example says
what to set and exits.
"""

from __future__ import annotations

import argparse
from typing import Any

from _setup import prompt_class

from mirastream.gemini import GeminiCallParams

Prompt = prompt_class("gemini")  # GeminiPrompt


class RecipeRecommender(Prompt):
    prompt_template = """
    SYSTEM: You are a chef who answers briefly.
    USER: Recommend recipes that use {ingredient} as an ingredient
    """
    ingredient: str
    call_params = GeminiCallParams(model="gemini-2.5-flash", temperature=0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ingredient", nargs="?", default="apples")
    parser.add_argument("--model", help="model name (default: gemini-2.5-flash)")
    parser.add_argument("--thoughts", action="store_true", help="show the model's thought summaries")
    args = parser.parse_args()

    overrides: dict[str, Any] = {"model": args.model} if args.model else {}
    if args.thoughts:
        overrides["thinking_config"] = {"include_thoughts": True}
    stream = RecipeRecommender(ingredient=args.ingredient).stream(**overrides)
    thinking = False
    for chunk in stream:
        if chunk.thinking:
            print(("" if thinking else "[thinking] ") + chunk.thinking, end="", flush=True)
            thinking = True
        if chunk.content:
            print(("\n\n" if thinking else "") + chunk.content, end="", flush=True)
            thinking = False
    response = stream.response
    print(f"\n\n[{response.model}] finish: {response.finish_reason}, usage: {response.usage}")


if __name__ == "__main__":
    main()
