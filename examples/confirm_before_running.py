"""Ask the user before the model's code runs; a "no" is reported back to the model (asyncio).

OPENAI_API_KEY=sk-...  python examples/confirm_before_running.py "List the files here."
python examples/confirm_before_running.py    # no key: the local model
"""

from __future__ import annotations

import argparse
import asyncio

from _setup import prompt_class

from mirastream.events import ConfirmationEvent
from mirastream.tools import CodeInterpreter

Prompt = prompt_class()  # OpenAIPrompt, AnthropicPrompt, GeminiPrompt or LocalPrompt
interpreter = CodeInterpreter()  # confirm="ask": the consumer decides on each ConfirmationEvent


class Helper(Prompt):
    prompt_template = "USER: {request}"
    request: str
    call_params = Prompt.call_params.with_overrides(tools=[interpreter])


async def main(request: str, model: str | None) -> None:
    overrides = {"model": model} if model else {}
    async with Helper(request=request).stream_async(**overrides) as stream:
        async for event in stream:
            print(event.content, end="", flush=True)
            if isinstance(event, ConfirmationEvent):
                answer = await asyncio.to_thread(input, f"\nRun this {event.language} code? [y/N] ")
                event.approve() if answer.strip().lower() in ("y", "yes") else event.deny()
    print()
    # Async sessions end with their event loop; ending them here is tidier.
    await interpreter.adiscard_session("python")
    await interpreter.adiscard_session("shell")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("request", nargs="?", default="How many files are in the current folder?")
    parser.add_argument("--model", help="model name (default: the provider's)")
    args = parser.parse_args()
    asyncio.run(main(args.request, args.model))
