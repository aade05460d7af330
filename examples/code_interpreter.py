"""Let the model write and run code; its code, the output and its answer stream to the terminal.

    OPENAI_API_KEY=sk-...  python examples/code_interpreter.py "What is 34/24? Compute it."

The code runs in a child process (a Jupyter kernel for Python), in a temporary folder,
without your API keys in its environment. Pass --yes to run code without asking.
"""

from __future__ import annotations

import argparse

from _setup import require_openai_settings

from mirastream.events import ConfirmationEvent
from mirastream.openai import OpenAICallParams, OpenAIPrompt
from mirastream.tools import CodeInterpreter, Limits

interpreter = CodeInterpreter(confirm="auto", limits=Limits(timeout=30))


class Analyst(OpenAIPrompt):
    prompt_template = """
    SYSTEM: You can run code with the execute tool. Use it to compute things exactly.
    USER: {question}
    """
    question: str
    call_params = OpenAICallParams(model="gpt-4o-mini", tools=[interpreter])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", default="What is 34/24? Compute it.")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    require_openai_settings()

    overrides = {"model": args.model} if args.model else {}
    try:
        for event in Analyst(question=args.question).stream(**overrides):
            if isinstance(event, ConfirmationEvent):
                print("[running it]")
            print(event.content, end="", flush=True)
        print()
    finally:
        interpreter.close()


if __name__ == "__main__":
    main()
