"""Stop a stream from another thread, as a stop button does: press Enter while the story streams.

OPENAI_API_KEY=sk-...  python examples/stop_button.py "a lighthouse keeper"
python examples/stop_button.py    # no key: the local model

`stream.close()` may be called from any thread: the connection is shut at once, the loop
that reads the stream simply ends, and `stream.response` keeps what had arrived.
"""

from __future__ import annotations

import argparse
import threading
from typing import Any

from _setup import prompt_class

from mirastream import Stream

Prompt = prompt_class()  # OpenAIPrompt, AnthropicPrompt, GeminiPrompt or LocalPrompt


class Storyteller(Prompt):
    prompt_template = "USER: Tell a long story about {topic}."
    topic: str


def stop_button(stream: Stream[Any]) -> None:
    """Wait for Enter, then stop the stream (a GUI would call `close()` from its click handler)."""
    try:
        input()
    except EOFError:  # no terminal: no button to press
        return
    stream.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topic", nargs="?", default="a lighthouse keeper")
    parser.add_argument("--model", help="model name (default: the provider's)")
    args = parser.parse_args()

    overrides = {"model": args.model} if args.model else {}
    stream = Storyteller(topic=args.topic).stream(**overrides)
    print("(press Enter to stop)\n")
    threading.Thread(target=stop_button, args=(stream,), daemon=True).start()
    for chunk in stream:
        print(chunk.content, end="", flush=True)

    response = stream.response
    if response.interrupted:
        print(f"\n\n[stopped: kept {len(response.text)} characters]")
    else:
        print(f"\n\n[the end: {response.finish_reason}]")


if __name__ == "__main__":
    main()
