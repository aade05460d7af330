"""Stream two answers concurrently with asyncio, from OpenAI, a compatible server or the local model.

OPENAI_API_KEY=sk-...  python examples/openai_stream_async.py
OPENAI_BASE_URL=http://127.0.0.1:8080/v1  python examples/openai_stream_async.py --model qwen2.5
python examples/openai_stream_async.py    # no key: the local model (one request at a time)
"""

from __future__ import annotations

import argparse
import asyncio

from _setup import prompt_class

from mirastream.openai import OpenAICallParams

Prompt = prompt_class("openai")  # OpenAIPrompt, or LocalPrompt (an OpenAIPrompt) without a key


class RecipeRecommender(Prompt):
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
    tokens = response.usage.output_tokens if response.usage else "?"
    return f"{ingredient}: {response.text} ({tokens} tokens)"


async def main(model: str | None) -> None:
    for line in await asyncio.gather(recommend("pears", model), recommend("plums", model)):
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model name (default: gpt-4o-mini)")
    asyncio.run(main(parser.parse_args().model))
