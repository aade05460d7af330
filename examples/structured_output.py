"""Get validated, typed data from the model: give it a pydantic model as a tool.

OPENAI_API_KEY=sk-...  python examples/structured_output.py "Ada Lovelace met Charles Babbage in 1833."
python examples/structured_output.py    # no key: the local model

The model "calls" the `Person` tool once per person it finds; mirastream validates each
call against the model class. Invalid arguments go back to the model as a tool error, so it
corrects itself; the valid ones are read back from the response's steps.
"""

from __future__ import annotations

import argparse

from _setup import prompt_class
from pydantic import BaseModel, Field

Prompt = prompt_class()  # OpenAIPrompt, AnthropicPrompt, GeminiPrompt or LocalPrompt


class Person(BaseModel):
    """Record a person mentioned in the text."""

    name: str = Field(description="the person's full name")
    born: int | None = Field(default=None, description="the year of birth, if the text gives it")
    occupation: str | None = None


class Extractor(Prompt):
    prompt_template = """
    SYSTEM: Record every person the text mentions with the Person tool, then reply "Done."
    USER: {text}
    """
    text: str
    call_params = Prompt.call_params.with_overrides(tools=[Person])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "text",
        nargs="?",
        default="Grace Hopper, a computer scientist born in 1906, worked with Howard Aiken on the Mark I.",
    )
    parser.add_argument("--model", help="model name (default: the provider's)")
    args = parser.parse_args()

    overrides = {"model": args.model} if args.model else {}
    response = Extractor(text=args.text).stream(**overrides).collect()

    people: list[Person] = []
    for step in response.steps:
        for result in step.results:
            if result.is_error:
                print(f"[the model's call was rejected and sent back: {result.output}]")
            else:
                people.append(Person.model_validate_json(result.output))
    for person in people:
        print(repr(person))
    print(f"model: {response.text}")


if __name__ == "__main__":
    main()
