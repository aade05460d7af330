"""Stop async streams from elsewhere: cancel the task that reads one, or `aclose()` it from another task.

OPENAI_API_KEY=sk-...  python examples/cancel_async.py --after 2
python examples/cancel_async.py    # no key: the local model

A chat server does both: it cancels a request's task when the user leaves, and closes a
stream when a "stop" message arrives on another connection. Either way the HTTP response
is released at once, and `stream.response` keeps what had arrived (marked `interrupted`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

from _setup import prompt_class

from mirastream import AsyncStream

Prompt = prompt_class()  # OpenAIPrompt, AnthropicPrompt, GeminiPrompt or LocalPrompt


class Storyteller(Prompt):
    prompt_template = "USER: Tell a long story about {topic}."
    topic: str


async def tell(stream: AsyncStream[Any]) -> None:
    async with stream:
        async for chunk in stream:
            print(chunk.content, end="", flush=True)


async def close_later(stream: AsyncStream[Any], seconds: float) -> None:
    await asyncio.sleep(seconds)
    await stream.aclose()  # the reader's `async for` simply ends


async def main(topic: str, seconds: float, overrides: dict[str, Any]) -> None:
    # 1. Cancel the task that reads the stream.
    stream = Storyteller(topic=topic).stream_async(**overrides)
    task = asyncio.create_task(tell(stream))
    await asyncio.sleep(seconds)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    print(f"\n[task cancelled after {seconds} s; kept {len(stream.response.text)} characters]\n")

    # 2. Close the stream from another task, while this one reads it.
    stream = Storyteller(topic=topic).stream_async(**overrides)
    closer = asyncio.create_task(close_later(stream, seconds))
    await tell(stream)
    await closer
    kept = len(stream.response.text)
    print(f"\n[closed from another task: interrupted={stream.response.interrupted}, kept {kept} characters]")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topic", nargs="?", default="a lighthouse keeper")
    parser.add_argument("--after", type=float, default=5.0, help="seconds before stopping each stream")
    parser.add_argument("--model", help="model name (default: the provider's)")
    args = parser.parse_args()
    asyncio.run(main(args.topic, args.after, {"model": args.model} if args.model else {}))
