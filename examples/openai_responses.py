"""Stream from OpenAI's Responses API: reasoning summaries, a function tool, a continued conversation.

OPENAI_API_KEY=sk-...  python examples/openai_responses.py "Is it warm in Lisbon?"
OPENAI_API_KEY=sk-...  python examples/openai_responses.py "And in Oslo?" --continue-from resp_...
OPENAI_BASE_URL=http://127.0.0.1:8080/v1  python examples/openai_responses.py --model qwen2.5
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from mirastream.openai import OpenAIResponsesCallParams, OpenAIResponsesChunk, OpenAIResponsesPrompt


def get_weather(city: str) -> str:
    """The current weather in a city.

    Args:
        city: the city's name.
    """
    return f"{city}: 21 degrees, sunny"  # a stand-in for a real weather service


class Assistant(OpenAIResponsesPrompt):
    prompt_template = """
    SYSTEM: You answer in one sentence. Use get_weather for the weather.
    USER: {question}
    """
    question: str
    call_params = OpenAIResponsesCallParams(model="gpt-5-mini", tools=[get_weather])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", default="Is it warm in Lisbon?")
    parser.add_argument("--model", help="model name (default: gpt-5-mini)")
    parser.add_argument("--continue-from", help="the id of an earlier response to continue")
    parser.add_argument("--summary", action="store_true", help="stream the reasoning summary")
    args = parser.parse_args()
    if not (os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")):
        sys.exit("Set OPENAI_API_KEY, or OPENAI_BASE_URL for a server that speaks the Responses API.")

    overrides: dict[str, Any] = {}
    if args.model:
        overrides["model"] = args.model
    if args.continue_from:
        overrides["previous_response_id"] = args.continue_from
    if args.summary:
        overrides["reasoning"] = {"summary": "auto"}
    stream = Assistant(question=args.question).stream(**overrides)
    for chunk in stream:
        if isinstance(chunk, OpenAIResponsesChunk):  # the tool loop's events pass by
            print(chunk.thinking, end="", file=sys.stderr, flush=True)
            print(chunk.content, end="", flush=True)
    response = stream.response
    calls = [call.name for step in response.steps for call in step.response.tool_calls]
    print(f"\n\n[{response.model}] finish: {response.finish_reason}, tools called: {calls}")
    print(f"continue with: --continue-from {response.id}")


if __name__ == "__main__":
    main()
