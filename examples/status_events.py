"""Follow a tool run step by step with status events: `stream.with_status()`.

OPENAI_API_KEY=sk-...  python examples/status_events.py "Convert 30 EUR to USD and to JPY."
python examples/status_events.py    # no key: the local model

Status events (`run.created`, `step.started`, `step.completed`, `run.completed`) come only
when you ask for them, between the model's text chunks; here they make a timed log of the run
around the streamed answer.
"""

from __future__ import annotations

import argparse
import time

from _setup import prompt_class

from mirastream import ResponseChunk

Prompt = prompt_class()  # OpenAIPrompt, AnthropicPrompt, GeminiPrompt or LocalPrompt

RATES = {"USD": 1.08, "JPY": 162.5, "GBP": 0.85}


def convert(amount: float, currency: str) -> str:
    """Convert an amount of euros to another currency.

    Args:
        amount: the amount in EUR.
        currency: the ISO code of the target currency, e.g. "USD".
    """
    rate = RATES.get(currency.upper())
    if rate is None:
        raise ValueError(f"no rate for {currency}; known: {', '.join(RATES)}")
    return f"{amount:g} EUR = {amount * rate:.2f} {currency.upper()}"


class Exchange(Prompt):
    prompt_template = "USER: {question}"
    question: str
    call_params = Prompt.call_params.with_overrides(tools=[convert])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", default="How much is 30 EUR in USD?")
    parser.add_argument("--model", help="model name (default: the provider's)")
    args = parser.parse_args()

    overrides = {"model": args.model} if args.model else {}
    start = time.perf_counter()
    mid_line = False  # whether the model's text left the cursor in the middle of a line
    for item in Exchange(question=args.question).stream(**overrides).with_status():
        if isinstance(item, ResponseChunk):
            if item.content:
                print(item.content, end="", flush=True)
                mid_line = not item.content.endswith("\n")
        elif item.type == "status":
            detail = f" {item.call.name}({item.call.arguments})" if item.call is not None else ""
            if item.result is not None:
                detail += f" -> {item.result}"
            if mid_line:
                print()
                mid_line = False
            print(f"[{time.perf_counter() - start:6.2f} s] {item.kind}{detail}")


if __name__ == "__main__":
    main()
