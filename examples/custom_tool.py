"""A tool of your own: it reports its progress in the stream while it works.

OPENAI_API_KEY=sk-...  python examples/custom_tool.py "How many primes are below 50000?"
python examples/custom_tool.py --async    # the same with stream_async(); no key: the local model

`PrimeCounter` implements mirastream's `Tool` protocol through `BaseTool`: `run` (and `arun`
for async streams) yields a `ToolEvent` after each quarter of the work and ends with the
`ToolOutput` the model reads. Bad arguments raise `ToolArgumentsError`, which goes back to
the model so that it can try again. Works with any provider (see _setup.py).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Iterator
from math import isqrt
from typing import Any

from _setup import prompt_class

from mirastream import ResponseChunk
from mirastream.events import Event, ToolEvent
from mirastream.messages import ToolCall
from mirastream.tools import BaseTool, ToolArgumentsError, ToolOutput

Prompt = prompt_class()  # OpenAIPrompt, AnthropicPrompt, GeminiPrompt or LocalPrompt

LIMIT = 2_000_000
PARTS = 4
ARGUMENTS = {  # the JSON schema of the tool's arguments
    "type": "object",
    "properties": {"below": {"type": "integer", "description": f"the limit, at most {LIMIT}"}},
    "required": ["below"],
}


def is_prime(number: int) -> bool:
    if number < 2:
        return False
    return all(number % divisor for divisor in range(2, isqrt(number) + 1))


def count_primes(numbers: range) -> int:
    return sum(1 for number in numbers if is_prime(number))


class PrimeCounter(BaseTool):
    """Counts the primes below a number, a quarter of the range at a time."""

    name = "count_primes"
    description = "Count the prime numbers below a limit (exactly, by testing each number)."
    parameters = ARGUMENTS

    def _limit(self, call: ToolCall) -> int:
        below = (call.arguments or {}).get("below")
        if not isinstance(below, int) or isinstance(below, bool) or not 0 < below <= LIMIT:
            raise ToolArgumentsError(f"`below` must be an integer from 1 to {LIMIT}.", tool_name=self.name)
        return below

    def _parts(self, below: int) -> Iterator[tuple[int, range]]:
        size = -(-below // PARTS)  # rounded up
        for part in range(PARTS):
            yield part + 1, range(part * size, min((part + 1) * size, below))

    def run(self, call: ToolCall) -> Iterator[Event | ToolOutput]:
        below = self._limit(call)
        found = 0
        for part, numbers in self._parts(below):
            found += count_primes(numbers)
            yield ToolEvent(self.name, f"[{part}/{PARTS}: {found} primes so far]\n", data=found)
        yield ToolOutput(f"There are {found} primes below {below}.")

    async def arun(self, call: ToolCall) -> AsyncIterator[Event | ToolOutput]:
        below = self._limit(call)
        found = 0
        for part, numbers in self._parts(below):
            # The counting is CPU work: a thread keeps the event loop free meanwhile.
            found += await asyncio.to_thread(count_primes, numbers)
            yield ToolEvent(self.name, f"[{part}/{PARTS}: {found} primes so far]\n", data=found)
        yield ToolOutput(f"There are {found} primes below {below}.")


class Mathematician(Prompt):
    prompt_template = "USER: {question}"
    question: str
    call_params = Prompt.call_params.with_overrides(tools=[PrimeCounter()])


class Printer:
    """Prints the model's text as it streams, and the tool's progress on lines of their own."""

    def __init__(self) -> None:
        self.mid_line = False  # whether the model's text left the cursor in the middle of a line

    def show(self, item: Any) -> None:
        if isinstance(item, ResponseChunk):
            if item.content:
                print(item.content, end="", flush=True)
                self.mid_line = not item.content.endswith("\n")
        elif item.item_type == "tool":
            if self.mid_line:
                print()
                self.mid_line = False
            print(item.content, end="", flush=True)


async def stream_async(question: str, overrides: dict[str, Any]) -> None:
    printer = Printer()
    async with Mathematician(question=question).stream_async(**overrides) as stream:
        async for item in stream:
            printer.show(item)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", default="How many primes are there below 100000?")
    parser.add_argument("--model", help="model name (default: the provider's)")
    parser.add_argument("--async", dest="use_async", action="store_true", help="use stream_async()")
    args = parser.parse_args()

    overrides = {"model": args.model} if args.model else {}
    if args.use_async:
        asyncio.run(stream_async(args.question, overrides))
    else:
        printer = Printer()
        with Mathematician(question=args.question).stream(**overrides) as stream:
            for item in stream:
                printer.show(item)
    print()


if __name__ == "__main__":
    main()
