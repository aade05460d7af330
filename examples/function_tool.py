"""Give the model a Python function as a tool; mirastream runs it and streams the answer.

OPENAI_API_KEY=sk-...  python examples/function_tool.py "Weather in Paris and Oslo?"
python examples/function_tool.py    # no key: the local model

Works with any provider: the key you have set picks it (see _setup.py).
"""

from __future__ import annotations

import argparse
from typing import Literal

from _setup import prompt_class

from mirastream import ResponseChunk

Prompt = prompt_class()  # OpenAIPrompt, AnthropicPrompt, GeminiPrompt or LocalPrompt


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, object]:
    """Current weather for a city.

    Args:
        city: the city's name, e.g. "Paris".
        unit: the temperature unit.
    """
    temperature = {"paris": 21, "oslo": -3}.get(city.lower(), 15)
    if unit == "fahrenheit":
        temperature = round(temperature * 9 / 5 + 32)
    return {"city": city, "temperature": temperature, "unit": unit}


class WeatherAssistant(Prompt):
    prompt_template = "USER: {question}"
    question: str
    call_params = Prompt.call_params.with_overrides(tools=[get_weather])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", default="What is the weather in Paris?")
    parser.add_argument("--model", help="model name (default: the provider's)")
    args = parser.parse_args()

    overrides = {"model": args.model} if args.model else {}
    stream = WeatherAssistant(question=args.question).stream(**overrides).with_status()
    for item in stream:
        if isinstance(item, ResponseChunk):
            print(item.content, end="", flush=True)
        elif item.type == "status" and item.format == "step.completed":
            print(f"[{item.call.name}({item.call.arguments}) -> {item.result}]")
    print()


if __name__ == "__main__":
    main()
