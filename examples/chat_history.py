"""A multi-turn chat: each turn sends the conversation so far (`MESSAGES: {history}`).

OPENAI_API_KEY=sk-...  python examples/chat_history.py
python examples/chat_history.py    # no key: the local model

Type a message and press Enter; an empty line or Ctrl-D ends the chat.
"""

from __future__ import annotations

import argparse

from _setup import prompt_class

from mirastream import Message

Prompt = prompt_class()  # OpenAIPrompt, AnthropicPrompt, GeminiPrompt or LocalPrompt


class Chat(Prompt):
    prompt_template = """
    SYSTEM: You are a friendly assistant who answers in one or two sentences.
    MESSAGES: {history}
    USER: {message}
    """
    history: list[Message]
    message: str


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model name (default: the provider's)")
    args = parser.parse_args()

    overrides = {"model": args.model} if args.model else {}
    history: list[Message] = []
    while True:
        try:
            message = input("you> ").strip()
        except EOFError:  # Ctrl-D
            print()
            break
        if not message:
            break
        print("model> ", end="", flush=True)
        stream = Chat(message=message, history=history).stream(**overrides)
        for chunk in stream:
            print(chunk.content, end="", flush=True)
        print()
        # The user's message, then everything the answer adds (with tools: each call and its result).
        history += [Message(role="user", content=message), *stream.response.messages()]
    print(f"[{len(history)} messages in the conversation]")


if __name__ == "__main__":
    main()
