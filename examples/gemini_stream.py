"""Stream a recipe recommendation from Gemini, thoughts included.

    GEMINI_API_KEY=...  python examples/gemini_stream.py
    GOOGLE_API_KEY=...  python examples/gemini_stream.py pears --model gemini-2.5-pro
    GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:8080  python examples/gemini_stream.py

Without a key or a base URL it explains what to set and exits.
"""

from __future__ import annotations

import argparse
import os
import sys

from mirastream.gemini import GeminiCallParams, GeminiPrompt


class RecipeRecommender(GeminiPrompt):
    prompt_template = """
    SYSTEM: You are a chef who answers briefly.
    USER: Recommend recipes that use {ingredient} as an ingredient
    """
    ingredient: str
    call_params = GeminiCallParams(model="gemini-2.5-flash", temperature=0.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ingredient", nargs="?", default="apples")
    parser.add_argument("--model", default=None, help="model name (default: gemini-2.5-flash)")
    parser.add_argument("--thoughts", action="store_true", help="show the model's thought summaries")
    args = parser.parse_args()

    settings = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL")
    if not any(os.environ.get(name) for name in settings):
        print(
            "This example needs a model to talk to, and none is configured:\n"
            "  - set GEMINI_API_KEY (or GOOGLE_API_KEY) to stream from Google's Gemini API\n"
            "    (get a key at https://aistudio.google.com/apikey), or\n"
            "  - set GOOGLE_GEMINI_BASE_URL to a server that speaks the Gemini API (a proxy or\n"
            "    gateway); one on this machine needs no key.",
            file=sys.stderr,
        )
        return 2

    overrides: dict[str, object] = {"model": args.model} if args.model else {}
    if args.thoughts:
        overrides["thinking_config"] = {"include_thoughts": True}
    stream = RecipeRecommender(ingredient=args.ingredient).stream(**overrides)
    thinking = False
    for chunk in stream:
        if chunk.thinking:
            print(("[thinking] " if not thinking else "") + chunk.thinking, end="", flush=True)
            thinking = True
        if chunk.content:
            print(("\n\n" if thinking else "") + chunk.content, end="", flush=True)
            thinking = False
    response = stream.response
    print(f"\n\n[{response.model}] finish: {response.finish_reason}, usage: {response.usage}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
