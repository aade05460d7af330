"""Ask the user before the model's code runs; a "no" is reported back to the model.

OPENAI_API_KEY=sk-...  python examples/confirm_before_running.py "List the files here."
"""

from __future__ import annotations

import argparse
import asyncio

from _setup import require_openai_settings

from mirastream.events import ConfirmationEvent
from mirastream.openai import OpenAICallParams, OpenAIPrompt
from mirastream.tools import CodeInterpreter

interpreter = CodeInterpreter()  # confirm="ask": the consumer decides on each ConfirmationEvent


class Helper(OpenAIPrompt):
    prompt_template = "USER: {request}"
    request: str
    call_params = OpenAICallParams(model="gpt-4o-mini", tools=[interpreter])


async def main(request: str, model: str | None) -> None:
    overrides = {"model": model} if model else {}
    async with Helper(request=request).stream_async(**overrides) as stream:
        async for event in stream:
            print(event.content, end="", flush=True)
            if isinstance(event, ConfirmationEvent):
                answer = await asyncio.to_thread(input, f"\nRun this {event.language} code? [y/N] ")
                event.approve() if answer.strip().lower() in ("y", "yes") else event.deny()
    print()
    await interpreter.adiscard_session("python")
    await interpreter.adiscard_session("shell")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("request", nargs="?", default="How many files are in the current folder?")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    require_openai_settings()
    asyncio.run(main(args.request, args.model))
