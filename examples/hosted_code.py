"""Let the provider run the model's code (hosted code execution), streamed like local code.

OPENAI_API_KEY=sk-...     python examples/hosted_code.py "What is the 30th Fibonacci number?"
ANTHROPIC_API_KEY=sk-...  python examples/hosted_code.py
GEMINI_API_KEY=...        python examples/hosted_code.py

The code runs in the provider's sandbox, not on this machine: nothing asks for confirmation.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from mirastream.events import Event, MarkerEvent
from mirastream.tools import HostedCodeInterpreter

# The first provider configured wins: its key, or a base URL (a proxy, a test server).
SETTINGS = {
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
    "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL"),
}
QUESTION = "USER: {question} Run code to check your answer."


def prompt_class(provider: str) -> type[Any]:
    """A prompt class of `provider` that offers its hosted code execution."""
    tools = [HostedCodeInterpreter()]
    if provider == "openai":  # hosted code needs the Responses API (Chat Completions has none)
        from mirastream.openai import OpenAIResponsesCallParams, OpenAIResponsesPrompt

        class OpenAIAnalyst(OpenAIResponsesPrompt):
            prompt_template = QUESTION
            question: str
            call_params = OpenAIResponsesCallParams(model="gpt-5-mini", tools=tools)

        return OpenAIAnalyst
    if provider == "anthropic":
        from mirastream.anthropic import AnthropicCallParams, AnthropicPrompt

        class AnthropicAnalyst(AnthropicPrompt):
            prompt_template = QUESTION
            question: str
            call_params = AnthropicCallParams(model="claude-sonnet-4-6", max_tokens=2048, tools=tools)

        return AnthropicAnalyst
    from mirastream.gemini import GeminiCallParams, GeminiPrompt

    class GeminiAnalyst(GeminiPrompt):
        prompt_template = QUESTION
        question: str
        call_params = GeminiCallParams(model="gemini-2.5-flash", tools=tools)

    return GeminiAnalyst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", default="What is 34 / 24, to three decimals?")
    args = parser.parse_args()
    provider = next((name for name, names in SETTINGS.items() if any(map(os.environ.get, names))), None)
    if provider is None:
        sys.exit("Set OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY: the provider runs the code.")

    executions = 0
    stream = prompt_class(provider)(question=args.question).stream()
    for item in stream:
        # The same events as local code: the code fenced, then its output.
        print(item.content, end="", flush=True)
        if isinstance(item, MarkerEvent) and item.type == "console" and item.start:
            print(f"[ran on {provider}'s servers]")
        if isinstance(item, Event) and item.type == "console" and item.end and item.provider_executed:
            executions += 1
    print(f"\n\n[{stream.response.model}] {executions} execution(s) on {provider}'s servers")


if __name__ == "__main__":
    main()
