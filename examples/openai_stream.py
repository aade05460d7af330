"""Stream a recipe recommendation from OpenAI or any OpenAI-compatible server.

    OPENAI_API_KEY=sk-...  python examples/openai_stream.py
    OPENAI_BASE_URL=http://127.0.0.1:8080/v1  python examples/openai_stream.py --model qwen2.5

Without a key or a base URL it explains what to set and exits.
"""

from __future__ import annotations

import argparse
import os
import sys

from mirastream.openai import OpenAICallParams, OpenAIPrompt


class RecipeRecommender(OpenAIPrompt):
    prompt_template = """
    SYSTEM: You are a chef who answers briefly.
    USER: Recommend recipes that use {ingredient} as an ingredient
    """
    ingredient: str
    call_params = OpenAICallParams(model="gpt-4o-mini", temperature=0.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ingredient", nargs="?", default="apples")
    parser.add_argument("--model", default=None, help="model name (default: gpt-4o-mini)")
    args = parser.parse_args()

    if not os.environ.get("OPENAI_API_KEY") and not os.environ.get("OPENAI_BASE_URL"):
        print(
            "This example needs a model to talk to, and none is configured:\n"
            "  - set OPENAI_API_KEY to stream from OpenAI, or\n"
            "  - set OPENAI_BASE_URL to any OpenAI-compatible server (vLLM, llama.cpp, Ollama,\n"
            "    DashScope's compatible mode, ...) and pass --model.\n"
            "(An offline local model that needs neither is on the roadmap.)",
            file=sys.stderr,
        )
        return 2

    overrides = {"model": args.model} if args.model else {}
    stream = RecipeRecommender(ingredient=args.ingredient).stream(**overrides)
    for chunk in stream:
        print(chunk.content, end="", flush=True)
    response = stream.response
    print(f"\n\n[{response.model}] finish: {response.finish_reason}, usage: {response.usage}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
