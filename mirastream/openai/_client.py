"""The OpenAI SDK clients mirastream uses: yours, or shared defaults made on first use."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._clients import ClientCache, require_module, resolve_api_key
from ..errors import ConfigurationError

if TYPE_CHECKING:
    from openai import AsyncOpenAI, OpenAI

    from .prompt import OpenAIPrompt

API_KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"

_CLIENTS = ClientCache()


def _settings(prompt_class: type[OpenAIPrompt]) -> tuple[str, str | None]:
    base_url = prompt_class.base_url or os.environ.get(BASE_URL_ENV) or None
    api_key = resolve_api_key(
        prompt_class.api_key,
        env_var=prompt_class.api_key_env,
        default_env_var=API_KEY_ENV,
        provider="openai",
        owner=prompt_class.__name__,
        base_url=base_url,
        class_base_url=prompt_class.base_url is not None,
        home_host="api.openai.com",
    )
    return api_key, base_url


def sync_client(prompt_class: type[OpenAIPrompt]) -> OpenAI:
    """The client for `prompt_class`: its own `client`, or a shared default."""
    if prompt_class.client is not None:
        return prompt_class.client
    api_key, base_url = _settings(prompt_class)
    require_module("openai", extra="openai")
    from openai import OpenAI

    return _CLIENTS.sync_client((api_key, base_url), lambda: OpenAI(api_key=api_key, base_url=base_url))


def async_client_factory(prompt_class: type[OpenAIPrompt]) -> Callable[[], AsyncOpenAI]:
    """A function returning the async client to use in the running event loop.

    The key check and SDK import happen now; the client itself is made (or reused) inside
    the event loop that sends the request.
    """
    explicit = prompt_class.async_client
    if explicit is not None:
        return lambda: explicit
    if prompt_class.client is not None:
        raise ConfigurationError(
            f"{prompt_class.__name__} sets `client` but not `async_client`; set `async_client` "
            "(an openai.AsyncOpenAI) to use stream_async()",
            provider="openai",
        )
    api_key, base_url = _settings(prompt_class)
    require_module("openai", extra="openai")
    from openai import AsyncOpenAI

    return lambda: _CLIENTS.async_client(
        (api_key, base_url), lambda: AsyncOpenAI(api_key=api_key, base_url=base_url)
    )
