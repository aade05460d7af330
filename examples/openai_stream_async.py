"""Stream two answers concurrently with asyncio, from OpenAI or any compatible server.

OPENAI_API_KEY=sk-...  python examples/openai_stream_async.py
OPENAI_BASE_URL=http://127.0.0.1:8080/v1  python examples/openai_stream_async.py --model qwen2.5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from mirastream.openai import OpenAICallParams, OpenAIPrompt


class RecipeRecommender(OpenAIPrompt):
    prompt_template = """
    SYSTEM: You are a chef who answers in one sentence.
    USER: Recommend a recipe that uses {ingredient} as an ingredient
    """
    ingredient: str
    call_params = OpenAICallParams(model="gpt-4o-mini", temperature=0.3)


async def recommend(ingredient: str, model: str | None) -> str:
    overrides = {"model": model} if model else {}
    async with RecipeRecommender(ingredient=ingredient).stream_async(**overrides) as stream:
        async for chunk in stream:
            print(f"[{ingredient}] {chunk.content!r}")
    response = stream.response
    return f"{ingredient}: {response.text} ({response.usage.output_tokens if response.usage else '?'} tokens)"


async def main(model: str | None) -> None:
    for line in await asyncio.gather(recommend("pears", model), recommend("plums", model)):
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    if not os.environ.get("OPENAI_API_KEY") and not os.environ.get("OPENAI_BASE_URL"):
        sys.exit(
            "Set OPENAI_API_KEY, or OPENAI_BASE_URL for an OpenAI-compatible server (see openai_stream.py)."
        )
    asyncio.run(main(args.model))
