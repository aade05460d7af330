"""Look under the common chunk fields at the provider SDK's own objects: `.chunk`, `.choice`, `.delta`.

OPENAI_API_KEY=sk-...         python examples/native_chunks.py
ANTHROPIC_API_KEY=sk-ant-...  python examples/native_chunks.py
GEMINI_API_KEY=...            python examples/native_chunks.py
python examples/native_chunks.py    # no key: the local model (OpenAI's objects)

`.content`, `.finish_reason` and `.usage` look the same for every provider; `.chunk` is
what the SDK itself yielded (a ChatCompletionChunk, a raw Anthropic stream event, a Gemini
GenerateContentResponse), `.choice` and `.delta` the parts of it that carry the answer.
"""

from __future__ import annotations

import argparse

from _setup import prompt_class

Prompt = prompt_class()  # OpenAIPrompt, AnthropicPrompt, GeminiPrompt or LocalPrompt


class Haiku(Prompt):
    prompt_template = "USER: Write a haiku about {topic}."
    topic: str


def name(value: object) -> str:
    return "-" if value is None else type(value).__name__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topic", nargs="?", default="rivers")
    parser.add_argument("--model", help="model name (default: the provider's)")
    parser.add_argument("--json", action="store_true", help="print each native chunk as the SDK's JSON")
    args = parser.parse_args()

    overrides = {"model": args.model} if args.model else {}
    if not args.json:
        print(f"{'.chunk':<28} {'.choice':<26} {'.delta':<18} .content")
    with Haiku(topic=args.topic).stream(**overrides) as stream:
        for chunk in stream:
            if args.json:  # the SDKs' objects are pydantic models
                print(chunk.chunk.model_dump_json(exclude_none=True))
                continue
            native, choice, delta = name(chunk.chunk), name(chunk.choice), name(chunk.delta)
            print(f"{native:<28} {choice:<26} {delta:<18} {chunk.content!r}")
    print(f"\n{stream.response.text}\n[{stream.response.provider}] usage: {stream.response.usage}")


if __name__ == "__main__":
    main()
