"""SDK loading, API-key checks and client reuse, shared by every provider."""

from __future__ import annotations

import importlib
import os
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable
from contextlib import suppress
from types import ModuleType
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit

from .errors import ConfigurationError, MissingAPIKeyError, MissingDependencyError

ClientT = TypeVar("ClientT")
SyncClientT = TypeVar("SyncClientT")
AsyncClientT = TypeVar("AsyncClientT")

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def require_module(module: str, *, extra: str) -> ModuleType:
    """Import an optional SDK, or explain which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingDependencyError(
            f'{module} is not installed; install it with: pip install "mirastream[{extra}]"',
            extra=extra,
        ) from error


def is_loopback(url: str) -> bool:
    """Whether `url` points at this machine (a local server rarely wants a key)."""
    host = (urlsplit(url).hostname or "").lower()
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


def check_base_url(base_url: str, *, owner: str, from_class: bool, env_var: str | None) -> None:
    """Raise `ConfigurationError` unless `base_url` is an absolute `http(s)://host...` URL.

    A URL without its scheme (`127.0.0.1:8080/v1`) would otherwise be joined to the SDK's
    own address or fail deep in the HTTP library; this says what to write instead.
    """
    source = f"{owner}.base_url" if from_class or env_var is None else env_var
    if not isinstance(base_url, str):
        raise ConfigurationError(f"{source} must be a URL string, not {type(base_url).__name__}")
    parts = urlsplit(base_url.strip())
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return
    if parts.scheme and parts.netloc:
        problem = f"its scheme {parts.scheme!r} is not http or https"
        hint = ""
    else:
        problem = "it has no http:// or https:// scheme"
        hint = f"; write {'http://' + base_url.strip().lstrip('/')!r} (or https://)"
    raise ConfigurationError(f"{source} = {base_url!r} is not a server URL: {problem}{hint}")


def resolve_api_key(
    explicit: str | None,
    *,
    env_var: str,
    default_env_var: str,
    provider: str,
    owner: str,
    base_url: str | None,
    class_base_url: bool,
    home_host: str,
    fallback_env_vars: tuple[str, ...] = (),
    base_url_env: str | None = None,
) -> str:
    """The API key to use: `explicit`, else the environment variable `env_var`.

    When `env_var` is the provider's own variable (`default_env_var`), the provider's
    other variables (`fallback_env_vars`) are read after it. The provider's variables are
    never sent to a `base_url` that a class points at another host: such a class names its
    key with `api_key` or `api_key_env`. A server on a loopback address gets a placeholder
    key when none is set, since local OpenAI-compatible servers usually need none.

    `base_url` is checked first (`check_base_url`; `base_url_env` names the variable it
    came from when the class sets none).

    Raises:
        ConfigurationError: `base_url` is not an `http(s)://` URL.
        MissingAPIKeyError: no usable key; the message says what to set.
    """
    if base_url is not None:
        check_base_url(base_url, owner=owner, from_class=class_base_url, env_var=base_url_env)
    if explicit:
        return explicit
    own_variable = env_var == default_env_var
    foreign = (
        class_base_url
        and own_variable
        and base_url is not None
        and (urlsplit(base_url).hostname or "").lower() != home_host
    )
    if not foreign:
        for name in (env_var, *fallback_env_vars) if own_variable else (env_var,):
            key = os.environ.get(name)
            if key:
                return key
    if base_url is not None and is_loopback(base_url):
        return "no-key-needed"
    if foreign:
        raise MissingAPIKeyError(
            f"{owner} sets base_url = {base_url!r}, and mirastream never sends "
            f"{' or '.join((default_env_var, *fallback_env_vars))} to "
            f"another host: set `api_key` on {owner}, or `api_key_env` to the environment variable "
            "that holds this server's key (for example DASHSCOPE_API_KEY)",
            provider=provider,
            env_var=None,
        )
    also = f" (or {' or '.join(fallback_env_vars)})" if own_variable and fallback_env_vars else ""
    raise MissingAPIKeyError(
        f"no {provider} API key: set the {env_var} environment variable{also}, or set `api_key` "
        f"(or a configured `client`) on {owner}",
        provider=provider,
        env_var=env_var,
    )


class _LoopClients:
    """The async clients made in one event loop, closed when the loop shuts down."""

    __slots__ = ("clients", "closers", "watcher")

    def __init__(self) -> None:
        self.clients: dict[Hashable, Any] = {}
        self.closers: dict[Hashable, Callable[[], Awaitable[None]]] = {}
        self.watcher: AsyncGenerator[None, None] | None = None


class ClientCache:
    """Keeps SDK clients for reuse, so every stream shares one connection pool.

    Sync clients are kept per settings; async clients per settings *and* event loop, since
    an async connection pool cannot outlive the loop it was made in. When a loop shuts down
    (as `asyncio.run` does at its end), its clients are closed and forgotten.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sync: dict[Hashable, Any] = {}
        self._async: weakref.WeakKeyDictionary[Any, _LoopClients] = weakref.WeakKeyDictionary()

    def sync_client(self, key: Hashable, factory: Callable[[], ClientT]) -> ClientT:
        """The sync client for `key`, made by `factory` on first use."""
        with self._lock:
            client = self._sync.get(key)
            if client is None:
                client = self._sync[key] = factory()
            return client

    def async_client(
        self, key: Hashable, factory: Callable[[], tuple[ClientT, Callable[[], Awaitable[None]]]]
    ) -> ClientT:
        """The async client for `key` in the running event loop, made on first use.

        `factory` returns the new client and the coroutine function that closes it.
        """
        import asyncio

        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._async.get(loop)
            if entry is None:
                entry = self._async[loop] = _LoopClients()
                entry.watcher = self._close_at_shutdown(loop, entry)
                # One step runs it to its `yield`; the loop now finalises it at shutdown.
                with suppress(StopIteration):
                    entry.watcher.asend(None).send(None)
            client = entry.clients.get(key)
            if client is None:
                client, closer = factory()
                entry.clients[key] = client
                entry.closers[key] = closer
            return client

    async def discard_async(self, key: Hashable) -> None:
        """Close and forget the async client for `key` in the running event loop, if any."""
        import asyncio

        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._async.get(loop)
            if entry is None or key not in entry.clients:
                return
            del entry.clients[key]
            closer = entry.closers.pop(key)
        await closer()

    async def _close_at_shutdown(self, loop: object, entry: _LoopClients) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                self._async.pop(loop, None)
            failures: list[Exception] = []
            for closer in list(entry.closers.values()):
                try:
                    await closer()
                except Exception as error:  # close the others, then report the first failure
                    failures.append(error)
            entry.clients.clear()
            entry.closers.clear()
            if failures:
                raise failures[0]


