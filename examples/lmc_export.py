"""Export a code-interpreter conversation as Open Interpreter LMC messages (JSON lines).

    OPENAI_API_KEY=sk-...  python examples/lmc_export.py "What is 2**100?" > transcript.jsonl

Every item the stream yields (model text, code, confirmation, console output, images,
start/end markers) becomes one LMC dict, as Open Interpreter-style UIs consume them.
"""

from __future__ import annotations

import argparse
import json

from _setup import require_openai_settings

from mirastream.openai import OpenAICallParams, OpenAIPrompt
from mirastream.tools import CodeInterpreter

interpreter = CodeInterpreter(confirm="auto")


class Analyst(OpenAIPrompt):
    prompt_template = "USER: {question}"
    question: str
    call_params = OpenAICallParams(model="gpt-4o-mini", tools=[interpreter])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", default="What is 2**100? Compute it.")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    require_openai_settings()

    overrides = {"model": args.model} if args.model else {}
    try:
        for item in Analyst(question=args.question).stream(**overrides):
            print(json.dumps(item.to_lmc()))
    finally:
        interpreter.close()


if __name__ == "__main__":
    main()
