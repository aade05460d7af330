"""The Gemini SDK clients mirastream uses: yours, or shared defaults made on first use."""

from __future__ import annotations

import os
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from .._clients import ClientCache, require_module, resolve_api_key

if TYPE_CHECKING:
    from google.genai import Client

API_KEY_ENV = "GEMINI_API_KEY"
SDK_API_KEY_ENV = "GOOGLE_API_KEY"
BASE_URL_ENV = "GOOGLE_GEMINI_BASE_URL"
HOME_HOST = "generativelanguage.googleapis.com"

_CLIENTS = ClientCache()


class GeminiSettings(Protocol):
    """The class attributes that choose a Gemini client (a prompt class)."""

    __name__: str
    api_key: str | None
    api_key_env: str
    base_url: str | None


def settings(prompt_class: GeminiSettings) -> tuple[str, str | None]:
    """The API key and base URL of `prompt_class`.

    The key is the class's `api_key`, else the variable its `api_key_env` names; with the
    default `GEMINI_API_KEY` unset, `GOOGLE_API_KEY` is read as the SDK reads it. Neither
    variable is sent to another host that the class's `base_url` points at.

    Raises:
        MissingAPIKeyError: no usable key; the message says what to set.
    """
    base_url = prompt_class.base_url or os.environ.get(BASE_URL_ENV) or None
    api_key = resolve_api_key(
        prompt_class.api_key,
        env_var=prompt_class.api_key_env,
        default_env_var=API_KEY_ENV,
        fallback_env_vars=(SDK_API_KEY_ENV,),
        provider="gemini",
        owner=prompt_class.__name__,
        base_url=base_url,
        class_base_url=prompt_class.base_url is not None,
        home_host=HOME_HOST,
        base_url_env=BASE_URL_ENV,
    )
    return api_key, base_url


def _new_client(api_key: str, base_url: str | None, **http_options: Any) -> Client:
    from google import genai
    from google.genai import types

    if base_url is not None:
        http_options["base_url"] = base_url
    # vertexai=False: the Gemini Developer API, whatever GOOGLE_GENAI_USE_VERTEXAI says.
    return genai.Client(
        api_key=api_key,
        vertexai=False,
        http_options=types.HttpOptions(**http_options) if http_options else None,
    )


class GeminiClients(NamedTuple):
    """The SDK client a prompt class streams with, and the HTTP client under it.

    `http` is set for mirastream's default clients, which send the requests the SDK
    prepares through it (see `_http`); it is `None` for a `client` of your own, whose
    stream the SDK reads itself.
    """

    sdk: Client
    http: Any = None

    def close(self) -> None:
        """Close both clients (sync clients only)."""
        self.sdk.close()
        if self.http is not None:
            self.http.close()  # the SDK leaves a client it was given open


def sync_clients(prompt_class: Any) -> GeminiClients:
    """The clients for `stream()`: the class's own `client`, or shared defaults."""
    if prompt_class.client is not None:
        return GeminiClients(prompt_class.client)
    api_key, base_url = settings(prompt_class)
    require_module("google.genai", extra="gemini")

    def make() -> GeminiClients:
        from ._http import PreparingClient

        http_client = PreparingClient()
        client = _new_client(api_key, base_url, httpx_client=http_client)
        # The SDK leaves a client it was given open: close its pool when the SDK's goes (or at exit).
        weakref.finalize(client, http_client.close)
        return GeminiClients(client, http_client)

    return _CLIENTS.sync_client((api_key, base_url), make)


def async_clients_factory(prompt_class: Any) -> Callable[[], GeminiClients]:
    """A function returning the clients for `stream_async()` in the running event loop.

    The key check and SDK import happen now. Default clients are made (or reused) per
    event loop.
    """
    if prompt_class.client is not None:
        clients = GeminiClients(prompt_class.client)
        return lambda: clients
    api_key, base_url = settings(prompt_class)
    require_module("google.genai", extra="gemini")

    def make() -> tuple[GeminiClients, Callable[[], Awaitable[None]]]:
        from .._pool_shards import SDK_LIMITS, ShardedTransport
        from ._http import AsyncPreparingClient

        # The connection limits of the OpenAI and Anthropic SDKs, over pools that scale to many streams.
        http_client = AsyncPreparingClient(transport=ShardedTransport(SDK_LIMITS))
        client = _new_client(api_key, base_url, httpx_async_client=http_client)

        async def close() -> None:
            await client.aio.aclose()
            await http_client.aclose()  # the SDK leaves a client it was given open

        return GeminiClients(client, http_client), close

    return lambda: _CLIENTS.async_client((api_key, base_url), make)