class ClientSettings(Protocol):
    """The class attributes of a prompt class that choose its SDK client."""

    @property
    def api_key(self) -> str | None: ...
    @property
    def api_key_env(self) -> str: ...
    @property
    def base_url(self) -> str | None: ...
    @property
    def client(self) -> Any: ...
    @property
    def async_client(self) -> Any: ...


def _name(prompt_class: ClientSettings) -> str:
    return getattr(prompt_class, "__name__", type(prompt_class).__name__)


class DefaultClients(Generic[SyncClientT, AsyncClientT]):
    """The SDK clients of a provider whose SDK has one sync and one async client class.

    A prompt class's own `client` / `async_client` win; otherwise shared default clients
    are made from its `api_key` / `api_key_env` / `base_url` (or the SDK's environment
    variables) on first use and reused.
    """

    def __init__(
        self,
        *,
        provider: str,
        module: str,
        sync_class: str,
        async_class: str,
        api_key_env: str,
        base_url_env: str,
        home_host: str,
    ) -> None:
        self.provider = provider
        self._module = module
        self._sync_class = sync_class
        self._async_class = async_class
        self._api_key_env = api_key_env
        self._base_url_env = base_url_env
        self._home_host = home_host
        self._cache = ClientCache()
        self._async_factories: dict[tuple[str, str | None], Callable[[], AsyncClientT]] = {}

    def settings(self, prompt_class: ClientSettings) -> tuple[str, str | None]:
        """The API key and base URL for `prompt_class`; raises `MissingAPIKeyError`."""
        base_url = prompt_class.base_url or os.environ.get(self._base_url_env) or None
        api_key = resolve_api_key(
            prompt_class.api_key,
            env_var=prompt_class.api_key_env,
            default_env_var=self._api_key_env,
            provider=self.provider,
            owner=_name(prompt_class),
            base_url=base_url,
            class_base_url=prompt_class.base_url is not None,
            home_host=self._home_host,
            base_url_env=self._base_url_env,
        )
        return api_key, base_url

    def _sdk_class(self, name: str) -> Any:
        return getattr(require_module(self._module, extra=self.provider), name)

    def sync_client(self, prompt_class: ClientSettings) -> SyncClientT:
        """The sync client for `prompt_class`: its own `client`, or a shared default."""
        if prompt_class.client is not None:
            return prompt_class.client  # type: ignore[no-any-return]
        api_key, base_url = self.settings(prompt_class)
        sdk_class = self._sdk_class(self._sync_class)
        client: SyncClientT = self._cache.sync_client(
            (api_key, base_url), lambda: sdk_class(api_key=api_key, base_url=base_url, max_retries=0)
        )
        return client

    def async_client_factory(self, prompt_class: ClientSettings) -> Callable[[], AsyncClientT]:
        """A function returning the async client to use in the running event loop.

        The key check and SDK import happen now; the client itself is made (or reused)
        inside the event loop that sends the request.
        """
        explicit = prompt_class.async_client
        if explicit is not None:
            return lambda: explicit
        if prompt_class.client is not None:
            raise ConfigurationError(
                f"{_name(prompt_class)} sets `client` but not `async_client`; set `async_client` "
                f"(a {self._module}.{self._async_class}) to use stream_async()",
                provider=self.provider,
            )
        key = self.settings(prompt_class)
        factory = self._async_factories.get(key)
        if factory is None:
            api_key, base_url = key
            module = require_module(self._module, extra=self.provider)
            sdk_class = getattr(module, self._async_class)

            def make() -> tuple[AsyncClientT, Callable[[], Awaitable[None]]]:
                from ._pool_shards import SDK_LIMITS, ShardedTransport

                # The SDK's own HTTP client and limits, over pools that scale to many streams.
                transport = ShardedTransport(getattr(module, "DEFAULT_CONNECTION_LIMITS", SDK_LIMITS))
                http_client = module.DefaultAsyncHttpxClient(transport=transport)
                client = sdk_class(api_key=api_key, base_url=base_url, max_retries=0, http_client=http_client)
                return client, client.close

            # One factory per settings, shared by every stream that uses them.
            factory = self._async_factories[key] = lambda: self._cache.async_client(key, make)
        return factory
