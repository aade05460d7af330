"""Export a code-interpreter conversation as Open Interpreter LMC messages (JSON lines).

OPENAI_API_KEY=sk-...  python examples/lmc_export.py "What is 2**100?" > transcript.jsonl
python examples/lmc_export.py > transcript.jsonl    # no key: the local model

Every item the stream yields (model text, code, confirmation, console output, images,
start/end markers) becomes one LMC dict, as Open Interpreter-style UIs consume them.
"""

from __future__ import annotations

import argparse
import json

from _setup import prompt_class

from mirastream.tools import CodeInterpreter

Prompt = prompt_class()  # OpenAIPrompt, AnthropicPrompt, GeminiPrompt or LocalPrompt
interpreter = CodeInterpreter(confirm="auto")


class Analyst(Prompt):
    prompt_template = "USER: {question}"
    question: str
    call_params = Prompt.call_params.with_overrides(tools=[interpreter])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", default="What is 2**100? Compute it.")
    parser.add_argument("--model", help="model name (default: the provider's)")
    args = parser.parse_args()

    overrides = {"model": args.model} if args.model else {}
    try:
        for item in Analyst(question=args.question).stream(**overrides):
            message = item.to_lmc()
            if message.get("content") != "":  # skip chunks without text (the one with usage, say)
                print(json.dumps(message))
    finally:
        interpreter.close()


if __name__ == "__main__":
    main()
