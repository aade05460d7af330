"""Retry with your own tenacity policy, bound every wait with timeouts, keep what arrived on failure.

OPENAI_API_KEY=sk-...  python examples/retries_and_timeouts.py
python examples/retries_and_timeouts.py --idle 0.01    # an impatient idle timeout, to see one fire

mirastream retries only before the first chunk reaches you, so no text is ever shown twice.
After that, a failure is raised as a typed error that carries the partial response.
"""

from __future__ import annotations

import argparse
import sys

import tenacity
from _setup import prompt_class

from mirastream import Timeouts
from mirastream.errors import MirastreamError, RateLimitError
from mirastream.retries import is_retryable

Prompt = prompt_class()  # OpenAIPrompt, AnthropicPrompt, GeminiPrompt or LocalPrompt


def report_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0
    print(f"[attempt {state.attempt_number}: {error}; retrying in {wait:.1f} s]", file=sys.stderr)


class RecipeRecommender(Prompt):
    prompt_template = """
    SYSTEM: You are a chef who answers briefly.
    USER: Recommend recipes that use {ingredient} as an ingredient
    """
    ingredient: str
    retries = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(4) | tenacity.stop_after_delay(60),
        wait=tenacity.wait_exponential(multiplier=0.5, max=10),
        retry=tenacity.retry_if_exception(is_retryable),  # 429, 5xx, timeouts, connection errors
        before_sleep=report_retry,
        reraise=True,
    )
    timeouts = Timeouts(connect=5, first_chunk=120, idle=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ingredient", nargs="?", default="apples")
    parser.add_argument("--model", help="model name (default: the provider's)")
    parser.add_argument("--idle", type=float, help="the longest silence allowed between chunks, in seconds")
    args = parser.parse_args()

    overrides = {"model": args.model} if args.model else {}
    # Per call, instead of the class's timeouts (None keeps the class's).
    timeouts = Timeouts(connect=5, first_chunk=120, idle=args.idle) if args.idle else None
    stream = RecipeRecommender(ingredient=args.ingredient).stream(timeouts=timeouts, **overrides)
    try:
        for chunk in stream:
            print(chunk.content, end="", flush=True)
    except RateLimitError as error:  # still rate limited after the last attempt
        print(f"[rate limited: {error} (retry after {error.retry_after} s)]")
        return 1
    except MirastreamError as error:  # APITimeoutError, StreamInterrupted, ServerError, ...
        partial = error.response or stream.response
        print(f"\n[{type(error).__name__}: {error}; kept the {len(partial.text)} characters that arrived]")
        return 1
    print(f"\n[done in {stream.response.duration:.1f} s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
