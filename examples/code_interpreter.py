"""Let the model write and run code; its code, the output and its answer stream to the terminal.

OPENAI_API_KEY=sk-...  python examples/code_interpreter.py "What is 34/24? Compute it."
python examples/code_interpreter.py    # no key: the local model

The code runs in a child process (a Jupyter kernel for Python, bash for shell), in a
temporary folder, without your API keys in its environment, and without asking first:
see confirm_before_running.py for a version that asks.
"""

from __future__ import annotations

import argparse

from _setup import prompt_class

from mirastream.tools import CodeInterpreter, Limits

Prompt = prompt_class()  # OpenAIPrompt, AnthropicPrompt, GeminiPrompt or LocalPrompt
interpreter = CodeInterpreter(confirm="auto", limits=Limits(timeout=30))


class Analyst(Prompt):
    prompt_template = """
    SYSTEM: You can run code with the execute tool. Use it to compute things exactly.
    USER: {question}
    """
    question: str
    call_params = Prompt.call_params.with_overrides(tools=[interpreter])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", default="What is 34/24? Compute it.")
    parser.add_argument("--model", help="model name (default: the provider's)")
    args = parser.parse_args()

    overrides = {"model": args.model} if args.model else {}
    try:
        for event in Analyst(question=args.question).stream(**overrides):
            print(event.content, end="", flush=True)  # text, fenced code, console output
        print()
    finally:
        interpreter.close()  # ends the kernel and the shell


if __name__ == "__main__":
    main()
