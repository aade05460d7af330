"""Shared by the examples: stop with a clear message when no model is configured."""

from __future__ import annotations

import os
import sys


def require_openai_settings() -> None:
    """Exit (status 2) explaining what to set, unless OPENAI_API_KEY or OPENAI_BASE_URL is set."""
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        return
    print(
        "This example needs a model to talk to, and none is configured:\n"
        "  - set OPENAI_API_KEY to use OpenAI, or\n"
        "  - set OPENAI_BASE_URL to any OpenAI-compatible server and pass --model.",
        file=sys.stderr,
    )
    sys.exit(2)
