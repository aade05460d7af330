"""`serve()`: point prompt classes at a replay server for the length of a `with` block."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Union

from ..errors import ConfigurationError
from ._server import Provider, ReplayServer

if TYPE_CHECKING:
    from ..prompts import BasePrompt

PROVIDERS: tuple[Provider, ...] = ("openai", "anthropic", "gemini")

# Per provider: the base-URL variable, the API-key variable and the stand-in key set there.
_ENVIRONMENT: dict[str, tuple[str, str, str]] = {
    "openai": ("OPENAI_BASE_URL", "OPENAI_API_KEY", "sk-mirastream-test"),
    "anthropic": ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "sk-ant-mirastream-test"),
    "gemini": ("GOOGLE_GEMINI_BASE_URL", "GEMINI_API_KEY", "mirastream-test-key"),
}
# Variables the SDKs would otherwise send along (a bearer token, account identifiers).
_CLEARED: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID"),
    "anthropic": ("ANTHROPIC_AUTH_TOKEN",),
    "gemini": (),
}

Target = Union["type[BasePrompt]", Provider]
"""A prompt class, or the name of a provider (`"openai"`, `"anthropic"`, `"gemini"`)."""


def provider_of(target: object) -> Provider:
    """The provider a prompt class (or a provider name) streams from.

    Raises:
        ConfigurationError: `target` is neither a provider's prompt class nor a provider name.
    """
    if isinstance(target, str):
        if target in PROVIDERS:
            return target
        raise ConfigurationError(f"unknown provider {target!r}; use one of: {', '.join(PROVIDERS)}")
    from ..anthropic import AnthropicPrompt
    from ..gemini import GeminiLegacyPrompt, GeminiPrompt
    from ..openai import OpenAIPrompt, OpenAIResponsesPrompt

    if isinstance(target, type):
        if issubclass(target, (OpenAIPrompt, OpenAIResponsesPrompt)):
            return "openai"
        if issubclass(target, AnthropicPrompt):
            return "anthropic"
        if issubclass(target, (GeminiPrompt, GeminiLegacyPrompt)):
            return "gemini"
    raise ConfigurationError(
        "serve() takes prompt classes of a provider (OpenAIPrompt, OpenAIResponsesPrompt, "
        f"AnthropicPrompt, GeminiPrompt, GeminiLegacyPrompt subclasses) or provider names, not {target!r}"
    )


class _Binding:
    """The environment variables and class attributes changed by `serve()`, to restore later."""

    def __init__(self) -> None:
        self._environment: dict[str, str | None] = {}
        self._attributes: list[tuple[type[Any], str, bool, Any]] = []

    def set_variable(self, name: str, value: str | None) -> None:
        if name not in self._environment:
            self._environment[name] = os.environ.get(name)
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value

    def set_attribute(self, owner: type[Any], name: str, value: Any) -> None:
        had_own = name in owner.__dict__
        self._attributes.append((owner, name, had_own, owner.__dict__.get(name)))
        setattr(owner, name, value)

    def restore(self) -> None:
        for owner, name, had_own, previous in reversed(self._attributes):
            if had_own:
                setattr(owner, name, previous)
            else:
                delattr(owner, name)
        self._attributes.clear()
        for name, previous in self._environment.items():
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous
        self._environment.clear()


def _bind_class(binding: _Binding, prompt_class: type[Any], provider: Provider, server: ReplayServer) -> None:
    name = prompt_class.__name__
    own_client = [
        attribute
        for attribute in ("client", "async_client")
        if getattr(prompt_class, attribute, None) is not None
    ]
    if own_client:
        raise ConfigurationError(
            f"{name} uses its own SDK client ({' and '.join(own_client)}), which serve() cannot redirect; "
            f"in the test, give it a client made with base_url=server.base_url({provider!r})"
        )
    if getattr(prompt_class, "api_key", None) is None:
        binding.set_variable(prompt_class.api_key_env, _ENVIRONMENT[provider][2])
    if getattr(prompt_class, "base_url", None) is not None:
        # The class pins its own server, so the environment does not reach it.
        binding.set_attribute(prompt_class, "base_url", server.base_url(provider))


@contextmanager
def serve(*targets: Target, server: ReplayServer | None = None, check: bool = True) -> Iterator[ReplayServer]:
    """Point prompt classes (or whole providers) at a replay server inside a `with` block.

    ```python
    with serve(RecipeRecommender) as server:
        server.queue(Turn(Text("Apple pie.")))
        assert RecipeRecommender(ingredient="apples").stream().collect().text == "Apple pie."
    ```

    For each provider it sets the SDK's base-URL variable (`OPENAI_BASE_URL`,
    `ANTHROPIC_BASE_URL`, `GOOGLE_GEMINI_BASE_URL`) to the server and the API-key variable
    to a stand-in key, so no real key reaches even the local server. A class that sets its
    own `base_url` gets the server's URL in its place, and a class that reads its key from
    another variable (`api_key_env`) gets a stand-in key there. Everything is restored on
    exit. mirastream keeps its shared SDK clients per base URL, so a class talks to the
    server inside the block and to its real endpoint again after it.

    Args:
        targets: prompt classes or provider names; none means every provider.
        server: a running server to use; by default a new one, stopped on exit.
        check: on a clean exit, fail (`AssertionError`) if a request found no reply or
            queued replies were left unused (see `ReplayServer.check`).

    Raises:
        ConfigurationError: a target is not a provider's prompt class, or it uses its own
            SDK client, which the server cannot replace.
    """
    resolved = [(provider_of(target), target) for target in targets] or [(p, p) for p in PROVIDERS]
    owned = server is None
    active = (ReplayServer() if server is None else server).start()
    binding = _Binding()
    try:
        for provider in dict.fromkeys(provider for provider, _ in resolved):
            base_url_variable, key_variable, stand_in = _ENVIRONMENT[provider]
            binding.set_variable(base_url_variable, active.base_url(provider))
            binding.set_variable(key_variable, stand_in)
            for variable in _CLEARED[provider]:
                binding.set_variable(variable, None)
        for provider, target in resolved:
            if isinstance(target, type):
                _bind_class(binding, target, provider, active)
    except BaseException:
        binding.restore()
        if owned:
            active.stop()
        raise
    try:
        yield active
        if check:
            active.check()
    finally:
        binding.restore()
        if owned:
            active.stop()
