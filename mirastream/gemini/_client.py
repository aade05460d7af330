"""The Gemini SDK clients mirastream uses: yours, or shared defaults made on first use."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

from .._clients import ClientCache, require_module, resolve_api_key
from .._connections import Connections, RequestSockets

if TYPE_CHECKING:
    import httpx2
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


def sync_client(prompt_class: Any) -> Client:
    """The `google.genai.Client` for `prompt_class`: its own `client`, or a shared default."""
    if prompt_class.client is not None:
        client: Client = prompt_class.client
        return client
    api_key, base_url = settings(prompt_class)
    require_module("google.genai", extra="gemini")
    # The SDK makes (and closes) the HTTP client; the hook lets a `ResponseTracker` stop a stream.
    hooks = {"event_hooks": {"response": [_record_sync_response]}}
    return _CLIENTS.sync_client(
        (api_key, base_url), lambda: _new_client(api_key, base_url, client_args=hooks)
    )


def async_client_factory(prompt_class: Any) -> Callable[[], Client]:
    """A function returning the client whose `.aio` streams in the running event loop.

    The key check and SDK import happen now. A default client is made (or reused) per event
    loop, with an HTTP client that lets a `ResponseTracker` release a stream's connection.
    """
    if prompt_class.client is not None:
        client: Client = prompt_class.client
        return lambda: client
    api_key, base_url = settings(prompt_class)
    require_module("google.genai", extra="gemini")

    def make() -> tuple[Client, Callable[[], Awaitable[None]]]:
        import httpx2

        http_client = httpx2.AsyncClient(
            # The pool limits of the OpenAI and Anthropic SDKs (httpx's own default is 100).
            limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100),
            event_hooks={"response": [_record_response]},
        )
        client = _new_client(api_key, base_url, httpx_async_client=http_client)

        async def close() -> None:
            await client.aio.aclose()
            await http_client.aclose()  # the SDK leaves a client it was given open

        return client, close

    return lambda: _CLIENTS.async_client((api_key, base_url), make)


# Closing the SDK's async stream early does not close its HTTP response: the SDK's
# async generators keep it in a reference cycle until the garbage collector runs. The
# default clients therefore record each response with the stream that sent it: the
# stream closes them itself, and can shut their connections down from another thread.
_TRACKER: ContextVar[ResponseTracker | None] = ContextVar("mirastream_gemini_tracker", default=None)


def _record_sync_response(response: httpx2.Response) -> None:
    tracker = _TRACKER.get()
    if tracker is not None:
        tracker.sockets.add_response(response)


async def _record_response(response: httpx2.Response) -> None:
    tracker = _TRACKER.get()
    if tracker is not None and not tracker.closed:
        tracker.responses.append(response)
        tracker.sockets.add_response(response)


class ResponseTracker:
    """The HTTP responses a default async client received while the tracker was active."""

    __slots__ = ("closed", "responses", "sockets")

    def __init__(self, connections: Connections) -> None:
        self.closed = False
        self.responses: list[httpx2.Response] = []
        self.sockets = RequestSockets(connections)  # for `Connections.abort`

    @contextmanager
    def active(self) -> Iterator[None]:
        """Record the responses received inside the block (in this context)."""
        token = _TRACKER.set(self)
        try:
            yield
        finally:
            with suppress(ValueError):  # left from another context: nothing to restore
                _TRACKER.reset(token)

    async def aclose(self) -> None:
        """Close every recorded response, releasing its connection; record no more."""
        self.closed = True
        self.sockets.forget()
        while self.responses:
            await self.responses.pop().aclose()
